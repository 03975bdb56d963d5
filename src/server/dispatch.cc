#include "server/dispatch.h"

#include <cctype>
#include <chrono>
#include <optional>
#include <unordered_map>

#include "server/replication.h"

namespace bitcask::server {

const std::vector<CommandSpec>& AllCommands() {
  static const std::vector<CommandSpec> table = [] {
    std::vector<CommandSpec> all;
    for (auto family :
         {ServerCommands, InfoCommands, ConfigCommands, StringCommands, KeyCommands, MultiCommands,
          ReplicationCommands, PubSubCommands, DumpCommands, ClusterCommands, MigrateCommands}) {
      const std::span<const CommandSpec> rows = family();
      all.insert(all.end(), rows.begin(), rows.end());
    }
    return all;
  }();
  return table;
}

void AddCommandKeys(const CommandSpec& spec, const Args& args,
                    std::vector<std::string_view>* keys) {
  if (spec.flags & kCmdMovableKeys) return MigrateKeys(args, keys);
  if (spec.first_key <= 0) return;
  const int last = spec.last_key < 0 ? int(args.size()) + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < int(args.size()); i += spec.key_step) {
    keys->push_back(args[size_t(i)]);
  }
}

int FindCommand(std::string_view name) {
  static const std::unordered_map<std::string_view, int> by_name = [] {
    std::unordered_map<std::string_view, int> m;
    const auto& table = AllCommands();
    for (size_t i = 0; i < table.size(); i++) m.emplace(table[i].name, static_cast<int>(i));
    return m;
  }();
  char lower[32];
  if (name.size() > sizeof lower) return -1;  // longer than any command name
  for (size_t i = 0; i < name.size(); i++) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  auto it = by_name.find(std::string_view(lower, name.size()));
  return it == by_name.end() ? -1 : it->second;
}

bool IsPlainGet(ServerState& server, Client& client, const Args& args) {
  return args.size() == 2 && client.authenticated && !client.tx.active && !client.subscribed() &&
         !server.stale_replica_now() && args[0].size() == 3 && (args[0][0] | 0x20) == 'g' &&
         (args[0][1] | 0x20) == 'e' && (args[0][2] | 0x20) == 't' &&
         (!server.cluster().enabled() || ServesPlainly(server, client, args[1]));
}

void DispatchGets(ServerState& server, std::span<const std::string_view> keys, std::string* out) {
  static const size_t get_index = static_cast<size_t>(FindCommand("get"));
  const size_t n = keys.size();
  server.total_commands.Add(n);
  thread_local std::vector<std::string> values;
  thread_local std::vector<Status> statuses;
  if (values.size() < n) {
    values.resize(n);
    statuses.resize(n);
  }
  const auto t0 = std::chrono::steady_clock::now();
  server.db().MultiGet(keys, std::span(values).first(n), std::span(statuses).first(n));
  ReplyValues(server, std::span(statuses).first(n), std::span(values).first(n), out);
  const uint64_t ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  CommandStats& cs = server.command_stats(get_index);
  cs.calls.Add(n);
  cs.nanos.Add(ns);
  for (size_t i = 0; i < n; i++) {
    cs.latency.Record(ns / n);  // each GET is counted at the batch's average
    if (!statuses[i].ok() && !statuses[i].IsNotFound()) cs.errors.Add(1);
  }
  for (size_t i = 0; i < n; i++) {
    if (values[i].capacity() > 64 * 1024) std::string().swap(values[i]);  // keep no large value
  }
}

