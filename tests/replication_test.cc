// Replication with Redis's protocol, with real components: bitcask-servers following each
// other, a real redis-server following a bitcask-server and the other way round, WAIT and
// min-replicas-to-write, partial resync after a restart and after a failover. Every server is
// started on free loopback ports and stopped by the test.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

using namespace std::chrono_literals;

// A field of INFO replication ("" if absent).
std::string InfoField(int port, const std::string& field) {
  const std::string info = Cli(port, "INFO replication");
  std::istringstream lines(info);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

// Waits until pred() holds, up to `limit`; whether it did.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// Every key with its value and whether it has an expiry, through one connection (raw RESP:
// values may be binary).
std::map<std::string, std::pair<std::string, bool>> Dump(int port) {
  RawConnection c(port);
  std::map<std::string, std::pair<std::string, bool>> out;
  c.Send(Resp({"KEYS", "*"}));
  std::string buf;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; i++) {
    buf += c.Read(1, 100);
    size_t at = 0;
    if (ParseBulkArray(buf, &at, &keys)) break;
  }
  for (const std::string& k : keys) {
    c.Send(Resp({"GET", k}));
    c.Send(Resp({"PTTL", k}));
    std::string r;
    // "$len\r\nvalue\r\n:ttl\r\n"
    for (int i = 0; i < 100; i++) {
      r += c.Read(1, 100);
      if (r.size() > 2 && r[0] == '$') {
        const size_t eol = r.find("\r\n");
        const long len = std::stol(r.substr(1, eol - 1));
        const size_t need = eol + 2 + size_t(len) + 2;
        if (r.size() > need && r.find("\r\n", need) != std::string::npos) {
          const std::string value = r.substr(eol + 2, size_t(len));
          const std::string ttl = r.substr(need + 1, r.find("\r\n", need) - need - 1);
          out[k] = {value, ttl != "-1"};
          break;
        }
      }
    }
  }
  return out;
}

std::string Port(int p) { return std::to_string(p); }

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Shell("command -v redis-server").empty()) << "redis-server is not installed";
  }
  std::string Dir(const std::string& name) const { return tmp_.Sub(name); }
  // Whether the replica at `replica` has applied all that the leader at `leader` wrote.
  static bool CaughtUp(int leader, int replica) {
    const std::string want = InfoField(leader, "master_repl_offset");
    return InfoField(replica, "master_link_status") == "up" &&
           InfoField(replica, "slave_repl_offset") == want;
  }
  TempDir tmp_;
};

// A leader with data, a replica that joins (full sync), then the stream: binary values,
// expiries, batches, deletes, read-modify-writes. The replica ends equal and refuses writes.
TEST_F(ReplicationTest, ReplicaFollowsLeaderThroughFullSyncAndStream) {
  ServerProcess leader(Dir("leader"));
  ASSERT_TRUE(leader.ready());
  const int L = leader.port();
  {
    RawConnection c(L);
    std::string binary;
    for (int b = 0; b < 256; b++) binary.push_back(static_cast<char>(b));
    std::string sent;
    for (int i = 0; i < 300; i++)
      sent += Resp({"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
    sent += Resp({"SET", "bin", binary});
    sent += Resp({"SET", "ttl", "x", "EX", "1000"});
    sent += Resp({"SET", "big", std::string(100000, 'z')});
    c.Send(sent);
    c.Read(5 * 302 + 5 + 5, 5000);
  }
  ServerProcess replica(Dir("replica"), {"--replicaof", "127.0.0.1 " + Port(L)});
  ASSERT_TRUE(replica.ready());
  const int R = replica.port();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(L, R); })) << Cli(R, "INFO replication");
  // The stream: what each command leaves must arrive.
  for (const char* cmd :
       {"MSET a 1 b 2 c 3", "DEL k5 k6", "INCR counter", "INCRBY counter 41", "APPEND a -tail",
        "EXPIRE k7 500", "PERSIST ttl", "SETRANGE b 3 xyz", "RENAME k8 renamed", "GETDEL k9",
        "SET nx new NX", "GETSET k10 swapped"}) {
    Cli(L, cmd);
  }
  {
    RawConnection c(L);
    c.Send(Resp({"MULTI"}) + Resp({"SET", "tx1", "1"}) + Resp({"SET", "tx2", "2"}) +
           Resp({"EXEC"}));
    c.Read(5 + 9 + 9 + 15, 2000);
  }
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(L, R); })) << Cli(R, "INFO replication");
  const auto want = Dump(L);
  EXPECT_EQ(Dump(R), want);
  EXPECT_EQ(want.at("counter").first, "42");
  EXPECT_TRUE(want.at("k7").second);
  EXPECT_FALSE(want.at("ttl").second);
  EXPECT_EQ(want.count("k5"), 0u);
  // A replica is read-only; reads work.
  EXPECT_EQ(Cli(R, "SET x y"), "READONLY You can't write against a read only replica.\n\n");
  EXPECT_EQ(Cli(R, "GET a"), "1-tail\n");
  EXPECT_EQ(InfoField(R, "role"), "slave");
  EXPECT_EQ(InfoField(L, "connected_slaves"), "1");
  EXPECT_NE(InfoField(L, "slave0").find("ip=127.0.0.1,port=" + Port(R) + ",state=online"),
            std::string::npos)
      << Cli(L, "INFO replication");
  // ROLE, as Redis shapes it.
  const std::string role = Cli(L, "ROLE");
  EXPECT_EQ(role.substr(0, 7), "master\n") << role;
  EXPECT_NE(role.find("127.0.0.1\n" + Port(R) + "\n"), std::string::npos) << role;
  EXPECT_EQ(Cli(R, "ROLE"), "slave\n127.0.0.1\n" + Port(L) + "\nconnected\n" +
                                InfoField(R, "slave_repl_offset") + "\n");
}

