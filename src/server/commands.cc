#include "server/commands.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "server/auth.h"
#include "server/fd_limit.h"
#include "server/glob.h"
#include "server/resp.h"
#include "server/transaction.h"

namespace bitcask::server {

namespace {

// ---- Helpers shared by the handlers: parsing and the common replies -----------------------

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Redis's string2ll: optional '-', digits, no leading zeros, no spaces, within int64.
bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  if (s[0] == '-' && (s.size() == 1 || s[1] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseFloat(std::string_view s, long double* out) {
  if (s.empty() || s.size() > 256 || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const std::string z(s);
  char* end = nullptr;
  errno = 0;
  *out = std::strtold(z.c_str(), &end);
  return end == z.c_str() + z.size() && errno != ERANGE && !std::isnan(*out);
}

void Err(CommandContext& c, std::string_view msg) { reply::Error(c.out, msg); }
void Ok(CommandContext& c) { reply::Simple(c.out, "OK"); }
void NotInteger(CommandContext& c) { Err(c, "ERR value is not an integer or out of range"); }
void SyntaxError(CommandContext& c) { Err(c, "ERR syntax error"); }
void WrongArgs(CommandContext& c) {
  Err(c, "ERR wrong number of arguments for '" + Lower(c.args[0]) + "' command");
}
// Redis's replies for a subcommand it does not know, or one called with the wrong arity.
void UnknownSubcommand(CommandContext& c) {
  std::string upper(c.args[0]);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  Err(c, "ERR unknown subcommand '" + std::string(c.args[1].substr(0, 128)) + "'. Try " + upper +
             " HELP.");
}
void SubcommandArity(CommandContext& c) {
  Err(c, "ERR wrong number of arguments for '" + Lower(c.args[0]) + "|" + Lower(c.args[1]) +
             "' command");
}

void StoreError(std::string* out, const Status& s, std::string_view context = {}) {
  reply::Error(out, "ERR " + std::string(context) + s.ToString());
}
void StoreError(CommandContext& c, const Status& s, std::string_view context = {}) {
  StoreError(c.out, s, context);
}

// Replies with a bulk string, or the null bulk string for NotFound; counts hits and misses.
void BulkOrNull(CommandContext& c, const Status& s, std::string_view value) {
  if (s.ok()) {
    c.server.keyspace_hits++;
    reply::Bulk(c.out, value);
  } else if (s.IsNotFound()) {
    c.server.keyspace_misses++;
    reply::Null(c.out);
  } else {
    StoreError(c, s);
  }
}

Status PutWithExpiry(DB& db, std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  WriteOptions w;
  w.expire_at_ms = expire_at_ms;
  return db.Put(key, value, w);
}

// A key as a read-modify-write command (INCR, APPEND, EXPIRE, RENAME, ...) finds it.
struct Stored {
  std::string value;
  uint64_t expiry = 0;  // Unix ms; 0: none
  bool exists = false;
};

// Reads key into *out (exists false for a missing key; the value only if want_value). On a
// store error, replies with it and returns false.
bool ReadForUpdate(CommandContext& c, std::string_view key, Stored* out, bool want_value = true) {
  const Status s =
      c.db.GetWithExpiry(key, want_value ? &out->value : nullptr, &out->expiry);
  out->exists = s.ok();
  if (s.ok() || s.IsNotFound()) return true;
  StoreError(c, s);
  return false;
}

// An expiry option: EX seconds, PX ms, EXAT unix-seconds, PXAT unix-ms, to absolute ms.
// Returns false after replying with the error.
bool ParseExpiry(CommandContext& c, std::string_view unit, std::string_view amount,
                 const char* command, uint64_t* at_ms) {
  int64_t n;
  if (!ParseInt(amount, &n)) {
    NotInteger(c);
    return false;
  }
  const bool seconds = IEquals(unit, "ex") || IEquals(unit, "exat");
  const bool relative = IEquals(unit, "ex") || IEquals(unit, "px");
  int64_t ms = n;
  if (n <= 0 || (seconds && __builtin_mul_overflow(n, int64_t{1000}, &ms)) ||
      (relative && __builtin_add_overflow(ms, NowUnixMillis(), &ms))) {
    Err(c, std::string("ERR invalid expire time in '") + command + "' command");
    return false;
  }
  *at_ms = static_cast<uint64_t>(ms);
  return true;
}

std::vector<std::string_view> Keys(const Args& args, size_t first, size_t step = 1) {
  std::vector<std::string_view> keys;
  for (size_t i = first; i < args.size(); i += step) keys.push_back(args[i]);
  return keys;
}

// ---- Connection and server ----------------------------------------------------------------

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
    return Err(c, "ERR AUTH <password> called without any password configured for the default "
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
    return Err(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise "
                  "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                  "client and select the RESP protocol version at the same time");
  }
  if (!setname.empty()) c.client.name = setname;
  reply::ArrayHeader(c.out, 14);
  reply::Bulk(c.out, "server");
  reply::Bulk(c.out, "redis");
  reply::Bulk(c.out, "version");
  reply::Bulk(c.out, "7.0.0");
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
  if (Status s = c.db.Sync(); !s.ok()) return StoreError(c, s);
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
// Inside EXEC the transaction's view answers at once (it cannot make a checkpoint).
void CheckpointCmd(CommandContext& c) {
  auto checkpoint = [&db = c.db, dir = std::string(c.args[1])] {
    std::string out;
    if (Status s = db.Checkpoint(dir); !s.ok()) {
      StoreError(&out, s);
    } else {
      reply::Simple(&out, "OK");
    }
    return out;
  };
  if (&c.db == &c.server.db()) {
    c.client.deferred = std::move(checkpoint);
  } else {
    c.out->append(checkpoint());
  }
}

void LastSave(CommandContext& c) {
  reply::Integer(c.out, static_cast<int64_t>(c.server.last_save_unix.load()));
}

// ---- Strings ------------------------------------------------------------------------------

void Get(CommandContext& c) {
  // The reply is written from the stored bytes in place (GetView): no copy of the value.
  const size_t start = c.out->size();
  const Status s = c.db.GetView(c.args[1], [&](std::string_view v) {
    c.server.keyspace_hits++;
    reply::Bulk(c.out, v);
  });
  if (!s.ok()) {
    c.out->resize(start);  // a value read before a page of it failed is no reply
    BulkOrNull(c, s, {});
  }
}

void Set(CommandContext& c) {
  bool nx = false, xx = false, get = false, keepttl = false, has_expiry = false;
  uint64_t expiry = 0;
  for (size_t i = 3; i < c.args.size(); i++) {
    const std::string_view a = c.args[i];
    if (IEquals(a, "nx") && !xx) {
      nx = true;
    } else if (IEquals(a, "xx") && !nx) {
      xx = true;
    } else if (IEquals(a, "get")) {
      get = true;
    } else if (IEquals(a, "keepttl") && !has_expiry) {
      keepttl = true;
    } else if ((IEquals(a, "ex") || IEquals(a, "px") || IEquals(a, "exat") || IEquals(a, "pxat")) &&
               !has_expiry && !keepttl && i + 1 < c.args.size()) {
      if (!ParseExpiry(c, a, c.args[i + 1], "set", &expiry)) return;
      has_expiry = true;
      i++;
    } else {
      return SyntaxError(c);
    }
  }
  DB& db = c.db;
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  Stored old;
  if ((nx || xx || get || keepttl) && !ReadForUpdate(c, key, &old, /*want_value=*/get)) return;
  if ((nx && old.exists) || (xx && !old.exists)) {
    if (get && old.exists) return reply::Bulk(c.out, old.value);
    return reply::Null(c.out);
  }
  if (keepttl && old.exists) expiry = old.expiry;
  if (Status s = PutWithExpiry(db, key, c.args[2], expiry); !s.ok()) return StoreError(c, s);
  if (!get) return Ok(c);
  if (old.exists) return reply::Bulk(c.out, old.value);
  reply::Null(c.out);
}

void SetNx(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  const Status present = c.db.Contains(c.args[1]);
  if (present.ok()) return reply::Integer(c.out, 0);
  if (!present.IsNotFound()) return StoreError(c, present);
  if (Status s = c.db.Put(c.args[1], c.args[2]); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, 1);
}

// SETEX key seconds value / PSETEX key milliseconds value.
void SetExGeneric(CommandContext& c, const char* unit, const char* name) {
  uint64_t expiry;
  if (!ParseExpiry(c, unit, c.args[2], name, &expiry)) return;
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  if (Status s = PutWithExpiry(c.db, c.args[1], c.args[3], expiry); !s.ok()) {
    return StoreError(c, s);
  }
  Ok(c);
}
void SetEx(CommandContext& c) { SetExGeneric(c, "ex", "setex"); }
void PSetEx(CommandContext& c) { SetExGeneric(c, "px", "psetex"); }

void GetSet(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  std::string old;
  const Status s = c.db.Get(c.args[1], &old);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  if (Status w = c.db.Put(c.args[1], c.args[2]); !w.ok()) return StoreError(c, w);
  BulkOrNull(c, s, old);
}

void GetDel(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  std::string value;
  const Status s = c.db.Get(c.args[1], &value);
  if (s.ok()) {
    if (Status d = c.db.Delete(c.args[1]); !d.ok() && !d.IsNotFound()) {
      return StoreError(c, d);
    }
  }
  BulkOrNull(c, s, value);
}

void GetEx(CommandContext& c) {
  bool change = false;
  uint64_t expiry = 0;
  if (c.args.size() == 3 && IEquals(c.args[2], "persist")) {
    change = true;
  } else if (c.args.size() == 4) {
    if (!IEquals(c.args[2], "ex") && !IEquals(c.args[2], "px") && !IEquals(c.args[2], "exat") &&
        !IEquals(c.args[2], "pxat")) {
      return SyntaxError(c);
    }
    if (!ParseExpiry(c, c.args[2], c.args[3], "getex", &expiry)) return;
    change = true;
  } else if (c.args.size() != 2) {
    return SyntaxError(c);
  }
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  std::string value;
  const Status s = c.db.Get(c.args[1], &value);
  if (s.ok() && change) {
    if (Status w = PutWithExpiry(c.db, c.args[1], value, expiry); !w.ok()) {
      return StoreError(c, w);
    }
  }
  BulkOrNull(c, s, value);
}

// Replies to a MultiGet: a bulk string per value, the null bulk string per missing key, and
// an error (an array may hold one) for a key whose record could not be read.
void ReplyValues(ServerState& server, std::span<const Status> statuses,
                 std::span<const std::string> values, std::string* out) {
  for (size_t i = 0; i < statuses.size(); i++) {
    if (statuses[i].ok()) {
      server.keyspace_hits++;
      reply::Bulk(out, values[i]);
    } else if (statuses[i].IsNotFound()) {
      server.keyspace_misses++;
      reply::Null(out);
    } else {
      reply::Error(out, "ERR " + statuses[i].ToString());
    }
  }
}

// One MultiGet reads every key at one moment: no MSET or EXEC (one batch each) is half seen.
void MGet(CommandContext& c) {
  const auto keys = std::span(c.args).subspan(1);
  std::vector<std::string> values(keys.size());
  std::vector<Status> statuses(keys.size());
  c.db.MultiGet(keys, values, statuses);
  reply::ArrayHeader(c.out, keys.size());
  ReplyValues(c.server, statuses, values, c.out);
}

void MSetGeneric(CommandContext& c, bool nx) {
  if (c.args.size() % 2 != 1) return WrongArgs(c);
  const auto keys = Keys(c.args, 1, 2);
  KeyLocks::Guard lock(&c.server.key_locks(), keys);
  if (nx) {
    for (std::string_view k : keys) {
      const Status s = c.db.Contains(k);
      if (s.ok()) return reply::Integer(c.out, 0);
      if (!s.IsNotFound()) return StoreError(c, s);
    }
  }
  WriteBatch batch;
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) batch.Put(c.args[i], c.args[i + 1]);
  if (Status s = c.db.Write(batch); !s.ok()) return StoreError(c, s);
  if (nx) return reply::Integer(c.out, 1);
  Ok(c);
}
void MSet(CommandContext& c) { MSetGeneric(c, false); }
void MSetNx(CommandContext& c) { MSetGeneric(c, true); }

void Del(CommandContext& c) {
  auto keys = Keys(c.args, 1);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  KeyLocks::Guard lock(&c.server.key_locks(), keys);
  WriteBatch batch;
  int64_t n = 0;
  for (std::string_view k : keys) {
    const Status s = c.db.Contains(k);
    if (s.ok()) {
      batch.Delete(k);
      n++;
    } else if (!s.IsNotFound()) {
      return StoreError(c, s);
    }
  }
  if (Status s = c.db.Write(batch); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, n);
}

void Exists(CommandContext& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); i++) {
    const Status s = c.db.Contains(c.args[i]);
    if (s.ok()) {
      n++;
    } else if (!s.IsNotFound()) {
      return StoreError(c, s);
    }
  }
  reply::Integer(c.out, n);
}

// INCR, DECR, INCRBY, DECRBY: integer arithmetic that keeps the key's TTL, as Redis does.
// One DB::Update: the engine finds the key once for the read and the write. (The key lock
// still orders it against the commands that read and write with separate calls.) APPEND
// works the same way.
void IncrBy(CommandContext& c, int64_t delta) {
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  struct {
    int64_t delta, next = 0;
    bool not_integer = false, overflow = false;
  } st{delta};
  const Status s = c.db.Update(
      key, [&st](const std::string* cur, uint64_t*, std::string* out) {  // the TTL stays
        int64_t current = 0;
        if (cur != nullptr && !ParseInt(*cur, &current)) {
          st.not_integer = true;
          return DB::UpdateAction::kKeep;
        }
        if (__builtin_add_overflow(current, st.delta, &st.next)) {
          st.overflow = true;
          return DB::UpdateAction::kKeep;
        }
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, st.next);
        out->assign(buf, r.ptr);
        return DB::UpdateAction::kPut;
      });
  if (!s.ok()) return StoreError(c, s);
  if (st.not_integer) return NotInteger(c);
  if (st.overflow) return Err(c, "ERR increment or decrement would overflow");
  reply::Integer(c.out, st.next);
}
void Incr(CommandContext& c) { IncrBy(c, 1); }
void Decr(CommandContext& c) { IncrBy(c, -1); }
void IncrByCmd(CommandContext& c) {
  int64_t d;
  if (!ParseInt(c.args[2], &d)) return NotInteger(c);
  IncrBy(c, d);
}
void DecrByCmd(CommandContext& c) {
  int64_t d;
  if (!ParseInt(c.args[2], &d)) return NotInteger(c);
  if (d == INT64_MIN) return Err(c, "ERR decrement would overflow");
  IncrBy(c, -d);
}

void IncrByFloat(CommandContext& c) {
  long double delta;
  if (!ParseFloat(c.args[2], &delta)) return Err(c, "ERR value is not a valid float");
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  Stored cur;
  if (!ReadForUpdate(c, key, &cur)) return;
  long double current = 0;
  if (cur.exists && !ParseFloat(cur.value, &current)) {
    return Err(c, "ERR value is not a valid float");
  }
  const long double next = current + delta;
  if (std::isnan(next) || std::isinf(next)) {
    return Err(c, "ERR increment would produce NaN or Infinity");
  }
  // As Redis prints it: fixed point, 17 digits, trailing zeros (and a bare '.') dropped.
  char buf[5120];
  int n = std::snprintf(buf, sizeof buf, "%.17Lf", next);
  std::string text(buf, static_cast<size_t>(std::max(n, 0)));
  if (text.find('.') != std::string::npos) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  if (Status s = PutWithExpiry(c.db, key, text, cur.expiry); !s.ok()) {
    return StoreError(c, s);
  }
  reply::Bulk(c.out, text);
}

// One DB::Update, as IncrBy; the TTL stays.
void Append(CommandContext& c) {
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  struct {
    std::string_view suffix;
    uint64_t limit;
    size_t length = 0;
    bool too_long = false;
  } st{c.args[2], c.server.config().proto_max_bulk_len};
  const Status s = c.db.Update(
      key, [&st](const std::string* cur, uint64_t*, std::string* next) {
        const size_t had = cur == nullptr ? 0 : cur->size();
        if (had + st.suffix.size() > st.limit) {
          st.too_long = true;
          return DB::UpdateAction::kKeep;
        }
        next->reserve(had + st.suffix.size());
        if (cur != nullptr) next->assign(*cur);
        next->append(st.suffix);
        st.length = next->size();
        return DB::UpdateAction::kPut;
      });
  if (!s.ok()) return StoreError(c, s);
  if (st.too_long) return Err(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  reply::Integer(c.out, static_cast<int64_t>(st.length));
}

void StrLen(CommandContext& c) {
  std::string value;
  const Status s = c.db.Get(c.args[1], &value);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  reply::Integer(c.out, static_cast<int64_t>(value.size()));
}

void GetRange(CommandContext& c) {
  int64_t start, end;
  if (!ParseInt(c.args[2], &start) || !ParseInt(c.args[3], &end)) return NotInteger(c);
  std::string value;
  const Status s = c.db.Get(c.args[1], &value);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  const int64_t len = static_cast<int64_t>(value.size());
  if (start < 0 && end < 0 && start > end) return reply::Bulk(c.out, "");
  if (start < 0) start = std::max<int64_t>(0, len + start);
  if (end < 0) end = std::max<int64_t>(0, len + end);
  if (end >= len) end = len - 1;
  if (len == 0 || start > end) return reply::Bulk(c.out, "");
  reply::Bulk(c.out, std::string_view(value).substr(size_t(start), size_t(end - start + 1)));
}

void SetRange(CommandContext& c) {
  int64_t offset;
  if (!ParseInt(c.args[2], &offset)) return NotInteger(c);
  if (offset < 0) return Err(c, "ERR offset is out of range");
  const std::string_view patch = c.args[3];
  if (uint64_t(offset) + patch.size() > c.server.config().proto_max_bulk_len) {
    return Err(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  Stored cur;
  if (!ReadForUpdate(c, key, &cur)) return;
  if (patch.empty()) return reply::Integer(c.out, static_cast<int64_t>(cur.value.size()));
  if (cur.value.size() < uint64_t(offset) + patch.size()) {
    cur.value.resize(size_t(offset) + patch.size(), '\0');
  }
  cur.value.replace(size_t(offset), patch.size(), patch);
  if (Status s = PutWithExpiry(c.db, key, cur.value, cur.expiry); !s.ok()) {
    return StoreError(c, s);
  }
  reply::Integer(c.out, static_cast<int64_t>(cur.value.size()));
}

// ---- Keys and expiry ----------------------------------------------------------------------

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT].
void ExpireGeneric(CommandContext& c, bool seconds, bool relative) {
  int64_t t;
  if (!ParseInt(c.args[2], &t)) return NotInteger(c);
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < c.args.size(); i++) {
    if (IEquals(c.args[i], "nx")) nx = true;
    else if (IEquals(c.args[i], "xx")) xx = true;
    else if (IEquals(c.args[i], "gt")) gt = true;
    else if (IEquals(c.args[i], "lt")) lt = true;
    else return Err(c, "ERR Unsupported option " + std::string(c.args[i]));
  }
  if (nx && (xx || gt || lt)) {
    return Err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return Err(c, "ERR GT and LT options at the same time are not compatible");
  const std::string name = Lower(c.args[0]);
  int64_t at = t;
  if ((seconds && __builtin_mul_overflow(t, int64_t{1000}, &at)) ||
      (relative && __builtin_add_overflow(at, NowUnixMillis(), &at))) {
    return Err(c, "ERR invalid expire time in '" + name + "' command");
  }
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  Stored cur;
  if (!ReadForUpdate(c, key, &cur)) return;
  if (!cur.exists) return reply::Integer(c.out, 0);
  // No expiry counts as infinitely far away.
  const bool has = cur.expiry != 0;
  if ((nx && has) || (xx && !has) || (gt && (!has || uint64_t(at) <= cur.expiry)) ||
      (lt && has && uint64_t(at) >= cur.expiry)) {
    return reply::Integer(c.out, 0);
  }
  if (at <= NowUnixMillis()) {  // in the past: the key goes now
    if (Status s = c.db.Delete(key); !s.ok() && !s.IsNotFound()) return StoreError(c, s);
    return reply::Integer(c.out, 1);
  }
  if (Status s = PutWithExpiry(c.db, key, cur.value, uint64_t(at)); !s.ok()) {
    return StoreError(c, s);
  }
  reply::Integer(c.out, 1);
}
void Expire(CommandContext& c) { ExpireGeneric(c, true, true); }
void PExpire(CommandContext& c) { ExpireGeneric(c, false, true); }
void ExpireAt(CommandContext& c) { ExpireGeneric(c, true, false); }
void PExpireAt(CommandContext& c) { ExpireGeneric(c, false, false); }

void TtlGeneric(CommandContext& c, bool millis) {
  uint64_t expiry = 0;
  const Status s = c.db.GetWithExpiry(c.args[1], nullptr, &expiry);
  if (s.IsNotFound()) return reply::Integer(c.out, -2);
  if (!s.ok()) return StoreError(c, s);
  if (expiry == 0) return reply::Integer(c.out, -1);
  const int64_t left = std::max<int64_t>(0, int64_t(expiry) - NowUnixMillis());
  reply::Integer(c.out, millis ? left : (left + 500) / 1000);
}
void Ttl(CommandContext& c) { TtlGeneric(c, false); }
void PTtl(CommandContext& c) { TtlGeneric(c, true); }

void Persist(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  Stored cur;
  if (!ReadForUpdate(c, c.args[1], &cur)) return;
  if (!cur.exists || cur.expiry == 0) return reply::Integer(c.out, 0);
  if (Status s = c.db.Put(c.args[1], cur.value); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, 1);
}

void Type(CommandContext& c) {
  const Status s = c.db.Contains(c.args[1]);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  reply::Simple(c.out, s.ok() ? "string" : "none");
}

void RenameGeneric(CommandContext& c, bool nx) {
  const std::string_view from = c.args[1], to = c.args[2];
  KeyLocks::Guard lock(&c.server.key_locks(), {from, to});
  Stored cur;
  if (!ReadForUpdate(c, from, &cur)) return;
  if (!cur.exists) return Err(c, "ERR no such key");
  if (nx) {
    const Status s = c.db.Contains(to);
    if (s.ok()) return reply::Integer(c.out, 0);
    if (!s.IsNotFound()) return StoreError(c, s);
  }
  if (from != to) {
    WriteBatch batch;
    batch.Put(to, cur.value, cur.expiry);
    batch.Delete(from);
    if (Status s = c.db.Write(batch); !s.ok()) return StoreError(c, s);
  }
  if (nx) return reply::Integer(c.out, 1);
  Ok(c);
}
void Rename(CommandContext& c) { RenameGeneric(c, false); }
void RenameNx(CommandContext& c) { RenameGeneric(c, true); }

// Visits keys in order after `after` (all if empty) that start with `prefix`, calling
// fn(key) until it returns false. Returns false if a read failed (replied).
template <typename Fn>
bool ForKeys(CommandContext& c, std::string_view prefix, const std::string& after, Fn&& fn) {
  IteratorOptions o;
  o.prefix = std::string(prefix);
  auto it = c.db.NewIterator(o);
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after);
    if (it->Valid() && it->key() == after) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    if (!fn(it->key())) break;
  }
  if (!it->status().ok()) {
    StoreError(c, it->status());
    return false;
  }
  return true;
}

// KEYS pattern: the keys at one moment, as Redis's (which holds the server while it runs): a
// transaction or RENAME on another connection is in them whole or not at all.
void KeysCmd(CommandContext& c) {
  const std::string_view pattern = c.args[1];
  std::vector<std::string> keys;
  if (Status s = c.db.Keys(&keys, GlobLiteralPrefix(pattern)); !s.ok()) return StoreError(c, s);
  std::erase_if(keys, [&](const std::string& k) { return !GlobMatch(pattern, k); });
  reply::ArrayHeader(c.out, keys.size());
  for (const auto& k : keys) reply::Bulk(c.out, k);
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: walks keys in order; the cursor
// stands for the last key visited (see ScanCursors).
void Scan(CommandContext& c) {
  uint64_t cursor;
  if (!ParseUint(c.args[1], &cursor)) return Err(c, "ERR invalid cursor");
  std::string_view pattern;
  bool has_pattern = false, strings_only = true;
  int64_t count = 10;
  for (size_t i = 2; i < c.args.size(); i++) {
    if (IEquals(c.args[i], "match") && i + 1 < c.args.size()) {
      pattern = c.args[++i];
      has_pattern = true;
    } else if (IEquals(c.args[i], "count") && i + 1 < c.args.size()) {
      if (!ParseInt(c.args[++i], &count)) return NotInteger(c);
      if (count < 1) return SyntaxError(c);
    } else if (IEquals(c.args[i], "type") && i + 1 < c.args.size()) {
      strings_only = IEquals(c.args[++i], "string");
    } else {
      return SyntaxError(c);
    }
  }
  std::string after;
  if (cursor != 0 && !c.server.cursors().Find(cursor, &after)) {
    return Err(c, "ERR invalid cursor");
  }
  const std::string_view prefix = has_pattern ? GlobLiteralPrefix(pattern) : std::string_view();
  std::vector<std::string> found;
  int64_t visited = 0;
  std::string last;
  bool more = false;
  if (!ForKeys(c, prefix, after, [&](std::string_view k) {
        if (visited == count) {
          more = true;
          return false;
        }
        visited++;
        last = k;
        if (strings_only && (!has_pattern || GlobMatch(pattern, k))) found.emplace_back(k);
        return true;
      })) {
    return;
  }
  reply::ArrayHeader(c.out, 2);
  reply::Bulk(c.out, more ? std::to_string(c.server.cursors().Save(last)) : "0");
  reply::ArrayHeader(c.out, found.size());
  for (const auto& k : found) reply::Bulk(c.out, k);
}

void DbSize(CommandContext& c) {
  uint64_t n;
  if (Status s = c.db.Count(&n); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, static_cast<int64_t>(n));
}

// FLUSHDB / FLUSHALL [ASYNC|SYNC]: every key goes in one atomic batch (a crash leaves all or
// nothing), then a background merge gives the space back.
void Flush(CommandContext& c) {
  if (c.args.size() > 2 || (c.args.size() == 2 && !IEquals(c.args[1], "async") &&
                            !IEquals(c.args[1], "sync"))) {
    return SyntaxError(c);
  }
  std::vector<std::string> keys;
  if (Status s = c.db.Keys(&keys); !s.ok()) return StoreError(c, s);
  WriteBatch batch;
  for (const auto& k : keys) batch.Delete(k);
  if (Status s = c.db.Write(batch); !s.ok()) return StoreError(c, s);
  ServerState* server = &c.server;
  auto after = [server] {
    server->key_locks().TouchAll();  // every watched key counts as written
    server->StartBackground("merge after flush", [server] { return server->db().Merge(); });
  };
  // Inside EXEC the deletes reach the store with the transaction's batch: after that.
  if (auto* tx = dynamic_cast<TransactionView*>(&c.db)) {
    tx->AfterCommit(std::move(after));
  } else {
    after();
  }
  Ok(c);
}

// ---- Introspection ------------------------------------------------------------------------

void AppendInfoLine(std::string* s, std::string_view name, const std::string& value) {
  s->append(name);
  s->push_back(':');
  // One line per field, whatever a value holds (an error message naming a path, say).
  for (char c : value) s->push_back(c == '\r' || c == '\n' ? ' ' : c);
  s->append("\r\n");
}

// The process's resident memory, in bytes, from one read of /proc/self/status: all of it
// (VmRSS), the anonymous part (RssAnon: heap, key directory, buffers) and the pages of mapped
// files (RssFile: the data files, which the kernel can drop and read again). 0 for a field
// that cannot be read.
struct Resident {
  uint64_t all = 0, anon = 0, file = 0;
};

Resident ReadResident() {
  Resident r;
  const std::pair<std::string_view, uint64_t*> fields[] = {
      {"VmRSS:", &r.all}, {"RssAnon:", &r.anon}, {"RssFile:", &r.file}};
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      for (const auto& [name, out] : fields) {
        if (std::string_view(line).starts_with(name)) {
          *out = std::strtoull(line + name.size(), nullptr, 10) * 1024;  // "NNN kB"
        }
      }
    }
    std::fclose(f);
  }
  return r;
}

// Redis's bytesToHuman: 1023B, 1.00K, 2.50M, ...
std::string HumanBytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"K", "M", "G", "T", "P"};
  if (n < 1024) return std::to_string(n) + "B";
  double v = double(n) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    unit++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, kUnits[unit]);
  return buf;
}

