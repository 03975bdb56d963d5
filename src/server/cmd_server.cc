// Connection and server commands: PING, AUTH, HELLO, CLIENT, SHUTDOWN, SAVE, CHECKPOINT,
// COMMAND... (Redis's server.c and networking.c).

#include <algorithm>
#include <chrono>
#include <vector>

#include "bitcask/version.h"
#include "server/auth.h"
#include "server/command.h"
#include "server/dispatch.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

void Ping(CommandContext& c) {
  if (c.args.size() > 2) return WrongArgs(c);
  if (c.client.subscribed()) {  // RESP2 in pub/sub mode: ["pong", message]
    reply::ArrayHeader(c.out, 2);
    reply::Bulk(c.out, "pong");
    return reply::Bulk(c.out, c.args.size() == 2 ? c.args[1] : "");
  }
  if (c.args.size() == 2) return reply::Bulk(c.out, c.args[1]);
  reply::Simple(c.out, "PONG");
}

void Echo(CommandContext& c) { reply::Bulk(c.out, c.args[1]); }

void Quit(CommandContext& c) {
  Ok(c);
  c.client.close_after_reply = true;
}

bool CheckPassword(CommandContext& c, std::string_view user, std::string_view password) {
  if (!CredentialsValid(c.server.config(), user, password)) {
    c.server.auth_failures++;
    c.server.log().Log(Logger::kWarning, "authentication failed",
                       {{"client", c.client.address}, {"user", std::string(user)}});
    Err(c, "WRONGPASS invalid username-password pair or user is disabled.");
    return false;
  }
  c.client.authenticated = true;
  return true;
}

void Auth(CommandContext& c) {
  if (c.args.size() > 3) return SyntaxError(c);
  if (c.server.config().requirepass.empty()) {
    return Err(c,
               "ERR AUTH <password> called without any password configured for the default "
               "user. Are you sure your configuration is correct?");
  }
  const std::string_view user = c.args.size() == 3 ? c.args[1] : "default";
  if (CheckPassword(c, user, c.args.back())) Ok(c);
}

void Hello(CommandContext& c) {
  size_t i = 1;
  if (c.args.size() > 1) {
    int64_t version;
    if (!ParseInt(c.args[1], &version)) {
      return Err(c, "ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) return Err(c, "NOPROTO unsupported protocol version");
    i = 2;
  }
  std::string setname;
  for (; i < c.args.size(); i++) {
    if (IEquals(c.args[i], "auth") && i + 2 < c.args.size()) {
      if (!CheckPassword(c, c.args[i + 1], c.args[i + 2])) return;
      i += 2;
    } else if (IEquals(c.args[i], "setname") && i + 1 < c.args.size()) {
      setname = c.args[++i];
    } else {
      return Err(c, "ERR Syntax error in HELLO option '" + std::string(c.args[i]) + "'");
    }
  }
  if (!c.client.authenticated) {
    return Err(c,
               "NOAUTH HELLO must be called with the client already authenticated, otherwise "
               "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
               "client and select the RESP protocol version at the same time");
  }
  if (!setname.empty()) c.client.name = setname;
  reply::ArrayHeader(c.out, 14);
  reply::Bulk(c.out, "server");
  reply::Bulk(c.out, "redis");
  reply::Bulk(c.out, "version");
  reply::Bulk(c.out, BITCASK_REDIS_VERSION);
  reply::Bulk(c.out, "proto");
  reply::Integer(c.out, 2);
  reply::Bulk(c.out, "id");
  reply::Integer(c.out, static_cast<int64_t>(c.client.id));
  reply::Bulk(c.out, "mode");
  reply::Bulk(c.out, "standalone");
  reply::Bulk(c.out, "role");
  reply::Bulk(c.out, c.server.replication().is_replica() ? "replica" : "master");
  reply::Bulk(c.out, "modules");
  reply::ArrayHeader(c.out, 0);
}

void Select(CommandContext& c) {
  int64_t db;
  if (!ParseInt(c.args[1], &db)) return NotInteger(c);
  if (db != 0 && c.server.cluster().enabled())
    return Err(c, "ERR SELECT is not allowed in cluster mode");
  if (db != 0) return Err(c, "ERR DB index is out of range");
  Ok(c);
}

// A line of CLIENT LIST, in Redis 7.0's fields and order.
std::string ClientLine(const ClientInfo& i) {
  return "id=" + std::to_string(i.id) + " addr=" + i.addr + " laddr=" + i.laddr +
         " fd=-1 name=" + i.name + " age=" + std::to_string(i.age_s) +
         " idle=" + std::to_string(i.idle_s) + " flags=" + i.flags +
         " db=0 sub=" + std::to_string(i.sub) + " psub=" + std::to_string(i.psub) +
         " ssub=0 multi=" + std::to_string(i.multi) +
         " qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0"
         " events=r cmd=" +
         i.cmd + " user=default redir=-1 resp=2\n";
}

bool KnownClientType(std::string_view t) {
  return IEquals(t, "normal") || IEquals(t, "master") || IEquals(t, "replica") ||
         IEquals(t, "slave") || IEquals(t, "pubsub");
}

bool TypeMatches(std::string_view wanted, const ClientInfo& info) {
  return IEquals(wanted, info.type) || (IEquals(wanted, "slave") && info.type == "replica");
}

// CLIENT LIST [TYPE type | ID id ...]
void ClientList(CommandContext& c) {
  std::string_view type;
  std::vector<uint64_t> ids;
  if (c.args.size() > 2) {
    if (IEquals(c.args[2], "type") && c.args.size() == 4) {
      type = c.args[3];
      if (!KnownClientType(type)) {
        return Err(c, "ERR Unknown client type '" + std::string(type) + "'");
      }
    } else if (IEquals(c.args[2], "id") && c.args.size() >= 4) {
      for (size_t i = 3; i < c.args.size(); i++) {
        uint64_t id;
        if (!ParseUint(c.args[i], &id) || id == 0) {
          return Err(c, "ERR Invalid client ID");
        }
        ids.push_back(id);
      }
    } else {
      return SyntaxError(c);
    }
  }
  std::string text;
  for (const auto& client : c.server.clients().All()) {
    ClientInfo info = client->Info();
    if (info.id == c.client.id) info.cmd = "client|list";  // as Redis shows the caller
    if (!type.empty() && !TypeMatches(type, info)) continue;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), info.id) == ids.end()) continue;
    text += ClientLine(info);
  }
  reply::Bulk(c.out, text);
}