// WAIT: the client's own writes, acknowledged by how many replicas; and min-replicas-to-write.
TEST_F(ReplicationTest, WaitAndMinReplicasToWrite) {
  ServerProcess leader(Dir("leader"));
  ASSERT_TRUE(leader.ready());
  const int L = leader.port();
  {
    RawConnection c(L);
    c.Send(Resp({"SET", "a", "1"}) + Resp({"WAIT", "1", "200"}));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(c.Read(9, 3000), "+OK\r\n:0\r\n");  // no replica: the time runs out
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  }
  EXPECT_EQ(Cli(L, "CONFIG SET min-replicas-to-write 1 min-replicas-max-lag 2"), "OK\n");
  EXPECT_EQ(Cli(L, "SET b 2"), "NOREPLICAS Not enough good replicas to write.\n\n");
  EXPECT_EQ(Cli(L, "GET a"), "1\n");  // reads are not refused
  ServerProcess replica(Dir("replica"), {"--replicaof", "127.0.0.1 " + Port(L)});
  ASSERT_TRUE(replica.ready());
  ASSERT_TRUE(WaitFor([&] { return Cli(L, "SET b 2") == "OK\n"; })) << Cli(L, "INFO replication");
  {
    RawConnection c(L);
    c.Send(Resp({"SET", "c", "3"}) + Resp({"WAIT", "1", "0"}));
    EXPECT_EQ(c.Read(9, 5000), "+OK\r\n:1\r\n");
  }
  EXPECT_NE(Cli(L, "INFO replication").find("min_slaves_good_slaves:1"), std::string::npos);
  // The replica stops answering (a partition): after min-replicas-max-lag, writes are refused.
  ::kill(replica.pid(), SIGSTOP);
  EXPECT_TRUE(WaitFor([&] { return Cli(L, "SET d 4").starts_with("NOREPLICAS"); }, 10s));
  EXPECT_EQ(Cli(L, "CONFIG SET min-replicas-to-write 0"), "OK\n");
  {
    RawConnection c(L);
    c.Send(Resp({"SET", "e", "5"}) + Resp({"WAIT", "1", "300"}));
    EXPECT_EQ(c.Read(9, 5000), "+OK\r\n:0\r\n");  // not acknowledged in time
  }
  EXPECT_EQ(Cli(L, "CONFIG SET min-replicas-to-write 1"), "OK\n");
  ::kill(replica.pid(), SIGCONT);
  EXPECT_TRUE(WaitFor([&] { return Cli(L, "SET d 4") == "OK\n"; }, 10s));
  EXPECT_EQ(Cli(replica.port(), "WAIT 1 0").substr(0, 30), "ERR WAIT cannot be used with r");
}

