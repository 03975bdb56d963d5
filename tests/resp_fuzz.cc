// libFuzzer target for the RESP parser: `make fuzz` builds it with clang
// (-fsanitize=fuzzer,address,undefined) and runs it. Every input must be consumed as a
// sequence of commands, a request for more bytes, or a protocol error, without reading out of
// bounds, and with the parser's own promises kept.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/resp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bitcask::server::RespParser;
  bitcask::server::RespLimits limits;
  limits.max_bulk_bytes = 1 << 16;
  limits.max_args = 1 << 10;
  limits.max_inline_bytes = 1 << 12;
  const RespParser parser(limits);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> args;
  std::vector<std::string> storage;
  std::string error;
  while (!in.empty()) {
    size_t consumed = 0;
    const auto r = parser.Parse(in, &args, &consumed, &error, &storage);
    if (r == RespParser::Result::kError) {
      if (error.rfind("ERR Protocol error", 0) != 0) std::abort();
      break;
    }
    if (r == RespParser::Result::kNeedMore) {
      if (consumed <= in.size()) std::abort();  // the hint must ask for more than there is
      break;
    }
    if (consumed == 0 || consumed > in.size()) std::abort();
    for (std::string_view a : args) {
      // Every argument lies inside the input or inside the unescaped storage.
      const bool in_input = a.data() >= in.data() && a.data() + a.size() <= in.data() + in.size();
      bool in_storage = false;
      for (const auto& s : storage) in_storage |= a.data() == s.data() && a.size() == s.size();
      if (!in_input && !in_storage && !a.empty()) std::abort();
    }
    in.remove_prefix(consumed);
  }
  return 0;
}
