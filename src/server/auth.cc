#include "server/auth.h"

#include "util/text.h"

namespace bitcask::server {

bool AuthRequired(const ServerConfig& config) { return !config.requirepass.empty(); }

namespace {

// Equal in time that depends on the lengths only, not on where the bytes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++) {
    if ((s[i] | 0x20) != (prefix[i] | 0x20)) return false;
  }
  return true;
}

}  // namespace

bool CredentialsValid(const ServerConfig& config, std::string_view user,
                      std::string_view password) {
  if (!AuthRequired(config)) return user == "default";
  const bool password_ok = ConstantTimeEquals(password, config.requirepass);
  return user == "default" && password_ok;
}

std::optional<Credentials> ParseAuthorizationHeader(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (StartsWithNoCase(header, "bearer ")) {
    header.remove_prefix(7);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    return Credentials{"default", std::string(header)};
  }
  if (StartsWithNoCase(header, "basic ")) {
    header.remove_prefix(6);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    const std::optional<std::string> decoded = util::Base64Decode(header);
    if (!decoded) return std::nullopt;
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
  }
  return std::nullopt;
}

}  // namespace bitcask::server