// A clean restart of the replica continues the stream (PSYNC, +CONTINUE); so does the old
// leader after a failover (REPLICAOF NO ONE on the replica, REPLICAOF on the old leader).
TEST_F(ReplicationTest, PartialResyncAfterRestartAndAfterFailover) {
  ServerProcess leader(Dir("leader"));
  ASSERT_TRUE(leader.ready());
  const int L = leader.port();
  Cli(L, "SET before 1");
  const std::string R_dir = Dir("replica");
  int R = 0;
  {
    ServerProcess replica(R_dir, {"--replicaof", "127.0.0.1 " + Port(L)});
    ASSERT_TRUE(replica.ready());
    R = replica.port();
    ASSERT_TRUE(WaitFor([&] { return CaughtUp(L, R); }));
    EXPECT_EQ(replica.Stop(SIGTERM), 0);
  }
  Cli(L, "SET while-down 2");
  const int R2 = FreePort();
  ServerProcess replica(R_dir, {"--replicaof", "127.0.0.1 " + Port(L), "--port", Port(R2)});
  ASSERT_TRUE(replica.ready());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(L, R2); })) << Cli(R2, "INFO replication");
  EXPECT_EQ(Cli(R2, "GET while-down"), "2\n");
  const std::string replica_log = ReadFile(R_dir + ".log");
  EXPECT_NE(replica_log.find("continuing the leader's stream (partial resync)"), std::string::npos)
      << replica_log;

  // Failover: the replica leads, the old leader follows it and continues (replid2).
  EXPECT_EQ(Cli(R2, "REPLICAOF NO ONE"), "OK\n");
  EXPECT_EQ(InfoField(R2, "role"), "master");
  EXPECT_EQ(Cli(R2, "SET after-failover 3"), "OK\n");
  EXPECT_EQ(Cli(L, "REPLICAOF 127.0.0.1 " + Port(R2)), "OK\n");
  EXPECT_EQ(Cli(L, "REPLICAOF 127.0.0.1 " + Port(R2)),
            "OK Already connected to specified master\n");
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(R2, L); })) << Cli(L, "INFO replication");
  EXPECT_EQ(Cli(L, "GET after-failover"), "3\n");
  EXPECT_EQ(Dump(L), Dump(R2));
  const std::string leader_log = ReadFile(Dir("leader") + ".log");
  EXPECT_NE(leader_log.find("continuing the leader's stream (partial resync)"), std::string::npos)
      << leader_log;
  EXPECT_EQ(Cli(L, "SET x 1"), "READONLY You can't write against a read only replica.\n\n");
}

// A real redis-server follows a bitcask-server (both forms of full sync), and a bitcask-server
// follows a real redis-server (a migration from Redis).
TEST_F(ReplicationTest, InteroperatesWithRealRedisBothWays) {
  for (const char* diskless : {"yes", "no"}) {
    SCOPED_TRACE(std::string("repl-diskless-sync ") + diskless);
    TempDir dir;
    ServerProcess leader(dir.Sub("leader"), {"--repl-diskless-sync", diskless});
    ASSERT_TRUE(leader.ready());
    const int L = leader.port();
    Cli(L, "MSET a 1 b 12345 c -5 d 007");
    Cli(L, "SET e " + std::string(1000, 'q') + " PX 900000");
    RealRedis redis(dir.path(), "--replicaof 127.0.0.1 " + Port(L));
    ASSERT_NE(redis.port(), 0);
    ASSERT_TRUE(WaitFor([&] { return InfoField(redis.port(), "master_link_status") == "up"; }))
        << Cli(redis.port(), "INFO replication");
    Cli(L, "INCR a");
    Cli(L, "DEL d");
    ASSERT_TRUE(WaitFor([&] {
      return InfoField(redis.port(), "slave_repl_offset") == InfoField(L, "master_repl_offset");
    }));
    EXPECT_EQ(Dump(redis.port()), Dump(L));
  }
  // The other way: strings only; a key of another type is refused by name.
  TempDir dir;
  RealRedis redis(dir.path());
  ASSERT_NE(redis.port(), 0);
  const int M = redis.port();
  Cli(M, "MSET s hello n 42 neg -7");
  Cli(M, "SET big " + std::string(5000, 'a') + " EX 1000");  // LZF-compressed in the RDB
  ServerProcess replica(dir.Sub("replica"), {"--replicaof", "127.0.0.1 " + Port(M)});
  ASSERT_TRUE(replica.ready());
  const int R = replica.port();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(M, R); })) << Cli(R, "INFO replication");
  Cli(M, "INCRBY n 8");
  Cli(M, "APPEND s ' world'");
  Cli(M, "EXPIRE s 1000");
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(M, R); }));
  EXPECT_EQ(Dump(R), Dump(M));
  EXPECT_EQ(Cli(R, "GET n"), "50\n");
  // A list on the leader: the next full sync fails with a clear error, the old data stays.
  Cli(M, "RPUSH mylist x");
  Cli(R, "REPLICAOF NO ONE");
  Cli(R, "REPLICAOF 127.0.0.1 " + Port(M));  // a new replid: a full sync
  const std::string log_path = dir.Sub("replica") + ".log";
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(log_path).find("key 'mylist' holds a list") != std::string::npos;
  })) << ReadFile(log_path);
  EXPECT_EQ(Cli(R, "GET n"), "50\n");
}

