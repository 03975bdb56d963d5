// String commands: GET, SET and its variants, MGET, MSET, INCR..., APPEND, GETRANGE, SETRANGE
// (Redis's t_string.c).

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>

#include "server/command.h"

namespace bitcask::server {

namespace {

void Get(CommandContext& c) {
  // The reply is written from the stored bytes in place (GetView): no copy of the value.
  const size_t start = c.out->size();
  const Status s = c.keyspace.GetView(c.args[1], [&](std::string_view v) {
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
  Keyspace& db = c.keyspace;
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
  const Status present = c.keyspace.Contains(c.args[1]);
  if (present.ok()) return reply::Integer(c.out, 0);
  if (!present.IsNotFound()) return StoreError(c, present);
  if (Status s = c.keyspace.Put(c.args[1], c.args[2]); !s.ok()) return StoreError(c, s);
  reply::Integer(c.out, 1);
}

// SETEX key seconds value / PSETEX key milliseconds value.
void SetExGeneric(CommandContext& c, const char* unit, const char* name) {
  uint64_t expiry;
  if (!ParseExpiry(c, unit, c.args[2], name, &expiry)) return;
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  if (Status s = PutWithExpiry(c.keyspace, c.args[1], c.args[3], expiry); !s.ok()) {
    return StoreError(c, s);
  }
  Ok(c);
}
void SetEx(CommandContext& c) { SetExGeneric(c, "ex", "setex"); }
void PSetEx(CommandContext& c) { SetExGeneric(c, "px", "psetex"); }

void GetSet(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  std::string old;
  const Status s = c.keyspace.Get(c.args[1], &old);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  if (Status w = c.keyspace.Put(c.args[1], c.args[2]); !w.ok()) return StoreError(c, w);
  BulkOrNull(c, s, old);
}

void GetDel(CommandContext& c) {
  KeyLocks::Guard lock(&c.server.key_locks(), {c.args[1]});
  std::string value;
  const Status s = c.keyspace.Get(c.args[1], &value);
  if (s.ok()) {
    if (Status d = c.keyspace.Delete(c.args[1]); !d.ok() && !d.IsNotFound()) {
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
  const Status s = c.keyspace.Get(c.args[1], &value);
  if (s.ok() && change) {
    if (Status w = PutWithExpiry(c.keyspace, c.args[1], value, expiry); !w.ok()) {
      return StoreError(c, w);
    }
  }
  BulkOrNull(c, s, value);
}

// One MultiGet reads every key at one moment: no MSET or EXEC (one batch each) is half seen.
void MGet(CommandContext& c) {
  const auto keys = std::span(c.args).subspan(1);
  std::vector<std::string> values(keys.size());
  std::vector<Status> statuses(keys.size());
  c.keyspace.MultiGet(keys, values, statuses);
  reply::ArrayHeader(c.out, keys.size());
  ReplyValues(c.server, statuses, values, c.out);
}

void MSetGeneric(CommandContext& c, bool nx) {
  if (c.args.size() % 2 != 1) return WrongArgs(c);
  const auto keys = ArgsFrom(c.args, 1, 2);
  KeyLocks::Guard lock(&c.server.key_locks(), keys);
  if (nx) {
    for (std::string_view k : keys) {
      const Status s = c.keyspace.Contains(k);
      if (s.ok()) return reply::Integer(c.out, 0);
      if (!s.IsNotFound()) return StoreError(c, s);
    }
  }
  WriteBatch batch;
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) batch.Put(c.args[i], c.args[i + 1]);
  if (Status s = c.keyspace.Write(batch); !s.ok()) return StoreError(c, s);
  if (nx) return reply::Integer(c.out, 1);
  Ok(c);
}
void MSet(CommandContext& c) { MSetGeneric(c, false); }
void MSetNx(CommandContext& c) { MSetGeneric(c, true); }

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
  const Status s = c.keyspace.Update(
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
  if (Status s = PutWithExpiry(c.keyspace, key, text, cur.expiry); !s.ok()) {
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
  } st{c.args[2], static_cast<uint64_t>(c.server.config().proto_max_bulk_len)};
  const Status s =
      c.keyspace.Update(key, [&st](const std::string* cur, uint64_t*, std::string* next) {
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
  const Status s = c.keyspace.Get(c.args[1], &value);
  if (!s.ok() && !s.IsNotFound()) return StoreError(c, s);
  reply::Integer(c.out, static_cast<int64_t>(value.size()));
}

void GetRange(CommandContext& c) {
  int64_t start, end;
  if (!ParseInt(c.args[2], &start) || !ParseInt(c.args[3], &end)) return NotInteger(c);
  std::string value;
  const Status s = c.keyspace.Get(c.args[1], &value);
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
  if (uint64_t(offset) + patch.size() > uint64_t(c.server.config().proto_max_bulk_len)) {
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
  if (Status s = PutWithExpiry(c.keyspace, key, cur.value, cur.expiry); !s.ok()) {
    return StoreError(c, s);
  }
  reply::Integer(c.out, static_cast<int64_t>(cur.value.size()));
}

}  // namespace

std::span<const CommandSpec> StringCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
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
      {"incr", 2, kCmdWrite | kCmdFast, 1, 1, 1, Incr},
      {"decr", 2, kCmdWrite | kCmdFast, 1, 1, 1, Decr},
      {"incrby", 3, kCmdWrite | kCmdFast, 1, 1, 1, IncrByCmd},
      {"decrby", 3, kCmdWrite | kCmdFast, 1, 1, 1, DecrByCmd},
      {"incrbyfloat", 3, kCmdWrite | kCmdFast, 1, 1, 1, IncrByFloat},
      {"append", 3, kCmdWrite | kCmdFast, 1, 1, 1, Append},
      {"strlen", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, StrLen},
      {"getrange", 4, kCmdReadOnly, 1, 1, 1, GetRange},
      {"setrange", 4, kCmdWrite, 1, 1, 1, SetRange},
  };
  return kRows;
}

}  // namespace bitcask::server
