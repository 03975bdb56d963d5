// Replication commands: REPLICAOF / SLAVEOF, REPLCONF, PSYNC, SYNC, ROLE, WAIT (Redis's
// replication.c). The streaming itself is the connection's (network.cc) and the
// Replication's (replication.h).

#include "server/command.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

// REPLICAOF host port | NO ONE. Allowed inside MULTI: Sentinel sends it in a transaction.
void ReplicaOf(CommandContext& c) {
  if (c.client.is_master) return Err(c, "ERR Command is not valid when client is a replica.");
  Replication& r = c.server.replication();
  if (IEquals(c.args[1], "no") && IEquals(c.args[2], "one")) {
    if (r.is_replica()) {
      r.BecomeLeader();
      c.server.log().Log(Logger::kNotice, "leading now (REPLICAOF NO ONE)",
                         {{"client", c.client.address}});
    }
    return Ok(c);
  }
  int64_t port;
  if (!ParseInt(c.args[2], &port) || port < 0 || port > 65535) {
    return Err(c, "ERR Invalid master port");
  }
  const std::string host(c.args[1]);
  if (!r.ReplicaOf(host, static_cast<int>(port))) {
    return reply::Simple(c.out, "OK Already connected to specified master");
  }
  c.server.log().Log(Logger::kNotice, "following a leader (REPLICAOF)",
                     {{"leader", host + ":" + std::to_string(port)}, {"client", c.client.address}});
  Ok(c);
}

// REPLCONF option value ...: what a replica tells its leader before PSYNC, then its ACKs.
void ReplConf(CommandContext& c) {
  if (c.args.size() % 2 == 0) return SyntaxError(c);
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) {
    const std::string option = Lower(c.args[i]);
    const std::string_view value = c.args[i + 1];
    if (option == "ack") {
      // From a replica being streamed to; never answered.
      uint64_t offset;
      if (ParseUint(value, &offset)) c.server.replication().OnAck(c.client.id, offset);
      return;
    }
    if (option == "getack") return;  // only a leader asks (the replica's link answers)
    if (option == "listening-port") {
      int64_t port;
      if (!ParseInt(value, &port)) return NotInteger(c);
      c.client.listening_port = static_cast<int>(port);
    } else if (option == "ip-address") {
      if (value.size() >= 256) {
        return Err(c, "ERR REPLCONF ip-address provided by replica instance is too long: " +
                          std::to_string(value.size()) + " bytes");
      }
      c.client.announced_ip = value;
    } else if (option == "capa") {
      if (IEquals(value, "eof")) c.client.capa_eof = true;
      if (IEquals(value, "psync2")) c.client.capa_psync2 = true;
    } else if (option == "rdb-only") {
      int64_t on;
      if (!ParseInt(value, &on) || (on != 0 && on != 1)) return NotInteger(c);
      c.client.rdb_only = on == 1;
    } else if (option == "rdb-filter-only") {
      // redis-cli --functions-rdb's: this RDB holds no functions to filter.
    } else {
      return Err(c, "ERR Unrecognized REPLCONF option: " + std::string(c.args[i]));
    }
  }
  Ok(c);
}

// PSYNC replid offset / SYNC: the connection becomes a replica's stream.
void Psync(CommandContext& c) {
  if (c.client.is_master) return;
  Replication& r = c.server.replication();
  if (r.is_replica()) {
    // A replica serves its own replicas only once it holds its leader's stream.
    std::string replid;
    uint64_t offset;
    if (!r.ResumePosition(&replid, &offset)) {
      return Err(c, "NOMASTERLINK Can't SYNC while not connected with my master");
    }
  }
  Client::ReplicaStart start;
  if (IEquals(c.args[0], "psync")) {
    if (c.args.size() != 3) return WrongArgs(c);
    int64_t offset;
    if (!ParseInt(c.args[2], &offset)) return NotInteger(c);
    start.full = !r.CanContinue(c.args[1], offset, c.client.capa_psync2, &start.continue_line);
    if (!start.full) start.from = static_cast<uint64_t>(offset);
  } else {
    start.full = true;  // SYNC: the old protocol, always a full sync, no +FULLRESYNC line
    start.announce = false;
  }
  c.client.replica_start = std::move(start);
}

void Role(CommandContext& c) { c.out->append(c.server.replication().RoleReply()); }

// WAIT numreplicas timeout: blocks until that many replicas acknowledged the client's last
// write, or the time is up; answers how many did.
void Wait(CommandContext& c) {
  Replication& r = c.server.replication();
  if (r.is_replica()) {
    return Err(c,
               "ERR WAIT cannot be used with replica instances. Please also note that since "
               "Redis 4.0 if a replica is configured to be writable (which is not the "
               "default) writes to replicas are just local and are not propagated.");
  }
  int64_t numreplicas, timeout;
  if (!ParseInt(c.args[1], &numreplicas)) return NotInteger(c);
  if (!ParseInt(c.args[2], &timeout))
    return Err(c, "ERR timeout is not an integer or out of range");
  if (timeout < 0) return Err(c, "ERR timeout is negative");
  const uint64_t offset = c.client.woff;
  if (c.in_exec || r.AcknowledgedBy(offset) >= numreplicas) {
    return reply::Integer(c.out, r.AcknowledgedBy(offset));
  }
  c.client.blocked = [&r, offset, numreplicas, timeout](std::function<void(std::string)> finish) {
    r.Wait(offset, numreplicas, timeout, [finish = std::move(finish)](int64_t acked) {
      std::string out;
      reply::Integer(&out, acked);
      finish(std::move(out));
    });
  };
}

}  // namespace

std::span<const CommandSpec> ReplicationCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"replicaof", 3, kCmdAdmin, 0, 0, 0, ReplicaOf},
      {"slaveof", 3, kCmdAdmin, 0, 0, 0, ReplicaOf},
      {"replconf", -1, kCmdAdmin | kCmdNoMulti, 0, 0, 0, ReplConf},
      {"psync", -3, kCmdAdmin | kCmdNoMulti, 0, 0, 0, Psync},
      {"sync", 1, kCmdAdmin | kCmdNoMulti, 0, 0, 0, Psync},
      {"role", 1, kCmdFast, 0, 0, 0, Role},
      {"wait", 3, 0, 0, 0, 0, Wait},
  };
  return kRows;
}

}  // namespace bitcask::server
