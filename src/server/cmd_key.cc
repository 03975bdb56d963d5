// Keyspace and expiry commands: DEL, EXISTS, EXPIRE..., TTL, PERSIST, TYPE, RENAME, KEYS,
// SCAN, DBSIZE, FLUSHDB (Redis's db.c and expire.c).

#include <algorithm>

#include "server/command.h"
#include "server/glob.h"

namespace bitcask::server {

namespace {

void Del(CommandContext& c) {
  auto keys = ArgsFrom(c.args, 1);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  KeyLocks::Guard lock(&c.server.key_locks(), keys);
  WriteBatch batch;
  int64_t n = 0;
  for (std::string_view k : keys) {
    const Status s = c.keyspace.Contains(k);
    if (s.ok()) {
      batch.Delete(k);
      n++;
    } else if (!s.IsNotFound()) {
      return StoreError(c, s);
    }
  }
  if (Status s = c.keyspace.Write(batch); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, n);
}

void Exists(CommandContext& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); i++) {
    const Status s = c.keyspace.Contains(c.args[i]);
    if (s.ok()) {
      n++;
    } else if (!s.IsNotFound()) {
      return StoreError(c, s);
    }
  }
  reply::Integer(c.out, n);
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT].
void ExpireGeneric(CommandContext& c, bool seconds, bool relative) {
  int64_t t;
  if (!ParseInt(c.args[2], &t)) return NotInteger(c);
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < c.args.size(); i++) {
    if (IEquals(c.args[i], "nx"))
      nx = true;
    else if (IEquals(c.args[i], "xx"))
      xx = true;
    else if (IEquals(c.args[i], "gt"))
      gt = true;
    else if (IEquals(c.args[i], "lt"))
      lt = true;
    else
      return Err(c, "ERR Unsupported option " + std::string(c.args[i]));
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
    if (Status s = c.keyspace.Delete(key); !s.ok() && !s.IsNotFound()) return StoreError(c, s);
    return reply::Integer(c.out, 1);
  }
  if (Status s = PutWithExpiry(c.keyspace, key, cur.value, uint64_t(at)); !s.ok()) {
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
  const Status s = c.keyspace.GetWithExpiry(c.args[1], nullptr, &expiry);
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
  if (Status s = c.keyspace.Put(c.args[1], cur.value); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, 1);
}

void Type(CommandContext& c) {
  const Status s = c.keyspace.Contains(c.args[1]);
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
    const Status s = c.keyspace.Contains(to);
    if (s.ok()) return reply::Integer(c.out, 0);
    if (!s.IsNotFound()) return StoreError(c, s);
  }
  if (from != to) {
    WriteBatch batch;
    batch.Put(to, cur.value, cur.expiry);
    batch.Delete(from);
    if (Status s = c.keyspace.Write(batch); !s.ok()) return StoreError(c, s);
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
  auto it = c.keyspace.NewIterator(o);
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
  if (Status s = c.keyspace.Keys(&keys, GlobLiteralPrefix(pattern)); !s.ok())
    return StoreError(c, s);
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
  if (Status s = c.keyspace.Count(&n); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, static_cast<int64_t>(n));
}

// FLUSHDB / FLUSHALL [ASYNC|SYNC]: every key goes in one atomic batch (a crash leaves all or
// nothing), then a background merge gives the space back.
void Flush(CommandContext& c) {
  if (c.args.size() > 2 ||
      (c.args.size() == 2 && !IEquals(c.args[1], "async") && !IEquals(c.args[1], "sync"))) {
    return SyntaxError(c);
  }
  if (Status s = FlushKeyspace(c.server, c.keyspace); !s.ok()) return StoreError(c, s);
  Ok(c);
}

}  // namespace

Status FlushKeyspace(ServerState& server, Keyspace& ks) {
  std::vector<std::string> keys;
  if (Status s = ks.Keys(&keys); !s.ok()) return s;
  WriteBatch batch;
  for (const auto& k : keys) batch.Delete(k);
  if (Status s = ks.Write(batch); !s.ok()) return s;
  // Inside EXEC the deletes reach the store with the transaction's batch: after that.
  ks.AfterCommit([&server] {
    server.key_locks().TouchAll();  // every watched key counts as written
    server.StartBackground("merge after flush", [&server] { return server.db().Merge(); });
  });
  return Status::OK();
}

std::span<const CommandSpec> KeyCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"del", -2, kCmdWrite, 1, -1, 1, Del},
      {"unlink", -2, kCmdWrite | kCmdFast, 1, -1, 1, Del},
      {"exists", -2, kCmdReadOnly | kCmdFast, 1, -1, 1, Exists},
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
      {"dbsize", 1, kCmdReadOnly | kCmdFast, 0, 0, 0, DbSize},
      {"flushdb", -1, kCmdWrite, 0, 0, 0, Flush},
      {"flushall", -1, kCmdWrite, 0, 0, 0, Flush},
  };
  return kRows;
}

}  // namespace bitcask::server
