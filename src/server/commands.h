// The command table of bitcask-server: one row per command (name, arity, flags, key
// positions, handler), as Redis's redisCommandTable. Handlers are small functions over the
// library's API and write their reply with the RESP writers.

#ifndef BITCASK_SERVER_COMMANDS_H_
#define BITCASK_SERVER_COMMANDS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/state.h"

namespace bitcask::server {

using Args = std::vector<std::string_view>;

struct CommandContext {
  ServerState& server;
  Client& client;
  DB& db;  // the store, or inside EXEC the transaction's view of it (server/transaction.h)
  const Args& args;  // args[0] is the command name as the client sent it
  std::string* out;
};

enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,     // changes the store
  kCmdReadOnly = 1u << 1,  // reads the store
  kCmdNoAuth = 1u << 2,    // allowed before AUTH
  kCmdAdmin = 1u << 3,
  kCmdFast = 1u << 4,      // O(1) or O(log n)
};

struct CommandSpec {
  const char* name;  // lowercase
  int arity;         // > 0: exactly; < 0: at least -arity; the name counts
  uint32_t flags;
  int first_key, last_key, key_step;  // for COMMAND; last_key -1 = the last argument
  void (*handler)(CommandContext& ctx);
};

const std::vector<CommandSpec>& AllCommands();
// Index into AllCommands() of the command named (any case), or -1.
int FindCommand(std::string_view name);

// Checks arity and authentication, runs the command and appends its reply to *out, or
// leaves client.deferred set: then the caller runs that (off its event loop) and appends what
// it returns, before the reply of any later command.
void Dispatch(ServerState& server, Client& client, const Args& args, std::string* out);
// The same against db in place of the server's store (EXEC runs its commands on its view).
void DispatchTo(ServerState& server, Client& client, DB& db, const Args& args, std::string* out);

// A pipeline's consecutive GETs run together: IsPlainGet says whether args is a GET the
// client may run (two arguments, authenticated), and DispatchGets runs GET for each key,
// with the replies and counters that many Dispatch calls would give, through one MultiGet.
bool IsPlainGet(const Client& client, const Args& args);
void DispatchGets(ServerState& server, std::span<const std::string_view> keys, std::string* out);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_COMMANDS_H_