double CpuSeconds(const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; }

void Info(CommandContext& c) {
  std::vector<std::string> wanted;
  for (size_t i = 1; i < c.args.size(); i++) wanted.push_back(Lower(c.args[i]));
  const bool all = wanted.empty() || std::count(wanted.begin(), wanted.end(), "all") ||
                   std::count(wanted.begin(), wanted.end(), "everything");
  auto want = [&](const char* section, bool by_default = true) {
    return (all && by_default) || std::count(wanted.begin(), wanted.end(), section) ||
           (wanted.empty() && by_default) ||
           (std::count(wanted.begin(), wanted.end(), "default") && by_default);
  };
  ServerState& srv = c.server;
  const ServerConfig cfg = srv.config();
  Stats st;
  const Status ss = srv.db().GetStats(&st);
  if (!ss.ok()) return StoreError(c, ss);
  const int64_t uptime = (NowUnixMillis() - srv.start_unix_ms) / 1000;
  std::string s;
  if (want("server")) {
    s += "# Server\r\n";
    AppendInfoLine(&s, "redis_version", "7.0.0");
    AppendInfoLine(&s, "bitcask_version", "0.1.0");
    AppendInfoLine(&s, "redis_mode", "standalone");
    AppendInfoLine(&s, "os", "Linux");
    AppendInfoLine(&s, "arch_bits", "64");
    AppendInfoLine(&s, "process_id", std::to_string(getpid()));
    AppendInfoLine(&s, "tcp_port", std::to_string(srv.bound_port));
    AppendInfoLine(&s, "uptime_in_seconds", std::to_string(uptime));
    AppendInfoLine(&s, "uptime_in_days", std::to_string(uptime / 86400));
    s += "\r\n";
  }
  if (want("clients")) {
    s += "# Clients\r\n";
    AppendInfoLine(&s, "connected_clients", std::to_string(srv.connected_clients.load()));
    AppendInfoLine(&s, "maxclients", std::to_string(cfg.maxclients));
    AppendInfoLine(&s, "blocked_clients", std::to_string(srv.blocked_clients.load()));
    s += "\r\n";
  }
  if (want("memory")) {
    // used_memory: what the server itself holds in memory (Redis: what its allocator holds).
    // The mapped data files' pages are page cache, counted apart: the kernel can drop them.
    s += "# Memory\r\n";
    const Resident resident = ReadResident();
    AppendInfoLine(&s, "used_memory", std::to_string(resident.anon));
    AppendInfoLine(&s, "used_memory_human", HumanBytes(resident.anon));
    AppendInfoLine(&s, "used_memory_rss", std::to_string(resident.all));
    AppendInfoLine(&s, "used_memory_rss_human", HumanBytes(resident.all));
    AppendInfoLine(&s, "maxmemory", "0");
    AppendInfoLine(&s, "maxmemory_human", "0B");
    AppendInfoLine(&s, "maxmemory_policy", "noeviction");
    AppendInfoLine(&s, "keydir_bytes", std::to_string(st.keydir_bytes));
    AppendInfoLine(&s, "bitcask_mapped_file_rss", std::to_string(resident.file));
    s += "\r\n";
  }
  if (want("persistence")) {
    s += "# Persistence\r\n";
    AppendInfoLine(&s, "loading", "0");
    AppendInfoLine(&s, "aof_enabled", "1");
    AppendInfoLine(&s, "aof_rewrite_in_progress", srv.background_running() ? "1" : "0");
    // Redis's field for "did the last rewrite work", which monitoring already watches: here
    // the last merge, automatic ones included.
    AppendInfoLine(&s, "aof_last_bgrewrite_status", st.last_merge_error.empty() ? "ok" : "err");
    // Redis's field for a failed append or fsync: here a failed flush, after which every
    // write is refused until a restart (bitcask_write_error says why).
    AppendInfoLine(&s, "aof_last_write_status", st.write_error.empty() ? "ok" : "err");
    AppendInfoLine(&s, "bitcask_write_error", st.write_error);
    AppendInfoLine(&s, "last_save_time", std::to_string(srv.last_save_unix.load()));
    AppendInfoLine(&s, "last_background_job", srv.background_last());
    AppendInfoLine(&s, "bitcask_sync", cfg.sync);
    AppendInfoLine(&s, "bitcask_data_files", std::to_string(st.data_files));
    AppendInfoLine(&s, "bitcask_total_bytes", std::to_string(st.total_bytes));
    AppendInfoLine(&s, "bitcask_dead_bytes", std::to_string(st.dead_bytes));
    char frag[32];
    std::snprintf(frag, sizeof frag, "%.4f",
                  st.total_bytes ? double(st.dead_bytes) / double(st.total_bytes) : 0.0);
    AppendInfoLine(&s, "bitcask_fragmentation", frag);
    AppendInfoLine(&s, "bitcask_merges", std::to_string(st.merges));
    AppendInfoLine(&s, "bitcask_merge_seconds", std::to_string(st.merge_micros / 1e6));
    AppendInfoLine(&s, "bitcask_merge_bytes_reclaimed", std::to_string(st.merge_bytes_reclaimed));
    AppendInfoLine(&s, "bitcask_merge_failures", std::to_string(st.merge_failures));
    AppendInfoLine(&s, "bitcask_last_merge_error", st.last_merge_error);
    AppendInfoLine(&s, "bitcask_syncs", std::to_string(st.syncs));
    AppendInfoLine(&s, "bitcask_open_seconds", std::to_string(st.open_micros / 1e6));
    s += "\r\n";
  }
  if (want("stats")) {
    s += "# Stats\r\n";
    AppendInfoLine(&s, "total_connections_received", std::to_string(srv.total_connections.load()));
    AppendInfoLine(&s, "total_commands_processed", std::to_string(srv.total_commands.load()));
    AppendInfoLine(&s, "rejected_connections", std::to_string(srv.rejected_connections.load()));
    AppendInfoLine(&s, "keyspace_hits", std::to_string(srv.keyspace_hits.load()));
    AppendInfoLine(&s, "keyspace_misses", std::to_string(srv.keyspace_misses.load()));
    AppendInfoLine(&s, "total_error_replies", std::to_string([&] {
                     uint64_t n = 0;
                     for (size_t i = 0; i < srv.command_count(); i++) n += srv.command_stats(i).errors;
                     return n;
                   }()));
    AppendInfoLine(&s, "acl_access_denied_auth", std::to_string(srv.auth_failures.load()));
    AppendInfoLine(&s, "bitcask_puts", std::to_string(st.puts));
    AppendInfoLine(&s, "bitcask_gets", std::to_string(st.gets));
    AppendInfoLine(&s, "bitcask_deletes", std::to_string(st.deletes));
    char lat[256];
    std::snprintf(lat, sizeof lat, "p50=%.2f,p99=%.2f,p999=%.2f", st.get_latency.p50_us,
                  st.get_latency.p99_us, st.get_latency.p999_us);
    AppendInfoLine(&s, "bitcask_get_latency_us", lat);
    std::snprintf(lat, sizeof lat, "p50=%.2f,p99=%.2f,p999=%.2f", st.put_latency.p50_us,
                  st.put_latency.p99_us, st.put_latency.p999_us);
    AppendInfoLine(&s, "bitcask_put_latency_us", lat);
    s += "\r\n";
  }
  if (want("replication")) {
    s += "# Replication\r\n";
    AppendInfoLine(&s, "role", "master");
    AppendInfoLine(&s, "connected_slaves", "0");
    AppendInfoLine(&s, "master_repl_offset", "0");
    s += "\r\n";
  }
  if (want("cpu")) {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    char t[32];
    s += "# CPU\r\n";
    std::snprintf(t, sizeof t, "%.6f", CpuSeconds(ru.ru_stime));
    AppendInfoLine(&s, "used_cpu_sys", t);
    std::snprintf(t, sizeof t, "%.6f", CpuSeconds(ru.ru_utime));
    AppendInfoLine(&s, "used_cpu_user", t);
    s += "\r\n";
  }
  if (want("commandstats", false)) {
    s += "# Commandstats\r\n";
    const auto& table = AllCommands();
    for (size_t i = 0; i < table.size(); i++) {
      const CommandStats& cs = srv.command_stats(i);
      const uint64_t calls = cs.calls;
      if (calls == 0 && cs.rejected.load() == 0) continue;
      char line[256];
      std::snprintf(line, sizeof line,
                    "calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                    (unsigned long long)calls, (unsigned long long)(cs.nanos.load() / 1000),
                    calls ? double(cs.nanos.load()) / 1000.0 / double(calls) : 0.0,
                    (unsigned long long)cs.rejected.load(), (unsigned long long)cs.errors.load());
      AppendInfoLine(&s, std::string("cmdstat_") + table[i].name, line);
    }
    s += "\r\n";
  }
  if (want("keyspace")) {
    s += "# Keyspace\r\n";
    if (st.live_keys > 0) {
      AppendInfoLine(&s, "db0", "keys=" + std::to_string(st.live_keys) +
                                    ",expires=" + std::to_string(st.expiring_keys) +
                                    ",avg_ttl=" + std::to_string(st.avg_ttl_ms));
    }
    s += "\r\n";
  }
  reply::Bulk(c.out, s);
}

