// DUMP and RESTORE (Redis's cluster.c): a value as Redis's serialized form, an RDB object with
// the RDB version and a CRC-64 (server/rdb.h), so values move between bitcask-server and
// redis-server either way (redis-cli --cluster import, MIGRATE).

#include "server/command.h"
#include "server/rdb.h"

namespace bitcask::server {

namespace {

void Dump(CommandContext& c) {
  std::string value;
  const Status s = c.keyspace.Get(c.args[1], &value);
  if (s.IsNotFound()) return reply::Null(c.out);
  if (!s.ok()) return StoreError(c, s);
  reply::Bulk(c.out, rdb::DumpPayload(value));
}

// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]: checks in
// Redis's order (options, then an existing key, then the TTL, then the payload). IDLETIME and
// FREQ are validated and have no effect: the store keeps no access times.
void Restore(CommandContext& c) {
  bool replace = false, absttl = false, idletime = false, freq = false;
  for (size_t i = 4; i < c.args.size(); i++) {
    const bool has_value = i + 1 < c.args.size();
    if (IEquals(c.args[i], "replace")) {
      replace = true;
    } else if (IEquals(c.args[i], "absttl")) {
      absttl = true;
    } else if (IEquals(c.args[i], "idletime") && has_value && !freq) {
      int64_t idle;
      if (!ParseInt(c.args[++i], &idle)) return NotInteger(c);
      if (idle < 0) return Err(c, "ERR Invalid IDLETIME value, must be >= 0");
      idletime = true;
    } else if (IEquals(c.args[i], "freq") && has_value && !idletime) {
      int64_t f;
      if (!ParseInt(c.args[++i], &f)) return NotInteger(c);
      if (f < 0 || f > 255) return Err(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = true;
    } else {
      return SyntaxError(c);
    }
  }
  const std::string_view key = c.args[1];
  KeyLocks::Guard lock(&c.server.key_locks(), {key});
  const Status present = c.keyspace.Contains(key);
  if (!present.ok() && !present.IsNotFound()) return StoreError(c, present);
  if (present.ok() && !replace) return Err(c, "BUSYKEY Target key name already exists.");
  int64_t ttl;
  if (!ParseInt(c.args[2], &ttl)) return NotInteger(c);
  if (ttl < 0) return Err(c, "ERR Invalid TTL value, must be >= 0");
  std::string value;
  if (Status s = rdb::ParseDumpPayload(c.args[3], &value); !s.ok()) {
    return Err(c, "ERR " + std::string(s.message()));
  }
  if (ttl != 0 && !absttl && __builtin_add_overflow(ttl, NowUnixMillis(), &ttl)) {
    return Err(c, "ERR Invalid TTL value, must be >= 0");
  }
  if (ttl != 0 && ttl <= NowUnixMillis()) {
    // Already expired: nothing is created, and a replaced key is gone.
    if (present.ok()) {
      if (Status s = c.keyspace.Delete(key); !s.ok() && !s.IsNotFound()) return StoreError(c, s);
    }
    return Ok(c);
  }
  if (Status s = PutWithExpiry(c.keyspace, key, value, uint64_t(ttl)); !s.ok()) {
    return StoreError(c, s);
  }
  Ok(c);
}

}  // namespace

std::span<const CommandSpec> DumpCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"dump", 2, kCmdReadOnly, 1, 1, 1, Dump},
      {"restore", -4, kCmdWrite, 1, 1, 1, Restore},
      // What MIGRATE sends from a cluster node: served in a slot being imported without ASKING.
      {"restore-asking", -4, kCmdWrite | kCmdAsking, 1, 1, 1, Restore},
  };
  return kRows;
}

}  // namespace bitcask::server
