// The limits on keys and values every write checks, with the errors that name the key. The
// engine checks them before it writes; bitcask-server's transactions check them when a
// command runs, before the transaction's one batch is written.

#ifndef BITCASK_ENGINE_LIMITS_H_
#define BITCASK_ENGINE_LIMITS_H_

#include <string>
#include <string_view>

#include "bitcask/status.h"
#include "engine/format.h"

namespace bitcask::engine {

// A key as it can appear in an error message: printable bytes, escapes, at most 40 of them.
std::string Printable(std::string_view key);

// The messages, out of line: the checks below run on every operation and should cost a
// compare.
[[gnu::cold, gnu::noinline]] Status KeyTooLong(std::string_view key);
[[gnu::cold, gnu::noinline]] Status ValueTooLong(std::string_view key, std::string_view value);

inline Status ValidateKey(std::string_view key) {
  if (key.size() > format::kMaxKeySize) [[unlikely]]
    return KeyTooLong(key);
  return Status::OK();
}

inline Status ValidateValue(std::string_view key, std::string_view value) {
  if (value.size() > format::kMaxValueSize) [[unlikely]]
    return ValueTooLong(key, value);
  return Status::OK();
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_LIMITS_H_