// CONFIG GET pattern... / CONFIG SET name value... / CONFIG RESETSTAT.
struct ConfigParam {
  const char* name;
  bool mutable_at_runtime;
  std::string (*get)(const ServerConfig&);
  // Returns an error text, or empty on success.
  std::string (*set)(ServerConfig*, std::string_view);
};

std::string SetUint(uint64_t* field, std::string_view v) {
  uint64_t n;
  if (!ParseUint(v, &n)) return "argument couldn't be parsed into an integer";
  *field = n;
  return "";
}

const std::vector<ConfigParam>& ConfigParams() {
  static const std::vector<ConfigParam> params = {
      {"port", false, [](const ServerConfig& c) { return std::to_string(c.port); }, nullptr},
      {"bind", false, [](const ServerConfig& c) { return c.bind; }, nullptr},
      {"dir", false, [](const ServerConfig& c) { return c.dir; }, nullptr},
      {"databases", false, [](const ServerConfig&) { return std::string("1"); }, nullptr},
      {"appendonly", false, [](const ServerConfig&) { return std::string("yes"); }, nullptr},
      {"appendfsync", false,
       [](const ServerConfig& c) {
         return std::string(c.sync == "always" ? "always" : c.sync == "interval" ? "everysec" : "no");
       },
       nullptr},
      {"save", false, [](const ServerConfig&) { return std::string(); }, nullptr},
      {"requirepass", true, [](const ServerConfig& c) { return c.requirepass; },
       [](ServerConfig* c, std::string_view v) {
         c->requirepass = v;
         return std::string();
       }},
      {"maxclients", true, [](const ServerConfig& c) { return std::to_string(c.maxclients); },
       [](ServerConfig* c, std::string_view v) {
         uint64_t n;
         if (!ParseUint(v, &n)) return std::string("argument couldn't be parsed into an integer");
         // Raises the limit on open files to fit them, as at start-up (Redis's message).
         const ClientRoom room = MakeRoomForClients(n, ReservedDescriptors(EventLoops(*c)));
         if (room.clients < n) {
           return "The operating system is not able to handle the specified number of "
                  "clients, try with " + std::to_string(room.clients) +
                  " (the limit on open files, ulimit -n, is " +
                  std::to_string(room.open_files) + ")";
         }
         c->maxclients = n;
         return std::string();
       }},
      {"timeout", true, [](const ServerConfig& c) { return std::to_string(c.timeout_seconds); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->timeout_seconds, v); }},
      {"proto-max-bulk-len", true,
       [](const ServerConfig& c) { return std::to_string(c.proto_max_bulk_len); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->proto_max_bulk_len, v); }},
      {"client-query-buffer-limit", true,
       [](const ServerConfig& c) { return std::to_string(c.client_query_buffer_limit); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->client_query_buffer_limit, v); }},
      {"loglevel", true, [](const ServerConfig& c) { return c.loglevel; },
       [](ServerConfig* c, std::string_view v) {
         if (v != "debug" && v != "verbose" && v != "notice" && v != "warning") {
           return std::string("argument(s) must be one of: debug, verbose, notice, warning");
         }
         c->loglevel = v;
         return std::string();
       }},
      {"bitcask-sync", false, [](const ServerConfig& c) { return c.sync; }, nullptr},
      {"bitcask-sync-interval-ms", false,
       [](const ServerConfig& c) { return std::to_string(c.sync_interval_ms); }, nullptr},
      {"bitcask-max-file-size", false,
       [](const ServerConfig& c) { return std::to_string(c.max_file_size); }, nullptr},
      {"bitcask-compression", false, [](const ServerConfig& c) { return c.compression; }, nullptr},
      {"http-port", false, [](const ServerConfig& c) { return std::to_string(c.http_port); },
       nullptr},
      {"http-metrics-auth", true,
       [](const ServerConfig& c) { return std::string(c.http_metrics_auth ? "yes" : "no"); },
       [](ServerConfig* c, std::string_view v) {
         if (v != "yes" && v != "no") return std::string("argument must be 'yes' or 'no'");
         c->http_metrics_auth = v == "yes";
         return std::string();
       }},
      {"busy-poll-us", false, [](const ServerConfig& c) { return std::to_string(c.busy_poll_us); },
       nullptr},
  };
  return params;
}

