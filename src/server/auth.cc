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

const char kProtectedModeError[] =
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need to "
    "do one of the above things in order for the server to start accepting connections from the "
    "outside.";

bool ProtectedModeRefuses(const ServerConfig& config, std::string_view peer_ip) {
  if (!config.protected_mode || AuthRequired(config)) return false;
  if (peer_ip.starts_with("::ffff:")) peer_ip.remove_prefix(7);  // IPv4 mapped into IPv6
  const bool loopback = peer_ip.starts_with("127.") || peer_ip == "::1";
  return !loopback;
}

}  // namespace bitcask::server
