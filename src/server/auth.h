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

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_AUTH_H_