void Config(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  if (sub == "get" && c.args.size() >= 3) {
    const ServerConfig cfg = c.server.config();
    std::vector<std::pair<std::string, std::string>> found;
    for (const ConfigParam& p : ConfigParams()) {
      for (size_t i = 2; i < c.args.size(); i++) {
        if (GlobMatch(Lower(c.args[i]), p.name)) {
          found.emplace_back(p.name, p.get(cfg));
          break;
        }
      }
    }
    reply::ArrayHeader(c.out, found.size() * 2);
    for (const auto& [k, v] : found) {
      reply::Bulk(c.out, k);
      reply::Bulk(c.out, v);
    }
    return;
  }
  if (sub == "set" && c.args.size() >= 4 && c.args.size() % 2 == 0) {
    // Check everything first, then apply: all or nothing, as Redis does.
    ServerConfig next = c.server.config();
    for (size_t i = 2; i < c.args.size(); i += 2) {
      const std::string name = Lower(c.args[i]);
      auto p = std::find_if(ConfigParams().begin(), ConfigParams().end(),
                            [&](const ConfigParam& x) { return name == x.name; });
      if (p == ConfigParams().end()) {
        return Err(c, "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'");
      }
      if (!p->mutable_at_runtime) {
        return Err(c, "ERR CONFIG SET failed (possibly related to argument '" + name +
                          "') - can't set immutable config");
      }
      if (std::string e = p->set(&next, c.args[i + 1]); !e.empty()) {
        return Err(c, "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + e);
      }
    }
    c.server.UpdateConfig([&](ServerConfig* cfg) { *cfg = next; });
    return Ok(c);
  }
  if (sub == "resetstat" && c.args.size() == 2) {
    for (size_t i = 0; i < c.server.command_count(); i++) {
      c.server.command_stats(i).calls.Reset();
      c.server.command_stats(i).nanos.Reset();
      c.server.command_stats(i).errors.Reset();
      c.server.command_stats(i).rejected.Reset();
    }
    c.server.keyspace_hits.Reset();
    c.server.keyspace_misses.Reset();
    c.server.total_commands.Reset();
    return Ok(c);
  }
  if (sub == "rewrite") return Err(c, "ERR The server is running without a config file");
  if (sub == "get" || sub == "set" || sub == "resetstat") return SubcommandArity(c);
  UnknownSubcommand(c);
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

// ---- Transactions -------------------------------------------------------------------------
// MULTI queues the commands that follow; EXEC runs them with the stripes of every key they
// name (and every watched key) held, so no other client's write of those keys comes between
// them, and answers with the array of their replies. WATCH makes EXEC answer a null array,
// running nothing, if a watched key was written since.

void Multi(CommandContext& c) {
  if (c.client.tx.active) return Err(c, "ERR MULTI calls can not be nested");
  c.client.tx.active = true;
  Ok(c);
}

void Discard(CommandContext& c) {
  if (!c.client.tx.active) return Err(c, "ERR DISCARD without MULTI");
  c.client.tx = Transaction();
  Ok(c);
}

void Watch(CommandContext& c) {
  if (c.client.tx.active) return Err(c, "ERR WATCH inside MULTI is not allowed");
  for (size_t i = 1; i < c.args.size(); i++) {
    c.client.tx.watched.emplace_back(std::string(c.args[i]),
                                     c.server.key_locks().Version(c.args[i]));
  }
  Ok(c);
}

void Unwatch(CommandContext& c) {
  c.client.tx.watched.clear();
  Ok(c);
}

// The keys a command names, by its table row (as COMMAND GETKEYS would list them).
void AddCommandKeys(const CommandSpec& spec, const Args& args,
                    std::vector<std::string_view>* keys) {
  if (spec.first_key <= 0) return;
  const int last = spec.last_key < 0 ? int(args.size()) + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < int(args.size()); i += spec.key_step) {
    keys->push_back(args[size_t(i)]);
  }
}

void Exec(CommandContext& c) {
  if (!c.client.tx.active) return Err(c, "ERR EXEC without MULTI");
  Transaction tx = std::move(c.client.tx);
  c.client.tx = Transaction();
  if (tx.failed) {
    return Err(c, "EXECABORT Transaction discarded because of previous errors.");
  }
  std::vector<Args> commands(tx.queued.size());
  std::vector<std::string_view> keys;
  for (size_t i = 0; i < tx.queued.size(); i++) {
    for (const std::string& a : tx.queued[i]) commands[i].push_back(a);
    AddCommandKeys(AllCommands()[size_t(FindCommand(commands[i][0]))], commands[i], &keys);
  }
  for (const auto& [key, version] : tx.watched) keys.push_back(key);
  KeyLocks::Guard lock(&c.server.key_locks(), keys, KeyLocks::Guard::Kind::kExec);
  for (const auto& [key, version] : tx.watched) {
    if (c.server.key_locks().Version(key) != version) return reply::NullArray(c.out);
  }
  // The commands run on a view of the store that keeps their writes; one batch writes them
  // all at the end (see server/transaction.h), before the replies go out.
  TransactionView view(&c.db);
  std::string replies;
  for (const Args& args : commands) DispatchTo(c.server, c.client, view, args, &replies);
  if (Status s = view.Commit(); !s.ok()) {
    return StoreError(c, s, "EXEC wrote nothing of the transaction: ");
  }
  // Watchers see the change now that it is in the store (the versions the commands' own
  // guards bumped changed before it was; a WATCH between those bumps and the commit read
  // the old value with the new version). The stripes are still held.
  view.ForEachWrittenKey([&](std::string_view key) { c.server.key_locks().Touch(key); });
  reply::ArrayHeader(c.out, commands.size());
  c.out->append(replies);
}

}  // namespace

