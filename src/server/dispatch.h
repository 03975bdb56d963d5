// The command table of bitcask-server, put together from the families' rows (command.h), and
// the dispatch: arity, authentication and MULTI queueing are checked here, once for every
// command, before its handler runs; calls, time and errors are counted per command.

#ifndef BITCASK_SERVER_DISPATCH_H_
#define BITCASK_SERVER_DISPATCH_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/command.h"

namespace bitcask::server {

// Every command, in one table (the index of a row is its index in ServerState's stats).
const std::vector<CommandSpec>& AllCommands();
// Index into AllCommands() of the command named (any case), or -1.
int FindCommand(std::string_view name);
// The keys a command names, by its table row (as COMMAND GETKEYS would list them).
void AddCommandKeys(const CommandSpec& spec, const Args& args, std::vector<std::string_view>* keys);

// Checks arity and authentication, runs the command and appends its reply to *out, or
// leaves client.deferred set: then the caller runs that (off its event loop) and appends what
// it returns, before the reply of any later command.
void Dispatch(ServerState& server, Client& client, const Args& args, std::string* out);
// The same on a transaction's view of the store (EXEC runs its commands through it).
void DispatchInExec(ServerState& server, Client& client, Keyspace& view, const Args& args,
                    std::string* out);

// A pipeline's consecutive GETs run together: IsPlainGet says whether args is a GET the
// client may run (two arguments, authenticated), and DispatchGets runs GET for each key,
// with the replies and counters that many Dispatch calls would give, through one MultiGet.
bool IsPlainGet(const ServerState& server, const Client& client, const Args& args);
void DispatchGets(ServerState& server, std::span<const std::string_view> keys, std::string* out);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_DISPATCH_H_
