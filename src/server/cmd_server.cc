// Connection and server commands: PING, AUTH, HELLO, CLIENT, SHUTDOWN, SAVE, CHECKPOINT,
// COMMAND... (Redis's server.c and networking.c).

#include <algorithm>
#include <chrono>
#include <vector>

#include "bitcask/version.h"
#include "server/auth.h"
#include "server/command.h"
#include "server/dispatch.h"

namespace bitcask::server {

namespace {

void Ping(CommandContext& c) {
  if (c.args.size() > 2) return WrongArgs(c);
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
  reply::Bulk(c.out, "master");
  reply::Bulk(c.out, "modules");
  reply::ArrayHeader(c.out, 0);
}

void Select(CommandContext& c) {
  int64_t db;
  if (!ParseInt(c.args[1], &db)) return NotInteger(c);
  if (db != 0) return Err(c, "ERR DB index is out of range");
  Ok(c);
}

void ClientCmd(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  const size_t n = c.args.size();
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
    return reply::Bulk(c.out, "id=" + std::to_string(c.client.id) + " addr=" + c.client.address +
                                  " name=" + c.client.name + " db=0\n");
  }
  if (sub == "setinfo") {
    if (n != 4) return SubcommandArity(c);
    return Ok(c);
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
  c.client.deferred = [&db = c.server.db(), dir = std::string(c.args[1])] {
    std::string out;
    if (Status s = db.Checkpoint(dir); !s.ok()) {
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
      {"ping", -1, kCmdFast, 0, 0, 0, Ping},
      {"echo", 2, kCmdFast, 0, 0, 0, Echo},
      {"quit", -1, kCmdFast | kCmdNoAuth | kCmdNoQueue, 0, 0, 0, Quit},
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
      {"command", -1, 0, 0, 0, 0, Command},
  };
  return kRows;
}

}  // namespace bitcask::server