namespace {

// A command refused inside MULTI makes EXEC discard the transaction, as in Redis.
void FailTransaction(Client& client) {
  if (client.tx.active) client.tx.failed = true;
}

void Queue(ServerState& server, Client& client, const Args& args, std::string* out) {
  size_t bytes = 0;
  for (std::string_view a : args) bytes += a.size() + 16;
  if (client.tx.queued_bytes + bytes >
      static_cast<uint64_t>(server.config().client_query_buffer_limit)) {
    client.tx.failed = true;
    return reply::Error(out, "ERR the transaction is larger than client-query-buffer-limit");
  }
  client.tx.queued_bytes += bytes;
  client.tx.queued.emplace_back(args.begin(), args.end());
  reply::Simple(out, "QUEUED");
}

// ASKING holds for the next command only (inside MULTI: until EXEC ends it), as Redis's
// resetClient clears it.
struct AskingScope {
  Client* client;
  bool keep;
  ~AskingScope() {
    if (!keep && !client->tx.active) client->asking = false;
  }
};

// Runs one command on ks.
void Run(ServerState& server, Client& client, Keyspace& ks, bool in_exec, const Args& args,
         std::string* out) {
  if (args.empty()) return;
  server.total_commands++;
  const int idx = FindCommand(args[0]);
  if (idx < 0) {
    AskingScope asking_scope{&client, in_exec};
    FailTransaction(client);
    std::string msg = "ERR unknown command '" + std::string(args[0].substr(0, 128)) +
                      "', with args beginning with: ";
    for (size_t i = 1; i < args.size() && msg.size() < 512; i++) {
      msg += "'" + std::string(args[i].substr(0, 128)) + "' ";
    }
    for (char& ch : msg) {
      if (ch == '\r' || ch == '\n') ch = ' ';
    }
    return reply::Error(out, msg);
  }
  const CommandSpec& spec = AllCommands()[size_t(idx)];
  AskingScope asking_scope{&client, in_exec || std::string_view(spec.name) == "asking"};
  CommandContext ctx{server, client, ks, args, out, in_exec};
  CommandStats& cs = server.command_stats(size_t(idx));
  if (!ArityAllows(spec.arity, args.size())) {
    cs.rejected.Add(1);
    FailTransaction(client);
    return WrongArgs(ctx);
  }
  if (!client.authenticated && !(spec.flags & kCmdNoAuth)) {
    cs.rejected.Add(1);
    FailTransaction(client);
    return reply::Error(out, "NOAUTH Authentication required.");
  }
  if (client.subscribed() && !(spec.flags & kCmdSubscribed)) {
    cs.rejected.Add(1);
    return reply::Error(out, "ERR Can't execute '" + Lower(args[0]) +
                                 "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                                 "RESET are allowed in this context");
  }
  // Cluster mode: the command runs here only if this node serves its keys' slot. While a
  // slot is being moved, its keys stay locked from the check until the command is done, so
  // that MIGRATE (which holds them too) cannot move a key between the two.
  std::optional<KeyLocks::Guard> open_slot_lock;
  if (server.cluster().enabled() && !in_exec && !client.is_master) {
    const ClusterView& view = ClientView(server, client);
    if (!view.migrating.empty() || !view.importing.empty()) {
      std::vector<std::string_view> keys;
      AddCommandKeys(spec, args, &keys);
      open_slot_lock.emplace(&server.key_locks(), keys, KeyLocks::Guard::Kind::kExec);
    }
    std::string redirect;
    if (!RouteToSlot(server, client, spec, args, &redirect)) {
      cs.rejected.Add(1);
      if (std::string_view(spec.name) == "exec") {
        client.tx = Transaction();  // discarded, as Redis does
      } else {
        FailTransaction(client);
      }
      out->append(redirect);
      return;
    }
  }
  if ((spec.flags & kCmdWrite) && !client.is_master) {
    const char* refusal = nullptr;
    if (server.replica_read_only_now()) {
      refusal = "READONLY You can't write against a read only replica.";
    } else if (!server.replication().EnoughGoodReplicas()) {
      refusal = "NOREPLICAS Not enough good replicas to write.";
    }
    if (refusal != nullptr) {
      cs.rejected.Add(1);
      FailTransaction(client);
      return reply::Error(out, refusal);
    }
  }
  if ((spec.flags & (kCmdWrite | kCmdReadOnly)) && !client.is_master &&
      server.stale_replica_now()) {
    cs.rejected.Add(1);
    FailTransaction(client);
    return reply::Error(out,
                        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data "
                        "is set to 'no'.");
  }
  if (client.tx.active && !(spec.flags & kCmdNoQueue)) {
    if (spec.flags & kCmdNoMulti) {
      cs.rejected.Add(1);
      FailTransaction(client);
      return reply::Error(out, "ERR Command not allowed inside a transaction");
    }
    return Queue(server, client, args, out);
  }
  const size_t before = out->size();
  const auto t0 = std::chrono::steady_clock::now();
  spec.handler(ctx);
  const uint64_t ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  cs.calls.Add(1);
  cs.nanos.Add(ns);
  cs.latency.Record(ns);
  if (out->size() > before && (*out)[before] == '-') cs.errors.Add(1);
  // The slot index's tables are updated here, off the store's write lock (cluster.h).
  if ((spec.flags & kCmdWrite) && server.cluster().enabled()) server.cluster().index().Drain();
  client.woff = server.replication().log().offset();  // what WAIT waits for
}

}  // namespace

void Dispatch(ServerState& server, Client& client, const Args& args, std::string* out) {
  Run(server, client, server.keyspace(), /*in_exec=*/false, args, out);
}

void DispatchInExec(ServerState& server, Client& client, Keyspace& view, const Args& args,
                    std::string* out) {
  Run(server, client, view, /*in_exec=*/true, args, out);
}

}  // namespace bitcask::server