// CLIENT KILL addr (the old form: +OK or an error) or CLIENT KILL filter value ... (ID, TYPE,
// ADDR, LADDR, USER, SKIPME yes|no: the number of clients killed). Sentinel uses
// CLIENT KILL TYPE normal and TYPE pubsub in its failover transaction.
void ClientKill(CommandContext& c) {
  const bool old_form = c.args.size() == 3;
  uint64_t id = 0;
  std::string_view type, addr, laddr, user;
  bool skipme = true;
  if (old_form) {
    addr = c.args[2];
    skipme = false;
  } else {
    for (size_t i = 2; i < c.args.size(); i += 2) {
      if (i + 1 >= c.args.size()) return SyntaxError(c);  // (after the pairs before it, as Redis)
      const std::string_view opt = c.args[i], val = c.args[i + 1];
      if (IEquals(opt, "id")) {
        if (!ParseUint(val, &id) || id == 0)
          return Err(c, "ERR client-id should be greater than 0");
      } else if (IEquals(opt, "type")) {
        if (!KnownClientType(val))
          return Err(c, "ERR Unknown client type '" + std::string(val) + "'");
        type = val;
      } else if (IEquals(opt, "addr")) {
        addr = val;
      } else if (IEquals(opt, "laddr")) {
        laddr = val;
      } else if (IEquals(opt, "user")) {
        if (val != "default") return Err(c, "ERR No such user '" + std::string(val) + "'");
        user = val;
      } else if (IEquals(opt, "skipme")) {
        if (IEquals(val, "yes")) {
          skipme = true;
        } else if (IEquals(val, "no")) {
          skipme = false;
        } else {
          return SyntaxError(c);
        }
      } else {
        return SyntaxError(c);
      }
    }
  }
  int64_t killed = 0;
  for (const auto& client : c.server.clients().All()) {
    const ClientInfo info = client->Info();
    if (id != 0 && info.id != id) continue;
    if (!type.empty() && !TypeMatches(type, info)) continue;
    if (!addr.empty() && info.addr != addr) continue;
    if (!laddr.empty() && info.laddr != laddr) continue;
    if (info.id == c.client.id) {
      if (skipme) continue;
      c.client.close_after_reply = true;  // after this reply
    } else {
      client->Kill();
    }
    killed++;
  }
  if (!old_form) return reply::Integer(c.out, killed);
  if (killed == 0) return Err(c, "ERR No such client");
  Ok(c);
}

void ClientCmd(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  const size_t n = c.args.size();
  if (sub == "list") return ClientList(c);
  if (sub == "kill") return n >= 3 ? ClientKill(c) : SubcommandArity(c);
  if (sub == "id") {
    if (n != 2) return SubcommandArity(c);
    return reply::Integer(c.out, int64_t(c.client.id));
  }
  if (sub == "getname") {
    if (n != 2) return SubcommandArity(c);
    if (c.client.name.empty()) return reply::Null(c.out);
    return reply::Bulk(c.out, c.client.name);
  }
  if (sub == "setname") {
    if (n != 3) return SubcommandArity(c);
    for (char ch : c.args[2]) {
      if (ch < '!' || ch > '~') {
        return Err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
      }
    }
    c.client.name = c.args[2];
    return Ok(c);
  }
  if (sub == "info") {
    if (n != 2) return SubcommandArity(c);
    auto self = c.client.handle.lock();
    ClientInfo info;
    if (self) info = self->Info();
    info.id = c.client.id;
    info.addr = c.client.address;
    info.name = c.client.name;
    info.cmd = "client|info";
    return reply::Bulk(c.out, ClientLine(info));
  }
  if (sub == "setinfo") {
    if (n != 4) return SubcommandArity(c);
    return Ok(c);
  }
  UnknownSubcommand(c);
}

