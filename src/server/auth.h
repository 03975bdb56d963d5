// Who may use the server: one check of credentials for every door (RESP's AUTH and HELLO, the
// HTTP API's Authorization header), so a password set for one guards them all.

#ifndef BITCASK_SERVER_AUTH_H_
#define BITCASK_SERVER_AUTH_H_

#include <optional>
#include <string>
#include <string_view>

#include "server/state.h"

namespace bitcask::server {

// Whether a client must authenticate before it may read or write (requirepass is set).
bool AuthRequired(const ServerConfig& config);

// Whether user and password name a user allowed in: the "default" user with requirepass.
// Compares in time independent of where the password differs.
bool CredentialsValid(const ServerConfig& config, std::string_view user, std::string_view password);

// The user and password an HTTP Authorization header carries: "Basic base64(user:password)"
// (curl -u user:password), or "Bearer password" for the default user. Nothing when the header
// is absent or neither form.
struct Credentials {
  std::string user;
  std::string password;
};
std::optional<Credentials> ParseAuthorizationHeader(std::string_view header);

// Protected mode, as Redis's: with protected-mode yes and no password, only clients on the
// loopback interface (127.0.0.0/8, ::1, ::ffff:127.x.x.x) are served; others get
// kProtectedModeError (RESP: as an error reply, then the connection closes; HTTP: 403).
bool ProtectedModeRefuses(const ServerConfig& config, std::string_view peer_ip);
// Redis 7.0's text, word for word.
extern const char kProtectedModeError[];

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_AUTH_H_
