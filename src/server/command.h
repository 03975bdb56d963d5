// What every command handler of bitcask-server is written with: the context it runs in, its
// row in the command table (as Redis's redisCommandTable: name, arity, flags, key positions,
// handler), and the argument parsers and reply helpers they share, so that every command
// parses and answers alike.
//
// The handlers live by family, as Redis's t_string.c, db.c, expire.c, multi.c, config.c:
// cmd_string.cc, cmd_key.cc, cmd_server.cc, cmd_info.cc, cmd_config.cc, cmd_multi.cc,
// cmd_replication.cc, cmd_pubsub.cc, cmd_dump.cc, cmd_cluster.cc, cmd_migrate.cc. Each
// family gives its rows; dispatch.cc puts them in one table and runs them.

#ifndef BITCASK_SERVER_COMMAND_H_
#define BITCASK_SERVER_COMMAND_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/keyspace.h"
#include "server/resp.h"
#include "server/state.h"

namespace bitcask::server {

using Args = std::vector<std::string_view>;

struct CommandContext {
  ServerState& server;
  Client& client;
  // The data as this command sees it: the store, or inside EXEC the transaction's view.
  Keyspace& keyspace;
  const Args& args;  // args[0] is the command name as the client sent it
  std::string* out;
  bool in_exec = false;  // run by EXEC, as part of a transaction
};

enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,     // changes the store
  kCmdReadOnly = 1u << 1,  // reads the store
  kCmdNoAuth = 1u << 2,    // allowed before AUTH
  kCmdAdmin = 1u << 3,
  kCmdFast = 1u << 4,         // O(1) or O(log n)
  kCmdNoQueue = 1u << 5,      // runs at once inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT)
  kCmdNoMulti = 1u << 6,      // refused inside MULTI ("Command not allowed inside a transaction")
  kCmdSubscribed = 1u << 7,   // allowed to a subscribed client (SUBSCRIBE..., PING, QUIT)
  kCmdMovableKeys = 1u << 8,  // keys not at fixed positions (MIGRATE: MigrateKeys)
  kCmdAsking = 1u << 9,       // may use an importing slot without ASKING (RESTORE-ASKING)
};

struct CommandSpec {
  const char* name;  // lowercase
  int arity;         // > 0: exactly; < 0: at least -arity; the name counts
  uint32_t flags;
  int first_key, last_key, key_step;  // for COMMAND; last_key -1 = the last argument
  void (*handler)(CommandContext& ctx);
};

// Whether argc arguments (the name counted) fit an arity as CommandSpec's.
inline bool ArityAllows(int arity, size_t argc) {
  return arity > 0 ? int(argc) == arity : int(argc) >= -arity;
}

// The rows of each family.
std::span<const CommandSpec> ServerCommands();
std::span<const CommandSpec> InfoCommands();
std::span<const CommandSpec> ConfigCommands();
std::span<const CommandSpec> StringCommands();
std::span<const CommandSpec> KeyCommands();
std::span<const CommandSpec> MultiCommands();
std::span<const CommandSpec> ReplicationCommands();
std::span<const CommandSpec> PubSubCommands();
std::span<const CommandSpec> DumpCommands();
std::span<const CommandSpec> ClusterCommands();
std::span<const CommandSpec> MigrateCommands();

// MIGRATE's keys (Redis's migrateGetKeys): argument 3, or those after KEYS.
void MigrateKeys(const Args& args, std::vector<std::string_view>* keys);

// ---- Argument parsing ---------------------------------------------------------------------

bool IEquals(std::string_view a, std::string_view b);
std::string Lower(std::string_view s);
std::string Upper(std::string_view s);
// Redis's string2ll: optional '-', digits, no leading zeros, no spaces, within int64.
bool ParseInt(std::string_view s, int64_t* out);
bool ParseUint(std::string_view s, uint64_t* out);
bool ParseFloat(std::string_view s, long double* out);
// The arguments from `first` on, every `step`th (the keys of MSET: first 1, step 2).
std::vector<std::string_view> ArgsFrom(const Args& args, size_t first, size_t step = 1);
// An expiry option: EX seconds, PX ms, EXAT unix-seconds, PXAT unix-ms, to absolute ms.
// Returns false after replying with the error.
bool ParseExpiry(CommandContext& c, std::string_view unit, std::string_view amount,
                 const char* command, uint64_t* at_ms);

// ---- Replies ------------------------------------------------------------------------------

void Err(CommandContext& c, std::string_view msg);
void Ok(CommandContext& c);
void NotInteger(CommandContext& c);
void SyntaxError(CommandContext& c);
void WrongArgs(CommandContext& c);
// Redis's replies for a subcommand it does not know, or one called with the wrong arity.
void UnknownSubcommand(CommandContext& c);
void SubcommandArity(CommandContext& c);
// "-ERR <context><status>".
void StoreError(std::string* out, const Status& s, std::string_view context = {});
void StoreError(CommandContext& c, const Status& s, std::string_view context = {});
// Replies with a bulk string, or the null bulk string for NotFound; counts hits and misses.
void BulkOrNull(CommandContext& c, const Status& s, std::string_view value);
// Replies to a MultiGet: a bulk string per value, the null bulk string per missing key, and
// an error (an array may hold one) for a key whose record could not be read.
void ReplyValues(ServerState& server, std::span<const Status> statuses,
                 std::span<const std::string> values, std::string* out);

// ---- The store ----------------------------------------------------------------------------

Status PutWithExpiry(Keyspace& ks, std::string_view key, std::string_view value,
                     uint64_t expire_at_ms);

// A key as a read-modify-write command (INCR, APPEND, EXPIRE, RENAME, ...) finds it.
struct Stored {
  std::string value;
  uint64_t expiry = 0;  // Unix ms; 0: none
  bool exists = false;
};
// Reads key into *out (exists false for a missing key; the value only if want_value). On a
// store error, replies with it and returns false.
bool ReadForUpdate(CommandContext& c, std::string_view key, Stored* out, bool want_value = true);

// FLUSHDB: deletes every key of ks in one atomic batch; once that is in the store, every
// watched key counts as written and a merge gives the space back in the background. Shared
// by FLUSHDB/FLUSHALL and HTTP's POST /clear.
Status FlushKeyspace(ServerState& server, Keyspace& ks);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_COMMAND_H_