const std::vector<CommandSpec>& AllCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const std::vector<CommandSpec> table = {
      {"ping", -1, kCmdFast, 0, 0, 0, Ping},
      {"multi", 1, kCmdFast, 0, 0, 0, Multi},
      {"exec", 1, 0, 0, 0, 0, Exec},
      {"discard", 1, kCmdFast, 0, 0, 0, Discard},
      {"watch", -2, kCmdFast, 1, -1, 1, Watch},
      {"unwatch", 1, kCmdFast, 0, 0, 0, Unwatch},
      {"echo", 2, kCmdFast, 0, 0, 0, Echo},
      {"quit", -1, kCmdFast | kCmdNoAuth, 0, 0, 0, Quit},
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
      {"checkpoint", 2, kCmdAdmin, 0, 0, 0, CheckpointCmd},
      {"info", -1, 0, 0, 0, 0, Info},
      {"config", -2, kCmdAdmin, 0, 0, 0, Config},
      {"command", -1, 0, 0, 0, 0, Command},
      {"dbsize", 1, kCmdReadOnly | kCmdFast, 0, 0, 0, DbSize},
      {"flushdb", -1, kCmdWrite, 0, 0, 0, Flush},
      {"flushall", -1, kCmdWrite, 0, 0, 0, Flush},
      {"get", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, Get},
      {"set", -3, kCmdWrite, 1, 1, 1, Set},
      {"setnx", 3, kCmdWrite | kCmdFast, 1, 1, 1, SetNx},
      {"setex", 4, kCmdWrite, 1, 1, 1, SetEx},
      {"psetex", 4, kCmdWrite, 1, 1, 1, PSetEx},
      {"getset", 3, kCmdWrite | kCmdFast, 1, 1, 1, GetSet},
      {"getdel", 2, kCmdWrite | kCmdFast, 1, 1, 1, GetDel},
      {"getex", -2, kCmdWrite | kCmdFast, 1, 1, 1, GetEx},
      {"mget", -2, kCmdReadOnly | kCmdFast, 1, -1, 1, MGet},
      {"mset", -3, kCmdWrite, 1, -1, 2, MSet},
      {"msetnx", -3, kCmdWrite, 1, -1, 2, MSetNx},
      {"del", -2, kCmdWrite, 1, -1, 1, Del},
      {"unlink", -2, kCmdWrite | kCmdFast, 1, -1, 1, Del},
      {"exists", -2, kCmdReadOnly | kCmdFast, 1, -1, 1, Exists},
      {"incr", 2, kCmdWrite | kCmdFast, 1, 1, 1, Incr},
      {"decr", 2, kCmdWrite | kCmdFast, 1, 1, 1, Decr},
      {"incrby", 3, kCmdWrite | kCmdFast, 1, 1, 1, IncrByCmd},
      {"decrby", 3, kCmdWrite | kCmdFast, 1, 1, 1, DecrByCmd},
      {"incrbyfloat", 3, kCmdWrite | kCmdFast, 1, 1, 1, IncrByFloat},
      {"append", 3, kCmdWrite | kCmdFast, 1, 1, 1, Append},
      {"strlen", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, StrLen},
      {"getrange", 4, kCmdReadOnly, 1, 1, 1, GetRange},
      {"setrange", 4, kCmdWrite, 1, 1, 1, SetRange},
      {"expire", -3, kCmdWrite | kCmdFast, 1, 1, 1, Expire},
      {"pexpire", -3, kCmdWrite | kCmdFast, 1, 1, 1, PExpire},
      {"expireat", -3, kCmdWrite | kCmdFast, 1, 1, 1, ExpireAt},
      {"pexpireat", -3, kCmdWrite | kCmdFast, 1, 1, 1, PExpireAt},
      {"ttl", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, Ttl},
      {"pttl", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, PTtl},
      {"persist", 2, kCmdWrite | kCmdFast, 1, 1, 1, Persist},
      {"type", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, Type},
      {"rename", 3, kCmdWrite, 1, 2, 1, Rename},
      {"renamenx", 3, kCmdWrite | kCmdFast, 1, 2, 1, RenameNx},
      {"keys", 2, kCmdReadOnly, 0, 0, 0, KeysCmd},
      {"scan", -2, kCmdReadOnly, 0, 0, 0, Scan},
  };
  return table;
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