// Pub/sub with Redis's replies (Sentinel depends on them), and PUBLISH reaching a replica's
// subscribers through the stream.
TEST_F(ReplicationTest, PubSubLikeRedis) {
  ServerProcess leader(Dir("leader"));
  ASSERT_TRUE(leader.ready());
  const int L = leader.port();
  RawConnection sub(L);
  sub.Send(Resp({"SUBSCRIBE", "news", "other"}) + Resp({"PSUBSCRIBE", "n*"}));
  EXPECT_EQ(sub.Read(200, 500),
            "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
            "*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n"
            "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n");
  EXPECT_EQ(Cli(L, "PUBLISH news hello"), "2\n");
  EXPECT_EQ(sub.Read(200, 500),
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
            "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
  sub.Send(Resp({"GET", "x"}) + Resp({"PING"}));
  EXPECT_EQ(sub.Read(200, 500),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_EQ(Cli(L, "PUBSUB NUMSUB news nochan"), "news\n1\nnochan\n0\n");
  EXPECT_EQ(Cli(L, "PUBSUB NUMPAT"), "1\n");
  EXPECT_EQ(Cli(L, "PUBSUB CHANNELS"), "news\nother\n");
  // Side by side with Redis: the same replies.
  ExpectRepliesLikeRedis(
      tmp_, L,
      {"PUBLISH zzz hi", "PUBSUB NUMSUB a b", "PUBSUB CHANNELS x*", "CLIENT KILL 1.2.3.4:5",
       "CLIENT KILL TYPE bogus x", "SCRIPT KILL", "ROLE", "REPLCONF listening-port x",
       "REPLCONF nonsense 1", "REPLICAOF localhost 99999", "WAIT 0 0", "WAIT x 0", "WAIT 0 -1"});
  // A subscriber on a replica gets what is published on the leader.
  ServerProcess replica(Dir("replica"), {"--replicaof", "127.0.0.1 " + Port(L)});
  ASSERT_TRUE(replica.ready());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(L, replica.port()); }));
  RawConnection rsub(replica.port());
  rsub.Send(Resp({"SUBSCRIBE", "news"}));
  rsub.Read(36, 500);
  Cli(L, "PUBLISH news relayed");
  EXPECT_EQ(rsub.Read(200, 3000), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$7\r\nrelayed\r\n");
}

// What Sentinel sends in a failover, in one transaction: every command is queued, and EXEC
// runs them (CLIENT KILL skips the caller).
TEST_F(ReplicationTest, SentinelsFailoverTransactionRuns) {
  ServerProcess leader(Dir("leader"));
  ASSERT_TRUE(leader.ready());
  ServerProcess replica(Dir("replica"), {"--replicaof", "127.0.0.1 " + Port(leader.port())});
  ASSERT_TRUE(replica.ready());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(leader.port(), replica.port()); }));
  RawConnection normal(replica.port());
  normal.Send(Resp({"PING"}));
  normal.Read(7, 500);
  RawConnection c(replica.port());
  c.Send(Resp({"MULTI"}) + Resp({"SLAVEOF", "NO", "ONE"}) + Resp({"CONFIG", "REWRITE"}) +
         Resp({"CLIENT", "KILL", "TYPE", "normal"}) + Resp({"CLIENT", "KILL", "TYPE", "pubsub"}) +
         Resp({"EXEC"}));
  const std::string reply = c.Read(200, 2000);
  EXPECT_EQ(reply,
            "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n"
            "-ERR The server is running without a config file\r\n:1\r\n:0\r\n");
  EXPECT_EQ(InfoField(replica.port(), "role"), "master");
  bool closed = false;
  normal.Read(1, 2000, &closed);
  EXPECT_TRUE(closed) << "CLIENT KILL TYPE normal closed the other client";
}

