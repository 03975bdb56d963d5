// Text encodings the tools and the server share: base64 (RFC 4648) and a strict UTF-8 check.

#ifndef BITCASK_UTIL_TEXT_H_
#define BITCASK_UTIL_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

namespace bitcask::util {

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);
// The bytes base64 text stands for; nothing for text that is not standard padded base64.
std::optional<std::string> Base64Decode(std::string_view text);

// s between double quotes, with \\ \" \n \r \t escaped and other bytes below 0x20 as
// \u00XX (a JSON string literal: bytes from 0x80 pass as they are), or, with hex_bytes, every
// byte below 0x20 or from 0x7f as \xHH (Redis's quoting, which its config file reader and
// redis-cli undo).
std::string Quote(std::string_view s, bool hex_bytes = false);

// Whether bytes are well-formed UTF-8 as RFC 3629 defines it (and as JSON libraries and
// Python accept it): no overlong forms (C0 80), no surrogates (ED A0 80), nothing past
// U+10FFFF, no stray continuation bytes.
bool IsValidUtf8(std::string_view bytes);

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_TEXT_H_
