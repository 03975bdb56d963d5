#include "engine/limits.h"

namespace bitcask::engine {

std::string Printable(std::string_view key) {
  std::string out = "'";
  for (size_t i = 0; i < key.size() && i < 40; i++) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (key.size() > 40) out += "...";
  return out + "'";
}

Status KeyTooLong(std::string_view key) {
  return Status::InvalidArgument("key " + Printable(key) + " is " + std::to_string(key.size()) +
                                 " bytes; keys are limited to " +
                                 std::to_string(format::kMaxKeySize) + " bytes");
}

Status ValueTooLong(std::string_view key, std::string_view value) {
  return Status::InvalidArgument("value of key " + Printable(key) + " is " +
                                 std::to_string(value.size()) + " bytes; values are limited to " +
                                 std::to_string(format::kMaxValueSize) + " bytes (1 GiB)");
}

}  // namespace bitcask::engine

namespace bitcask {

Status ValidateKey(std::string_view key) { return engine::ValidateKey(key); }
Status ValidateValue(std::string_view key, std::string_view value) {
  return engine::ValidateValue(key, value);
}

}  // namespace bitcask