// SCRIPT KILL: no script ever runs here (Sentinel sends it to a server that answers BUSY).
void Script(CommandContext& c) {
  if (IEquals(c.args[1], "kill") && c.args.size() == 2) {
    return Err(c, "NOTBUSY No scripts in execution right now.");
  }
  if (IEquals(c.args[1], "flush") || IEquals(c.args[1], "exists") || IEquals(c.args[1], "load")) {
    return Err(c, "ERR bitcask-server runs no scripts (SCRIPT " + Upper(c.args[1]) + ")");
  }
  UnknownSubcommand(c);
}

void Time(CommandContext& c) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  reply::ArrayHeader(c.out, 2);
  reply::Bulk(c.out, std::to_string(us / 1000000));
  reply::Bulk(c.out, std::to_string(us % 1000000));
}

void Shutdown(CommandContext& c) {
  for (size_t i = 1; i < c.args.size(); i++) {
    if (!IEquals(c.args[i], "nosave") && !IEquals(c.args[i], "save") &&
        !IEquals(c.args[i], "now") && !IEquals(c.args[i], "force")) {
      return SyntaxError(c);
    }
  }
  // Like Redis, a successful SHUTDOWN sends no reply: the connection closes. The store is
  // flushed and closed by the shutdown path.
  c.client.close_after_reply = true;
  if (c.server.request_shutdown) c.server.request_shutdown();
}

void Save(CommandContext& c) {
  if (Status s = c.keyspace.Sync(); !s.ok()) return StoreError(c, s);
  c.server.last_save_unix = static_cast<uint64_t>(NowUnixMillis() / 1000);
  Ok(c);
}

void BgSave(CommandContext& c) {
  ServerState* server = &c.server;
  if (!c.server.StartBackground("bgsave", [server] {
        Status s = server->db().Sync();
        if (s.ok()) server->last_save_unix = static_cast<uint64_t>(NowUnixMillis() / 1000);
        return s;
      })) {
    return Err(c, "ERR Background save already in progress");
  }
  reply::Simple(c.out, "Background saving started");
}

void BgRewriteAof(CommandContext& c) {
  ServerState* server = &c.server;
  if (!c.server.StartBackground("merge", [server] { return server->db().Merge(); })) {
    return Err(c, "ERR Background append only file rewriting already in progress");
  }
  reply::Simple(c.out, "Background append only file rewriting started");
}

// CHECKPOINT dir (not in Redis): a hot backup, DB::Checkpoint into dir, a new directory (a
// relative path is the server's working directory's). Replies once the copy is complete.
// Copying and flushing the active file can take seconds on a slow disk: the connection runs
// it off its event loop (Client::deferred), and the caller waits for its reply as for SAVE's.
// Not inside MULTI (kCmdNoMulti): a transaction's writes are not in the store until EXEC.
void CheckpointCmd(CommandContext& c) {
  c.client.deferred = [server = &c.server, dir = std::string(c.args[1])] {
    std::string out;
    ServerState::StoreUse use(server);
    if (Status s = server->db().Checkpoint(dir); !s.ok()) {
      StoreError(&out, s);
    } else {
      reply::Simple(&out, "OK");
    }
    return out;
  };
}

void LastSave(CommandContext& c) {
  reply::Integer(c.out, static_cast<int64_t>(c.server.last_save_unix.load()));
}

void WriteCommandInfo(std::string* out, const CommandSpec& spec) {
  reply::ArrayHeader(out, 10);
  reply::Bulk(out, spec.name);
  reply::Integer(out, spec.arity);
  std::vector<const char*> flags;
  if (spec.flags & kCmdWrite) flags.push_back("write");
  if (spec.flags & kCmdReadOnly) flags.push_back("readonly");
  if (spec.flags & kCmdFast) flags.push_back("fast");
  if (spec.flags & kCmdNoAuth) flags.push_back("no_auth");
  if (spec.flags & kCmdAdmin) flags.push_back("admin");
  if (spec.flags & kCmdMovableKeys) flags.push_back("movablekeys");
  if (spec.flags & kCmdAsking) flags.push_back("asking");
  reply::ArrayHeader(out, flags.size());
  for (const char* f : flags) reply::Simple(out, f);
  reply::Integer(out, spec.first_key);
  reply::Integer(out, spec.last_key);
  reply::Integer(out, spec.key_step);
  for (int i = 0; i < 4; i++) reply::ArrayHeader(out, 0);  // ACL categories, tips, keys, subs
}