// The leader Sentinels agree on for `name` ("" if they do not agree or cannot say), as
// host:port's port.
int SentinelsLeader(const std::vector<std::unique_ptr<RealSentinel>>& sentinels,
                    const std::string& name) {
  std::string seen;
  for (const auto& s : sentinels) {
    const std::string addr = Cli(s->port(), "SENTINEL get-master-addr-by-name " + name);
    if (seen.empty()) seen = addr;
    if (addr != seen) return 0;
  }
  const size_t nl = seen.find('\n');
  if (nl == std::string::npos) return 0;
  try {
    return std::stoi(seen.substr(nl + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

// How many lines of `text` are exactly `line`.
int CountLines(const std::string& text, const std::string& line) {
  std::istringstream lines(text);
  int n = 0;
  for (std::string l; std::getline(lines, l);) n += l == line;
  return n;
}

// A redis-py application writing through Sentinel (master_for): key PREFIXi = i for i below
// COUNT, each followed by WAIT for every replica (REPLICAS of them until the leader fails,
// one fewer after); it prints "confirmed KEY" for each write WAIT says every replica has,
// retries what failed (the leader gone, a replica not yet promoted), and ends with "done N".
constexpr const char* kSentinelWriter = R"(import sys, time
import redis
from redis.sentinel import Sentinel
ports, name, prefix, count, replicas = sys.argv[1:6]
replicas = int(replicas)
sentinel = Sentinel([("127.0.0.1", int(p)) for p in ports.split(",")], socket_timeout=0.5)
leader = sentinel.master_for(name, socket_timeout=0.5)
deadline = time.time() + 60
i = 0
failed_over = False
while i < int(count) and time.time() < deadline:
    key = f"{prefix}{i}"
    try:
        leader.set(key, i)
        if leader.wait(replicas, 1000) >= replicas:
            print("confirmed", key, flush=True)
        i += 1
    except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
        if not failed_over:
            failed_over = True
            replicas -= 1
        time.sleep(0.02)
print("done", i, flush=True)
)";

// Redis Sentinel fails a group of bitcask-servers over as it does Redis: three real Sentinels
// watch a leader and two replicas, and a redis-py application writes through them, a write
// done once WAIT saw both replicas take it. The leader is killed (-9) while it writes: the
// Sentinels promote a replica and point the other at it, the application carries on against
// the new leader, and every write WAIT confirmed is there. The old leader, restarted, is made
// a replica by the Sentinels and catches up; all three end equal. BITCASK_FAILOVER_ROUNDS
// repeats it (make soak-failover), killing whoever leads each time.
TEST_F(ReplicationTest, SentinelFailoverLosesNoConfirmedWrite) {
  const char* rounds_env = std::getenv("BITCASK_FAILOVER_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::max(1, std::atoi(rounds_env)) : 1;
  const std::string name = "group";
  // Each server on a port of its own for good: a restarted one comes back where the Sentinels
  // know it, with the config file their CONFIG REWRITE keeps.
  std::vector<int> ports;
  std::vector<std::unique_ptr<ServerProcess>> nodes(3);
  for (int i = 0; i < 3; i++) {
    ports.push_back(FreePort());
    WriteFile(Dir("node" + std::to_string(i)) + ".conf",
              i == 0 ? "" : "replicaof 127.0.0.1 " + Port(ports[0]) + "\n");
  }
  auto start = [&](int i) {
    const std::string node = Dir("node" + std::to_string(i));
    nodes[i] = std::make_unique<ServerProcess>(
        node, std::vector<std::string>{"--config", node + ".conf", "--port", Port(ports[i])});
    return nodes[i]->ready();
  };
  for (int i = 0; i < 3; i++) ASSERT_TRUE(start(i));
  ASSERT_TRUE(
      WaitFor([&] { return CaughtUp(ports[0], ports[1]) && CaughtUp(ports[0], ports[2]); }));
  std::vector<std::unique_ptr<RealSentinel>> sentinels;
  std::string sentinel_ports;
  for (int s = 0; s < 3; s++) {
    sentinels.push_back(
        std::make_unique<RealSentinel>(Dir("sentinel" + std::to_string(s)), name, ports[0], 2));
    ASSERT_NE(sentinels.back()->port(), 0) << "could not start redis-server --sentinel";
    sentinel_ports += (s ? "," : "") + Port(sentinels.back()->port());
  }
  // Ready once every Sentinel knows both replicas and both other Sentinels.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& s : sentinels) {
          if (CountLines(Cli(s->port(), "SENTINEL replicas " + name), "name") != 2 ||
              CountLines(Cli(s->port(), "SENTINEL sentinels " + name), "name") != 2) {
            return false;
          }
        }
        return true;
      },
      30s))
      << Cli(sentinels[0]->port(), "SENTINEL replicas " + name);
  WriteFile(tmp_.Sub("writer.py"), kSentinelWriter);

  int lead = 0;
  std::vector<double> failover_seconds;
  for (int round = 0; round < rounds; round++) {
    SCOPED_TRACE("round " + std::to_string(round) + ", leader on port " + Port(ports[lead]));
    const std::string prefix = "r" + std::to_string(round) + ":k";
    std::string written;
    std::thread writer([&] {
      written = Shell("/usr/bin/python3 " + tmp_.Sub("writer.py") + " " + sentinel_ports + " " +
                      name + " " + prefix + " 600 2 2>&1");
    });
    // Kill the leader once the application is well under way.
    const bool under_way =
        WaitFor([&] { return Cli(ports[lead], "EXISTS " + prefix + "100") == "1\n"; }, 30s);
    nodes[lead]->Stop(SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    int next = 0;
    const bool promoted = WaitFor(
        [&] {
          next = SentinelsLeader(sentinels, name);
          return next != 0 && next != ports[lead] && InfoField(next, "role") == "master";
        },
        60s);
    failover_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count());
    writer.join();
    ASSERT_TRUE(under_way) << written;
    ASSERT_TRUE(promoted) << Cli(sentinels[0]->port(), "SENTINEL master " + name);
    ASSERT_NE(written.find("done 600"), std::string::npos) << written;
    // Every confirmed write is on the new leader.
    std::istringstream lines(written);
    int confirmed = 0, missing = 0;
    for (std::string word, key; lines >> word;) {
      if (word != "confirmed" || !(lines >> key)) continue;
      confirmed++;
      const std::string want = key.substr(prefix.size()) + "\n";
      if (Cli(next, "GET " + key) != want && missing++ < 5) {
        ADD_FAILURE() << key << " was confirmed by WAIT and is lost";
      }
    }
    EXPECT_EQ(missing, 0);
    EXPECT_GE(confirmed, 500) << written;
    // The old leader comes back, is made a replica of the new one, and catches up: all equal.
    const int old = lead;
    lead = int(std::find(ports.begin(), ports.end(), next) - ports.begin());
    ASSERT_LT(lead, 3);
    ASSERT_TRUE(start(old));
    ASSERT_TRUE(WaitFor(
        [&] {
          for (int i = 0; i < 3; i++) {
            if (i != lead && !CaughtUp(ports[lead], ports[i])) return false;
          }
          return true;
        },
        60s))
        << Cli(ports[old], "INFO replication") << Cli(ports[lead], "INFO replication");
    const auto want = Dump(ports[lead]);
    for (int i = 0; i < 3; i++) {
      if (i == lead) continue;
      EXPECT_EQ(Dump(ports[i]), want) << "node on port " << ports[i];
    }
  }
  std::sort(failover_seconds.begin(), failover_seconds.end());
  std::string times;
  for (double s : failover_seconds) times += " " + std::to_string(s);
  std::printf("failover (kill -9 to a new leader the Sentinels agree on) in seconds:%s\n",
              times.c_str());
  RecordProperty("failover_median_seconds",
                 std::to_string(failover_seconds[failover_seconds.size() / 2]));
}

}  // namespace
}  // namespace bitcask::test