bool IsPlainGet(const Client& client, const Args& args) {
  return args.size() == 2 && client.authenticated && !client.tx.active && args[0].size() == 3 &&
         (args[0][0] | 0x20) == 'g' && (args[0][1] | 0x20) == 'e' && (args[0][2] | 0x20) == 't';
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

// Inside MULTI: every command but these is queued for EXEC.
bool RunsInsideMulti(const CommandSpec& spec) {
  return spec.handler == Exec || spec.handler == Discard || spec.handler == Multi ||
         spec.handler == Watch || spec.handler == Quit;
}

// A command refused inside MULTI makes EXEC discard the transaction, as in Redis.
void FailTransaction(Client& client) {
  if (client.tx.active) client.tx.failed = true;
}

void Queue(ServerState& server, Client& client, const Args& args, std::string* out) {
  size_t bytes = 0;
  for (std::string_view a : args) bytes += a.size() + 16;
  if (client.tx.queued_bytes + bytes > server.config().client_query_buffer_limit) {
    client.tx.failed = true;
    return reply::Error(out, "ERR the transaction is larger than client-query-buffer-limit");
  }
  client.tx.queued_bytes += bytes;
  client.tx.queued.emplace_back(args.begin(), args.end());
  reply::Simple(out, "QUEUED");
}

}  // namespace

void Dispatch(ServerState& server, Client& client, const Args& args, std::string* out) {
  DispatchTo(server, client, server.db(), args, out);
}

void DispatchTo(ServerState& server, Client& client, DB& db, const Args& args,
                std::string* out) {
  if (args.empty()) return;
  server.total_commands++;
  const int idx = FindCommand(args[0]);
  if (idx < 0) {
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
  CommandContext ctx{server, client, db, args, out};
  CommandStats& cs = server.command_stats(size_t(idx));
  if ((spec.arity > 0 && int(args.size()) != spec.arity) ||
      (spec.arity < 0 && int(args.size()) < -spec.arity)) {
    cs.rejected.Add(1);
    FailTransaction(client);
    return WrongArgs(ctx);
  }
  if (!client.authenticated && !(spec.flags & kCmdNoAuth)) {
    cs.rejected.Add(1);
    FailTransaction(client);
    return reply::Error(out, "NOAUTH Authentication required.");
  }
  if (client.tx.active && !RunsInsideMulti(spec)) return Queue(server, client, args, out);
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
}

}  // namespace bitcask::server