void Command(CommandContext& c) {
  const auto& table = AllCommands();
  if (c.args.size() == 1) {
    reply::ArrayHeader(c.out, table.size());
    for (const auto& spec : table) WriteCommandInfo(c.out, spec);
    return;
  }
  const std::string sub = Lower(c.args[1]);
  if (sub == "count") return reply::Integer(c.out, static_cast<int64_t>(table.size()));
  if (sub == "list") {
    reply::ArrayHeader(c.out, table.size());
    for (const auto& spec : table) reply::Bulk(c.out, spec.name);
    return;
  }
  if (sub == "getkeys") {
    if (c.args.size() < 3) return SubcommandArity(c);
    const int idx = FindCommand(c.args[2]);
    if (idx < 0) return Err(c, "ERR Invalid command specified");
    const CommandSpec& spec = table[size_t(idx)];
    const Args args(c.args.begin() + 2, c.args.end());
    if (!ArityAllows(spec.arity, args.size())) {
      return Err(c, "ERR Invalid number of arguments specified for command");
    }
    if (spec.first_key <= 0 && !(spec.flags & kCmdMovableKeys)) {
      return Err(c, "ERR The command has no key arguments");
    }
    std::vector<std::string_view> keys;
    AddCommandKeys(spec, args, &keys);
    if (keys.empty()) return Err(c, "ERR Invalid arguments specified for command");
    reply::ArrayHeader(c.out, keys.size());
    for (std::string_view k : keys) reply::Bulk(c.out, k);
    return;
  }
  if (sub == "info") {
    reply::ArrayHeader(c.out, c.args.size() - 2);
    for (size_t i = 2; i < c.args.size(); i++) {
      const int idx = FindCommand(c.args[i]);
      if (idx < 0) {
        reply::NullArray(c.out);
      } else {
        WriteCommandInfo(c.out, table[size_t(idx)]);
      }
    }
    return;
  }
  if (sub == "docs") {
    // A map of name -> doc; a summary is all redis-cli shows.
    std::vector<const CommandSpec*> wanted;
    if (c.args.size() == 2) {
      for (const auto& spec : table) wanted.push_back(&spec);
    } else {
      for (size_t i = 2; i < c.args.size(); i++) {
        if (int idx = FindCommand(c.args[i]); idx >= 0) wanted.push_back(&table[size_t(idx)]);
      }
    }
    reply::ArrayHeader(c.out, wanted.size() * 2);
    for (const CommandSpec* spec : wanted) {
      reply::Bulk(c.out, spec->name);
      reply::ArrayHeader(c.out, 4);
      reply::Bulk(c.out, "summary");
      reply::Bulk(c.out, std::string("bitcask-server ") + spec->name);
      reply::Bulk(c.out, "group");
      reply::Bulk(c.out, (spec->flags & (kCmdWrite | kCmdReadOnly)) ? "string" : "server");
    }
    return;
  }
  UnknownSubcommand(c);
}

}  // namespace

std::span<const CommandSpec> ServerCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"ping", -1, kCmdFast | kCmdSubscribed, 0, 0, 0, Ping},
      {"echo", 2, kCmdFast, 0, 0, 0, Echo},
      {"quit", -1, kCmdFast | kCmdNoAuth | kCmdNoQueue | kCmdSubscribed, 0, 0, 0, Quit},
      {"auth", -2, kCmdFast | kCmdNoAuth, 0, 0, 0, Auth},
      {"hello", -1, kCmdFast | kCmdNoAuth, 0, 0, 0, Hello},
      {"select", 2, kCmdFast, 0, 0, 0, Select},
      {"client", -2, kCmdAdmin, 0, 0, 0, ClientCmd},
      {"time", 1, kCmdFast, 0, 0, 0, Time},
      {"shutdown", -1, kCmdAdmin, 0, 0, 0, Shutdown},
      {"save", 1, kCmdAdmin, 0, 0, 0, Save},
      {"bgsave", -1, kCmdAdmin, 0, 0, 0, BgSave},
      {"bgrewriteaof", 1, kCmdAdmin, 0, 0, 0, BgRewriteAof},
      {"lastsave", 1, kCmdFast, 0, 0, 0, LastSave},
      {"checkpoint", 2, kCmdAdmin | kCmdNoMulti, 0, 0, 0, CheckpointCmd},
      {"script", -2, 0, 0, 0, 0, Script},
      {"command", -1, 0, 0, 0, 0, Command},
  };
  return kRows;
}

}  // namespace bitcask::server
