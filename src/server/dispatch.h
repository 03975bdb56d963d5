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
bool IsPlainGet(ServerState& server, Client& client, const Args& args);
void DispatchGets(ServerState& server, std::span<const std::string_view> keys, std::string* out);

// ---- Cluster mode (routing.cc) ------------------------------------------------------------

// The slot map as this client routes by (taken again when the map changed).
const ClusterView& ClientView(ServerState& server, Client& client);
// Redis's getNodeByQuery: whether the command (inside MULTI, EXEC: the queued ones) runs on
// this node. If not, *out has the redirect or error (MOVED, ASK, CROSSSLOT, TRYAGAIN,
// CLUSTERDOWN).
bool RouteToSlot(ServerState& server, Client& client, const CommandSpec& spec, const Args& args,
                 std::string* out);
// For HTTP's JSON API: the redirect (without '-') the RESP command args would get from a
// client without ASKING or READONLY, or "" if it runs here.
std::string HttpRoute(ServerState& server, const std::vector<std::string>& args);
// Whether a GET of key may run here without the routing above (the fast path of a pipeline's
// GETs): the slot is this node's and not being moved.
bool ServesPlainly(ServerState& server, Client& client, std::string_view key);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_DISPATCH_H_
