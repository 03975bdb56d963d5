// Cluster mode beside a real Redis Cluster: the same commands give the same replies (routing
// errors, CLUSTER's subcommands and their errors, hash slots of odd keys), and the real tools
// drive it: redis-cli --cluster check / reshard (under a redis-py RedisCluster writer),
// redis-cli -c, redis-benchmark --cluster, redis-cli --cluster import from a real redis-server.
// The slot map is set with CLUSTERX SETNODES; bad maps and stale versions are refused.

#include <gtest/gtest.h>
#include <httplib.h>

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

std::string Port(int p) { return std::to_string(p); }

// Node i's id: 40 hex digits.
std::string Id(int i) { return std::string(40, "123456789abcdef"[i]); }

// A CLUSTERX SETNODES line.
std::string MapLine(int i, int port, const std::string& slots, int master_of = -1) {
  return Id(i) + " 127.0.0.1 " + Port(port) + " " +
         (master_of < 0 ? "master - " + slots : "slave " + Id(master_of)) + "\n";
}

// One command's reply as RESP, without its closing CRLF.
std::string One(int port, const std::vector<std::string>& command) {
  std::string r = Replies(port, {command});
  return r.substr(0, r.size() - 2);
}

// bitcask-servers in cluster mode; the map is theirs to set.
class Nodes {
 public:
  Nodes(const TempDir& tmp, int n, std::string prefix = "node") : tmp_(tmp), prefix_(prefix) {
    for (int i = 0; i < n; i++) Start(i);
  }
  void Start(int i, std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--cluster-enabled", "yes"});
    if (i < int(ports_.size()) && ports_[size_t(i)] != 0) {
      extra.insert(extra.end(), {"--port", Port(ports_[size_t(i)])});
    }
    auto node = std::make_unique<ServerProcess>(tmp_.Sub(prefix_ + std::to_string(i)), extra);
    if (i >= int(nodes_.size())) {
      nodes_.resize(size_t(i + 1));
      ports_.resize(size_t(i + 1));
    }
    ports_[size_t(i)] = node->port();
    nodes_[size_t(i)] = std::move(node);
  }
  bool ready() const {
    for (const auto& n : nodes_) {
      if (!n->ready()) return false;
    }
    return true;
  }
  int port(int i) const { return ports_[size_t(i)]; }
  ServerProcess& node(int i) { return *nodes_[size_t(i)]; }
  size_t size() const { return nodes_.size(); }
  // Sets the map on every node; "" if all took it, else what one said.
  std::string SetMap(const std::string& map, int version) {
    for (size_t i = 0; i < nodes_.size(); i++) {
      const std::string r = Replies(ports_[i], {{"CLUSTERX", "SETNODES", map, Port(version)}});
      if (r.rfind("+OK\r\n", 0) != 0) return r;
    }
    return "";
  }

 private:
  const TempDir& tmp_;
  const std::string prefix_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::vector<int> ports_;
};

// A real Redis Cluster of two masters on loopback: slots 0-8191 on the first, the rest on
// the second, joined by CLUSTER MEET.
class RealCluster {
 public:
  explicit RealCluster(const TempDir& tmp) {
    for (int i = 0; i < 2; i++) {
      const std::string dir = tmp.Sub("redis" + std::to_string(i));
      ::mkdir(dir.c_str(), 0755);
      nodes_.push_back(std::make_unique<RealRedis>(dir, "--cluster-enabled yes"));
    }
  }
  bool Form() {
    if (port(0) == 0 || port(1) == 0) return false;
    Cli(port(0), "CLUSTER ADDSLOTSRANGE 0 8191");
    Cli(port(1), "CLUSTER ADDSLOTSRANGE 8192 16383");
    Cli(port(0), "CLUSTER MEET 127.0.0.1 " + Port(port(1)));
    return WaitFor(
        [&] {
          for (int i = 0; i < 2; i++) {
            const std::string info = Cli(port(i), "CLUSTER INFO");
            if (info.find("cluster_state:ok") == std::string::npos ||
                info.find("cluster_known_nodes:2") == std::string::npos) {
              return false;
            }
          }
          // Each node routes to the other (gossip has spread both halves).
          return Cli(port(0), "SET foo 1").find("MOVED") != std::string::npos &&
                 Cli(port(1), "SET b 1").find("MOVED") != std::string::npos;
        },
        30s);
  }
  int port(int i) const { return nodes_[size_t(i)]->port(); }
  std::string id(int i) const {
    std::string r = Cli(port(i), "CLUSTER MYID");
    while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.pop_back();
    return r;
  }

 private:
  std::vector<std::unique_ptr<RealRedis>> nodes_;
};

// Replies with each node's address and id put as N0/N1 and ID0/ID1, to compare two clusters.
std::string Normalized(std::string r, const std::vector<int>& ports,
                       const std::vector<std::string>& ids) {
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t at = 0; (at = r.find(from, at)) != std::string::npos; at += to.size()) {
      r.replace(at, from.size(), to);
    }
  };
  for (size_t i = 0; i < ports.size(); i++) {
    replace("127.0.0.1:" + Port(ports[i]), "N" + std::to_string(i));
    replace(":" + Port(ports[i]) + "\r\n", ":P" + std::to_string(i) + "\r\n");
    replace(ids[i], "ID" + std::to_string(i));
  }
  return r;
}

using Script = std::vector<std::vector<std::string>>;

// What the first master (slots 0-8191) is sent; `b` is in slot 3300, `bar` 5061, `foo` 12182.
Script SourceScript(const std::string& other_id) {
  return {
      {"SET", "foo", "1"},
      {"SET", "b", "1"},
      {"GET", "b"},
      {"SET", "bar", "2"},
      {"MSET", "a", "1", "b", "2"},
      {"MSET", "{x}a", "1", "{x}b", "2"},
      {"MGET", "b", "bar"},
      {"MGET", "b", "b"},
      {"DEL", "b", "foo"},
      {"MULTI"},
      {"SET", "foo", "1"},
      {"SET", "b", "1"},
      {"EXEC"},
      {"MULTI"},
      {"SET", "b", "1"},
      {"SET", "bar", "2"},
      {"EXEC"},
      {"GET", "bar"},
      {"MULTI"},
      {"PING"},
      {"EXEC"},
      {"SELECT", "1"},
      {"SELECT", "0"},
      {"PING"},
      {"PUBLISH", "foo", "x"},
      {"CLUSTER", "COUNTKEYSINSLOT", "3300"},
      {"CLUSTER", "COUNTKEYSINSLOT", "x"},
      {"CLUSTER", "COUNTKEYSINSLOT", "16384"},
      {"CLUSTER", "COUNTKEYSINSLOT", "-1"},
      {"CLUSTER", "GETKEYSINSLOT", "3300", "10"},
      {"CLUSTER", "GETKEYSINSLOT", "3300", "0"},
      {"CLUSTER", "GETKEYSINSLOT", "3300", "-1"},
      {"CLUSTER", "GETKEYSINSLOT", "16384", "1"},
      {"CLUSTER", "GETKEYSINSLOT", "x", "1"},
      {"CLUSTER", "SETSLOT", "3300", "FOO"},
      {"CLUSTER", "SETSLOT", "3300", "FOO", "bar"},
      {"CLUSTER", "SETSLOT", "99999", "STABLE"},
      {"CLUSTER", "SETSLOT", "x", "STABLE"},
      {"CLUSTER", "SETSLOT", "9000", "MIGRATING", other_id},
      {"CLUSTER", "SETSLOT", "100", "IMPORTING", other_id},
      {"CLUSTER", "SETSLOT", "3300", "MIGRATING", std::string(40, 'e')},
      {"CLUSTER", "SETSLOT", "3300", "NODE", std::string(40, 'e')},
      {"CLUSTER", "SETSLOT", "3300", "MIGRATING", other_id},
      {"GET", "b"},
      {"GET", "{b}x"},
      {"SET", "{b}x", "1"},
      {"MGET", "b", "{b}x"},
      {"MGET", "{b}x", "{b}y"},
      {"EXISTS", "{b}x"},
      {"CLUSTER", "SETSLOT", "3300", "NODE", other_id},
      {"CLUSTER", "SETSLOT", "3300", "STABLE"},
      {"GET", "{b}x"},
      {"CLUSTER", "ADDSLOTS", "5"},
      {"CLUSTER", "ADDSLOTS", "x"},
      {"CLUSTER", "DELSLOTS", "100"},
      {"CLUSTER", "DELSLOTS", "100"},
      {"CLUSTER", "ADDSLOTS", "100", "100"},
      {"CLUSTER", "ADDSLOTS", "100"},
      {"CLUSTER", "ADDSLOTSRANGE", "10", "5"},
      {"CLUSTER", "ADDSLOTSRANGE", "10"},
      {"CLUSTER", "FOO"},
      {"CLUSTER", "NODES", "x"},
      {"CLUSTER"},
      {"CLUSTER", "KEYSLOT"},
      {"CLUSTER", "REPLICAS", std::string(40, 'e')},
      {"CLUSTER", "REPLICAS", other_id},
      {"ASKING"},
      {"READONLY"},
      {"READWRITE"},
      {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"},
      {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5"},
      {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "keys", "KEYS", "a"},
      {"COMMAND", "GETKEYS", "PING", "x"},
      {"COMMAND", "GETKEYS", "SET", "k"},
      {"COMMAND", "GETKEYS", "NOPE", "k"},
      {"MIGRATE", "127.0.0.1", "1", "b", "0", "5000", "FOO"},
      {"MIGRATE", "127.0.0.1", "1", "b", "0", "5000", "KEYS", "b"},
      {"MIGRATE", "127.0.0.1", "1", "b", "0", "x"},
      {"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100"},
      {"CLUSTER", "SLOTS"},
      {"DEL", "b", "bar"},
  };
}

// What the second master (slots 8192-16383) is sent while it imports slot 3300.
Script TargetScript(const std::string& source_id, const std::string& payload) {
  return {
      {"CLUSTER", "SETSLOT", "3300", "IMPORTING", source_id},
      {"CLUSTER", "SETSLOT", "9000", "IMPORTING", source_id},
      {"GET", "{b}x"},
      {"ASKING"},
      {"GET", "{b}x"},
      {"ASKING"},
      {"PING"},
      {"GET", "{b}x"},
      {"ASKING"},
      {"SET", "{b}x", "1"},
      {"ASKING"},
      {"MGET", "{b}x", "{b}y"},
      {"ASKING"},
      {"MGET", "{b}x", "{b}x"},
      {"ASKING"},
      {"MULTI"},
      {"GET", "{b}x"},
      {"SET", "{b}y", "2"},
      {"EXEC"},
      {"MULTI"},
      {"ASKING"},
      {"GET", "{b}x"},
      {"EXEC"},
      {"READONLY"},
      {"GET", "{b}x"},
      {"RESTORE-ASKING", "{b}z", "0", payload},
      {"RESTORE", "{b}w", "0", payload},
      {"ASKING"},
      {"DEL", "{b}x", "{b}y", "{b}z"},
      {"CLUSTER", "SETSLOT", "3300", "STABLE"},
      {"CLUSTER", "SETSLOT", "9000", "STABLE"},
      {"GET", "{b}x"},
  };
}

// CLUSTER KEYSLOT of keys with odd hash tags and of binary keys.
Script KeySlotScript() {
  Script s;
  for (std::string k :
       {"", "foo", "123456789", "{}", "}{", "{a}{b}", "foo{}{bar}", "{{a}}", "{{a}",
        "foo{{bar}}zap", "foo{bar}{zap}", "{user1000}.following", "{", "}", "a{b", "a}b{c}"}) {
    s.push_back({"CLUSTER", "KEYSLOT", k});
  }
  uint32_t x = 12345;
  for (int i = 0; i < 64; i++) {
    std::string k;
    for (int j = 0; j < 1 + i % 13; j++) {
      x = x * 1103515245 + 12345;
      k.push_back(char("{}ab\x00\xff\r\n"[(x >> 16) % 8]));
    }
    s.push_back({"CLUSTER", "KEYSLOT", k});
  }
  return s;
}

class ClusterTest : public ::testing::Test {
 protected:
  TempDir tmp_;
};

// The same commands, on a real two-master Redis Cluster and on two bitcask-servers with the
// same slot map, give the same replies (addresses and node ids aside).
TEST_F(ClusterTest, RoutesAndAnswersLikeRedisCluster) {
  RealCluster real(tmp_);
  ASSERT_TRUE(real.Form()) << Cli(real.port(0), "CLUSTER NODES");
  Nodes ours(tmp_, 2);
  ASSERT_TRUE(ours.ready());
  ASSERT_EQ(
      ours.SetMap(MapLine(0, ours.port(0), "0-8191") + MapLine(1, ours.port(1), "8192-16383"), 1),
      "");
  const std::vector<int> real_ports = {real.port(0), real.port(1)};
  const std::vector<std::string> real_ids = {real.id(0), real.id(1)};
  const std::vector<int> our_ports = {ours.port(0), ours.port(1)};
  const std::vector<std::string> our_ids = {Id(0), Id(1)};
  ASSERT_EQ(real_ids[0].size(), 40u);

  auto compare = [&](int node, const Script& theirs, const Script& mine) {
    const std::string want =
        Normalized(Replies(real_ports[size_t(node)], theirs), real_ports, real_ids);
    const std::string got = Normalized(Replies(our_ports[size_t(node)], mine), our_ports, our_ids);
    // Line by line, so that a failure names the command.
    std::istringstream w(want), g(got);
    std::string wl, gl;
    int line = 0;
    while (std::getline(w, wl)) {
      line++;
      std::getline(g, gl);
      EXPECT_EQ(gl, wl) << "reply line " << line;
      if (gl != wl) break;
    }
    EXPECT_EQ(got, want);
  };
  compare(0, SourceScript(real_ids[1]), SourceScript(our_ids[1]));
  compare(0, KeySlotScript(), KeySlotScript());
  // A payload both sides take: DUMP of "hello" (checked against Redis in dump_test).
  const std::string payload("\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", 17);
  compare(1, TargetScript(real_ids[0], payload), TargetScript(our_ids[0], payload));
}

// The map: what CLUSTER NODES / SLOTS / SHARDS / INFO show of it, the errors of a bad one,
// the version rules, and that it is kept across a restart.
TEST_F(ClusterTest, MapIsCheckedVersionedAndKept) {
  Nodes ours(tmp_, 1);
  ASSERT_TRUE(ours.ready());
  const int p = ours.port(0);
  EXPECT_EQ(One(p, {"CLUSTER", "NODES"}), "-CLUSTERDOWN The cluster is not initialized");
  EXPECT_EQ(Cli(p, "CLUSTERX VERSION"), "-1\n");
  EXPECT_NE(Cli(p, "INFO").find("cluster_enabled:1\r"), std::string::npos);
  EXPECT_EQ(InfoField(p, "redis_mode", "server"), "cluster");
  EXPECT_EQ(One(p, {"SET", "a", "1"}), "-CLUSTERDOWN Hash slot not served");

  const std::string a = Id(0), b = Id(1);
  auto setnodes = [&](const std::string& map, const std::string& version) {
    return One(p, {"CLUSTERX", "SETNODES", map, version});
  };
  const std::string line_b = b + " 127.0.0.1 1 master - 8192-16383\n";
  EXPECT_EQ(setnodes("abc 127.0.0.1 " + Port(p) + " master - 0-8191\n", "1"),
            "-ERR Invalid cluster node id");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 99999 master - 0-8191\n", "1"),
            "-ERR Invalid cluster node port");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " leader - 0-8191\n", "1"),
            "-ERR Invalid cluster node role");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master - 0-16384\n", "1"),
            "-ERR Slot is out of range");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master - 0-8192\n" + line_b, "1"),
            "-ERR Slot distribution is overlapped");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master - 0-8191 " + b + "\n", "1"),
            "-ERR Invalid nodes definition: Missing newline between node entries.");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " slave " + Id(2) + "\n" + line_b, "1"),
            "-ERR Invalid cluster nodes info: " + a + " replicates " + Id(2) +
                ", which is not a master of the map");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master -\n", "x"), "-ERR Invalid version");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master -\n", "-1"),
            "-ERR Invalid cluster version");
  EXPECT_EQ(Cli(p, "CLUSTERX VERSION"), "-1\n") << "a refused map changed nothing";

  const std::string map = a + " 127.0.0.1 " + Port(p) + " master - 0-8191\n" + line_b;
  EXPECT_EQ(setnodes(map, "5"), "+OK");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master - 0-16383\n", "4"),
            "-ERR Invalid cluster version");
  EXPECT_EQ(setnodes(a + " 127.0.0.1 " + Port(p) + " master - 0-16383\n", "5"), "+OK")
      << "the same version again is ignored";
  auto nodes_lines = [&] {
    std::string text = Cli(p, "CLUSTER NODES");
    // The other node's pong time is the clock's: put it as T.
    const size_t at = text.find(" master - 0 ", text.find(b));
    if (at != std::string::npos) {
      const size_t from = at + 12, to = text.find(' ', from);
      text.replace(from, to - from, "T");
    }
    return text;
  };
  const std::string want_nodes = a + " 127.0.0.1:" + Port(p) + "@" + Port(p + 10000) +
                                 " myself,master - 0 0 5 connected 0-8191\n" + b +
                                 " 127.0.0.1:1@10001 master - 0 T 5 connected 8192-16383\n";
  EXPECT_EQ(nodes_lines(), want_nodes);
  EXPECT_EQ(Cli(p, "CLUSTER MYID"), a + "\n");
  EXPECT_EQ(Cli(p, "CLUSTERX MYID"), a + "\n");
  EXPECT_EQ(Cli(p, "CLUSTER SLOTS"), "0\n8191\n127.0.0.1\n" + Port(p) + "\n" + a +
                                         "\n\n8192\n16383\n127.0.0.1\n1\n" + b + "\n\n");
  const std::string info = Cli(p, "CLUSTER INFO");
  for (const char* want :
       {"cluster_state:ok\r", "cluster_slots_assigned:16384\r", "cluster_known_nodes:2\r",
        "cluster_size:2\r", "cluster_current_epoch:5\r"}) {
    EXPECT_NE(info.find(want), std::string::npos) << want << " in " << info;
  }
  EXPECT_NE(Cli(p, "CLUSTER SHARDS").find("slots\n0\n8191\nnodes\nid\n" + a + "\nport\n" + Port(p)),
            std::string::npos)
      << Cli(p, "CLUSTER SHARDS");
  // CLUSTERX SETSLOT takes exactly the next version.
  EXPECT_EQ(One(p, {"CLUSTERX", "SETSLOT", "8192-8200", "NODE", a, "7"}),
            "-ERR Invalid cluster version");
  EXPECT_EQ(Cli(p, "CLUSTERX SETSLOT 8192-8200 NODE " + a + " 6"), "OK\n");
  EXPECT_EQ(One(p, {"SET", "a", "1"}), "-MOVED 15495 127.0.0.1:1");
  EXPECT_EQ(Cli(p, "CLUSTER KEYSLOT {x}"), "16287\n");

  // Kept across a crash: every change is on disk before it is used.
  ours.node(0).Stop(SIGKILL);
  ours.Start(0);
  ASSERT_TRUE(ours.ready());
  EXPECT_EQ(Cli(p, "CLUSTERX VERSION"), "6\n");
  EXPECT_NE(Cli(p, "CLUSTER NODES").find("myself,master - 0 0 6 connected 0-8200\n"),
            std::string::npos)
      << Cli(p, "CLUSTER NODES");
  // A damaged map file stops the server with the file and the line named.
  ours.node(0).Stop(SIGTERM);
  WriteFile(tmp_.Sub("node0/nodes.conf"), "version 7\nnode " + a + " 127.0.0.1 x master -\n");
  std::string out = Shell(std::string(SERVER_PATH) + " --dir " + tmp_.Sub("node0") +
                          " --port 0 --http-port 0 --cluster-enabled yes 2>&1");
  EXPECT_NE(out.find("cannot read the cluster map"), std::string::npos) << out;
  EXPECT_NE(out.find("Invalid cluster node port"), std::string::npos) << out;
}

// A redis-py RedisCluster application: writes prefix0..prefix<n-1> (value i), one line per
// acknowledged write, until the file `stop` (the fifth argument) exists; or reads them back (mode
// "read": "missing i" / "wrong i" lines and "present N").
constexpr const char* kClusterClient = R"(import os, sys, time
from redis.cluster import RedisCluster, ClusterNode
ports, mode, prefix, n = sys.argv[1].split(','), sys.argv[2], sys.argv[3], int(sys.argv[4])
stop = sys.argv[5] if len(sys.argv) > 5 else None

def connect():
    # As an application would: any node it knows may be the one that answers.
    while True:
        try:
            return RedisCluster(startup_nodes=[ClusterNode('127.0.0.1', int(p)) for p in ports],
                                cluster_error_retry_attempts=5)
        except Exception as e:
            print('reconnect', type(e).__name__, str(e).replace('\n', ' '))
            time.sleep(0.2)

rc = connect()
present = 0
for i in range(n):
    key = prefix + str(i)
    if mode == 'write' and stop and os.path.exists(stop):
        n = i
        break
    for attempt in range(100):
        try:
            if mode == 'write':
                rc.set(key, str(i))
                print('acked', i)
            else:
                v = rc.get(key)
                if v is None:
                    print('missing', i)
                else:
                    present += 1
                    if v != str(i).encode():
                        print('wrong', i, v)
            break
        except Exception as e:
            print('retry', i, type(e).__name__, str(e).replace('\n', ' '))
            time.sleep(0.1)
            rc = connect()
    else:
        print('failed', i)
print('present', present)
print('done', n, flush=True)
)";

// ports: the nodes the application knows, "7000,7001,...".
std::string Client(const TempDir& tmp, const std::string& ports, const std::string& mode,
                   const std::string& prefix, int n) {
  WriteFile(tmp.Sub("client.py"), kClusterClient);
  return Shell("/usr/bin/python3 " + tmp.Sub("client.py") + " " + ports + " " + mode + " " +
               prefix + " " + std::to_string(n) + " " + tmp.Sub("stop") + " 2>&1");
}

int Count(const std::string& text, const std::string& word) {
  int n = 0;
  for (size_t at = 0; (at = text.find(word, at)) != std::string::npos; at += word.size()) n++;
  return n;
}

int64_t DbSize(int port) { return std::atoll(Cli(port, "DBSIZE").c_str()); }

// What redis-cli --cluster check says, and whether it is all [OK].
bool CheckClean(int port, std::string* out) {
  *out = Shell("redis-cli --cluster check 127.0.0.1:" + Port(port) + " 2>&1; echo exit=$?");
  return out->find("[OK] All nodes agree about slots configuration.") != std::string::npos &&
         out->find("[OK] All 16384 slots covered.") != std::string::npos &&
         out->find("[ERR]") == std::string::npos && out->find("[WARNING]") == std::string::npos &&
         out->find("exit=0") != std::string::npos;
}

// Three masters and a replica of the first. redis-cli --cluster reshard moves 1000 slots from
// the first master to the third while a RedisCluster application writes: every acknowledged
// write is readable after, no key is on two masters (their DBSIZEs add up to the keys), the
// replica follows its master's map, and --cluster check is clean; then --cluster rebalance
// evens the slots out, losing nothing. redis-cli -c and
// redis-benchmark --cluster work against the same nodes.
TEST_F(ClusterTest, ReshardUnderAWriterLosesNothing) {
  Nodes nodes(tmp_, 4);
  ASSERT_TRUE(nodes.ready());
  const std::string map =
      MapLine(0, nodes.port(0), "0-5460") + MapLine(1, nodes.port(1), "5461-10922") +
      MapLine(2, nodes.port(2), "10923-16383") + MapLine(3, nodes.port(3), "", /*master_of=*/0);
  ASSERT_EQ(nodes.SetMap(map, 1), "");
  ASSERT_TRUE(WaitFor([&] { return InfoField(nodes.port(3), "master_link_status") == "up"; }))
      << Cli(nodes.port(3), "INFO replication");
  std::string check;
  ASSERT_TRUE(CheckClean(nodes.port(0), &check)) << check;

  // The application writes from before the reshard starts until it has ended.
  std::string written;
  std::thread writer([&] { written = Client(tmp_, Port(nodes.port(1)), "write", "w", 1000000); });
  ASSERT_TRUE(WaitFor([&] { return DbSize(nodes.port(0)) > 200; }, 30s));
  const std::string reshard = Shell("redis-cli --cluster reshard 127.0.0.1:" + Port(nodes.port(0)) +
                                    " --cluster-from " + Id(0) + " --cluster-to " + Id(2) +
                                    " --cluster-slots 1000 --cluster-yes 2>&1; echo exit=$?");
  WriteFile(tmp_.Sub("stop"), "");
  writer.join();
  EXPECT_NE(reshard.find("exit=0"), std::string::npos) << reshard.substr(reshard.size() - 2000);
  const int n = Count(written, "acked ");
  EXPECT_NE(written.find("done " + std::to_string(n) + "\n"), std::string::npos)
      << "a write failed: " << written.substr(0, 2000);
  ASSERT_GT(n, 1000);

  const std::string read = Client(tmp_, Port(nodes.port(2)), "read", "w", n);
  EXPECT_NE(read.find("present " + std::to_string(n) + "\n"), std::string::npos)
      << read.substr(0, 2000);
  EXPECT_EQ(DbSize(nodes.port(0)) + DbSize(nodes.port(1)) + DbSize(nodes.port(2)), n)
      << "a key is on two masters, or lost";
  EXPECT_TRUE(CheckClean(nodes.port(0), &check)) << check;
  EXPECT_NE(Cli(nodes.port(0), "CLUSTER NODES").find("myself,master - 0 0 "), std::string::npos);
  // The replica has its master's map and, after READONLY, serves reads of its slots.
  ASSERT_TRUE(WaitFor([&] { return DbSize(nodes.port(3)) == DbSize(nodes.port(0)); }));
  EXPECT_EQ(Cli(nodes.port(3), "CLUSTERX VERSION"), Cli(nodes.port(0), "CLUSTERX VERSION"));
  int i = 0;
  int slot = -1;
  for (; i < n; i++) {
    slot = std::atoi(Cli(nodes.port(0), "CLUSTER KEYSLOT w" + std::to_string(i)).c_str());
    if (slot >= 1000 && slot <= 5460) break;
  }
  const std::string k = "w" + std::to_string(i), v = std::to_string(i);
  EXPECT_EQ(Replies(nodes.port(3), {{"READONLY"}, {"GET", k}, {"SET", k, "x"}}),
            "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n-MOVED " +
                std::to_string(slot) + " 127.0.0.1:" + Port(nodes.port(0)) + "\r\n");

  // rebalance evens the slots out again (1000 fewer on the first master, 1000 more on the third).
  const std::string rebalance =
      Shell("redis-cli --cluster rebalance 127.0.0.1:" + Port(nodes.port(0)) +
            " --cluster-threshold 1 2>&1; echo exit=$?");
  EXPECT_NE(rebalance.find("exit=0"), std::string::npos) << rebalance;
  EXPECT_NE(rebalance.find("Moving"), std::string::npos) << rebalance;
  EXPECT_TRUE(CheckClean(nodes.port(0), &check)) << check;
  EXPECT_EQ(DbSize(nodes.port(0)) + DbSize(nodes.port(1)) + DbSize(nodes.port(2)), n);
  const std::string after = Client(tmp_, Port(nodes.port(1)), "read", "w", n);
  EXPECT_NE(after.find("present " + std::to_string(n) + "\n"), std::string::npos)
      << after.substr(0, 2000);

  // redis-cli -c follows MOVED; redis-benchmark --cluster spreads over the masters.
  EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(0)) + " SET foo bar"), "OK\n");
  EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(1)) + " GET foo"), "bar\n");
  const std::string bench = Shell("redis-benchmark --cluster -p " + Port(nodes.port(0)) +
                                  " -t set,get -n 3000 -q 2>&1; echo exit=$?");
  EXPECT_NE(bench.find("exit=0"), std::string::npos) << bench;
  EXPECT_EQ(Count(bench, "requests per second"), 2) << bench;
}

// A slot left half moved by a crash: the source, then (in a second cluster) the target, is
// killed (-9) after part of the slot's keys went to the target, while an application writes
// new keys of the slot. It comes back with the slot still open (the map is on disk), and
// redis-cli --cluster fix finishes the move: the slot whole on one node, no acknowledged
// write lost, check clean.
TEST_F(ClusterTest, FixFinishesASlotACrashLeftHalfMoved) {
  for (int victim : {0, 1}) {
    SCOPED_TRACE(victim == 0 ? "source killed" : "target killed");
    Nodes nodes(tmp_, 2, "victim" + std::to_string(victim) + "-node");
    ASSERT_TRUE(nodes.ready());
    ASSERT_EQ(nodes.SetMap(
                  MapLine(0, nodes.port(0), "0-8191") + MapLine(1, nodes.port(1), "8192-16383"), 1),
              "");
    // 200 keys in slot 3300 (tag {b}).
    std::vector<std::vector<std::string>> writes;
    for (int i = 0; i < 200; i++) {
      writes.push_back({"SET", "{b}" + std::to_string(i), "v" + std::to_string(i)});
    }
    Replies(nodes.port(0), writes);
    ASSERT_EQ(Cli(nodes.port(0), "CLUSTER COUNTKEYSINSLOT 3300"), "200\n");
    ASSERT_EQ(Cli(nodes.port(1), "CLUSTER SETSLOT 3300 IMPORTING " + Id(0)), "OK\n");
    ASSERT_EQ(Cli(nodes.port(0), "CLUSTER SETSLOT 3300 MIGRATING " + Id(1)), "OK\n");
    std::string keys;
    for (int i = 0; i < 80; i++) keys += " {b}" + std::to_string(i);
    ASSERT_EQ(
        Cli(nodes.port(0), "MIGRATE 127.0.0.1 " + Port(nodes.port(1)) + " \"\" 0 5000 KEYS" + keys),
        "OK\n");
    EXPECT_EQ(Cli(nodes.port(0), "CLUSTER COUNTKEYSINSLOT 3300"), "120\n");
    EXPECT_EQ(Cli(nodes.port(1), "CLUSTER COUNTKEYSINSLOT 3300"), "80\n");
    // While the slot is open, a client finds every key (ASK for the moved ones).
    EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(0)) + " GET {b}5"), "v5\n");
    EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(0)) + " GET {b}150"), "v150\n");
    // A RedisCluster application writes new keys of the slot through the crash and restart.
    const std::string both = Port(nodes.port(0)) + "," + Port(nodes.port(1));
    std::string written;
    std::remove(tmp_.Sub("stop").c_str());
    std::thread writer([&] { written = Client(tmp_, both, "write", "{b}w", 1000000); });
    ASSERT_TRUE(WaitFor([&] { return DbSize(nodes.port(1)) > 100; }, 30s));
    nodes.node(victim).Stop(SIGKILL);
    nodes.Start(victim);
    ASSERT_TRUE(nodes.ready());
    const int64_t after_restart = DbSize(nodes.port(0)) + DbSize(nodes.port(1));
    EXPECT_TRUE(WaitFor(
        [&] { return DbSize(nodes.port(0)) + DbSize(nodes.port(1)) > after_restart + 100; }, 30s))
        << "the application goes on after the restart";
    WriteFile(tmp_.Sub("stop"), "");
    writer.join();
    const int acked = Count(written, "acked ");
    ASSERT_NE(written.find("done " + std::to_string(acked) + "\n"), std::string::npos)
        << written.substr(0, 2000);
    const std::string marker = victim == 0 ? "[3300->-" + Id(1) + "]" : "[3300-<-" + Id(0) + "]";
    EXPECT_NE(Cli(nodes.port(victim), "CLUSTER NODES").find(marker), std::string::npos);
    std::string check;
    EXPECT_FALSE(CheckClean(nodes.port(0), &check)) << check;
    const std::string fix = Shell("redis-cli --cluster fix 127.0.0.1:" + Port(nodes.port(0)) +
                                  " --cluster-yes 2>&1; echo exit=$?");
    EXPECT_TRUE(CheckClean(nodes.port(0), &check)) << fix << check;
    // The slot is whole on one node (redis-cli picks the one with more of its keys), with
    // every key: the 200 and every acknowledged write of the application.
    const int64_t total = 200 + acked;
    EXPECT_EQ(DbSize(nodes.port(0)) + DbSize(nodes.port(1)), total) << fix;
    const int64_t on0 = std::atoll(Cli(nodes.port(0), "CLUSTER COUNTKEYSINSLOT 3300").c_str());
    const int64_t on1 = std::atoll(Cli(nodes.port(1), "CLUSTER COUNTKEYSINSLOT 3300").c_str());
    EXPECT_TRUE((on0 == total && on1 == 0) || (on0 == 0 && on1 == total)) << on0 << " " << on1;
    for (int i = 0; i < 200; i += 37) {
      EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(1)) + " GET {b}" + std::to_string(i)),
                "v" + std::to_string(i) + "\n");
    }
    const std::string read = Client(tmp_, both, "read", "{b}w", acked);
    EXPECT_NE(read.find("present " + std::to_string(acked) + "\n"), std::string::npos)
        << read.substr(0, 2000);
  }
}

// MIGRATE from a bitcask-server to a real redis-server, and redis-cli --cluster import from a
// real redis-server into bitcask-servers: values and expiries arrive, Redis's DUMP format
// both ways.
TEST_F(ClusterTest, MovesKeysToAndFromRealRedis) {
  RealRedis redis(tmp_.path());
  ASSERT_NE(redis.port(), 0);
  ServerProcess plain(tmp_.Sub("plain"));
  ASSERT_TRUE(plain.ready());
  Replies(plain.port(), {{"SET", "m1", "one"}, {"SET", "m2", "two", "PX", "100000"}});
  EXPECT_EQ(
      Cli(plain.port(), "MIGRATE 127.0.0.1 " + Port(redis.port()) + " \"\" 0 5000 KEYS m1 m2"),
      "OK\n");
  EXPECT_EQ(Cli(plain.port(), "EXISTS m1 m2"), "0\n");
  EXPECT_EQ(Cli(redis.port(), "GET m1"), "one\n");
  const int64_t pttl = std::atoll(Cli(redis.port(), "PTTL m2").c_str());
  EXPECT_GT(pttl, 90000);
  EXPECT_LE(pttl, 100000);
  EXPECT_EQ(Cli(plain.port(), "MIGRATE 127.0.0.1 " + Port(redis.port()) + " m1 0 5000"), "NOKEY\n");
  Cli(plain.port(), "SET m1 again");
  EXPECT_EQ(One(plain.port(), {"MIGRATE", "127.0.0.1", Port(redis.port()), "m1", "0", "5000"}),
            "-ERR Target instance replied with error: BUSYKEY Target key name already exists.");
  EXPECT_EQ(
      Cli(plain.port(), "MIGRATE 127.0.0.1 " + Port(redis.port()) + " m1 0 5000 COPY REPLACE"),
      "OK\n");
  EXPECT_EQ(Cli(redis.port(), "GET m1"), "again\n");
  EXPECT_EQ(Cli(plain.port(), "GET m1"), "again\n") << "COPY keeps the key";
  EXPECT_EQ(One(plain.port(), {"MIGRATE", "127.0.0.1", Port(FreePort()), "m1", "0", "500"}),
            "-IOERR error or timeout connecting to the client");

  // A target with a password: AUTH and AUTH2 go first.
  RealRedis locked(tmp_.path());
  ASSERT_NE(locked.port(), 0);
  ASSERT_EQ(Cli(locked.port(), "CONFIG SET requirepass s3cret"), "OK\n");
  Replies(plain.port(), {{"SET", "a1", "x"}, {"SET", "a2", "y"}});
  EXPECT_EQ(One(plain.port(), {"MIGRATE", "127.0.0.1", Port(locked.port()), "a1", "0", "5000"}),
            "-ERR Target instance replied with error: NOAUTH Authentication required.");
  EXPECT_EQ(Cli(plain.port(), "GET a1"), "x\n") << "a key the target refused stays";
  EXPECT_EQ(One(plain.port(),
                {"MIGRATE", "127.0.0.1", Port(locked.port()), "a1", "0", "5000", "AUTH", "s3cret"}),
            "+OK");
  EXPECT_EQ(One(plain.port(), {"MIGRATE", "127.0.0.1", Port(locked.port()), "", "0", "5000",
                               "AUTH2", "default", "s3cret", "KEYS", "a2"}),
            "+OK");
  EXPECT_EQ(
      Shell("redis-cli -p " + Port(locked.port()) + " -a s3cret --no-auth-warning MGET a1 a2"),
      "x\ny\n");

  // Import: the keys of a standalone Redis into a two-node bitcask cluster.
  Nodes nodes(tmp_, 2);
  ASSERT_TRUE(nodes.ready());
  ASSERT_EQ(nodes.SetMap(
                MapLine(0, nodes.port(0), "0-8191") + MapLine(1, nodes.port(1), "8192-16383"), 1),
            "");
  std::vector<std::vector<std::string>> writes;
  for (int i = 0; i < 300; i++)
    writes.push_back({"SET", "imp" + std::to_string(i), std::string(i, 'x')});
  writes.push_back({"SET", "counter", "12345"});
  Replies(redis.port(), writes);
  const std::string import = Shell("redis-cli --cluster import 127.0.0.1:" + Port(nodes.port(0)) +
                                   " --cluster-from 127.0.0.1:" + Port(redis.port()) +
                                   " --cluster-copy 2>&1; echo exit=$?");
  EXPECT_NE(import.find("exit=0"), std::string::npos) << import;
  EXPECT_EQ(DbSize(nodes.port(0)) + DbSize(nodes.port(1)), 300 + 1 + 2);  // and m1, m2
  EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(0)) + " GET counter"), "12345\n");
  EXPECT_EQ(Shell("redis-cli -c -p " + Port(nodes.port(0)) + " STRLEN imp299"), "299\n");
}

// deploy/cluster: two shards of a master and a replica, three Sentinels. The first shard's
// master is killed (-9) under a RedisCluster writer: Sentinel promotes its replica, the
// reconfig script pushes the next map to every node, and the application goes on writing
// (it follows MOVED to the promoted replica). The old master, restarted, is made a replica by
// Sentinel, takes the new map from its new master's stream, and every node agrees again.
TEST_F(ClusterTest, DeployedClusterFollowsASentinelFailover) {
  const int base = FreePortRange(7);
  ASSERT_NE(base, 0);
  const std::string dir = tmp_.Sub("cluster"), deploy = std::string(SOURCE_DIR) + "/deploy/cluster";
  const std::string up = Shell("PATH=" + std::string(SERVER_DIR) + ":$PATH " + deploy +
                               " up --shards 2 --replicas 1 --base-port " + Port(base) + " --dir " +
                               dir + " 2>&1; echo exit=$?");
  struct Down {
    std::string cmd;
    ~Down() { Shell(cmd); }
  } down{deploy + " down --dir " + dir + " >/dev/null 2>&1"};
  ASSERT_NE(up.find("exit=0"), std::string::npos) << up;
  std::string check;
  ASSERT_TRUE(CheckClean(base, &check)) << check;

  std::string written;
  std::thread writer([&] {
    written = Client(
        tmp_, Port(base) + "," + Port(base + 1) + "," + Port(base + 2) + "," + Port(base + 3),
        "write", "f", 1000000);
  });
  ASSERT_TRUE(WaitFor([&] { return DbSize(base) > 100; }, 30s));
  std::string pids = Shell("cat " + dir + "/pids");
  const size_t at = pids.find(" node-" + Port(base) + "\n");
  ASSERT_NE(at, std::string::npos) << pids;
  const pid_t master = std::atoi(pids.substr(pids.rfind('\n', at) + 1).c_str());
  ::kill(master, SIGKILL);
  const int64_t before = DbSize(base + 2);
  const bool promoted = WaitFor(
      [&] {
        return Cli(base + 1, "ROLE").rfind("master\n", 0) == 0 &&
               Shell("cat " + dir + "/reconfig.log 2>/dev/null").find("failover") !=
                   std::string::npos;
      },
      60s);
  // The application goes on writing to both shards after the failover.
  const bool goes_on = WaitFor(
      [&] { return DbSize(base + 1) > DbSize(base + 3) / 2 && DbSize(base + 2) > before + 100; },
      30s);
  std::this_thread::sleep_for(1s);
  WriteFile(tmp_.Sub("stop"), "");
  writer.join();
  ASSERT_TRUE(promoted) << Shell("cat " + dir + "/sentinel-*.log | tail -20");
  EXPECT_TRUE(goes_on) << written.substr(written.size() > 3000 ? written.size() - 3000 : 0);
  const int acked = Count(written, "acked ");
  EXPECT_GT(acked, 200);
  EXPECT_NE(Cli(base + 2, "CLUSTER NODES")
                .find("127.0.0.1:" + Port(base + 1) + "@" + Port(base + 10001) + " master - "),
            std::string::npos)
      << Cli(base + 2, "CLUSTER NODES");

  // The old master comes back: Sentinel makes it a replica, and it takes the new map.
  ServerProcess old(dir + "/node-" + Port(base),
                    {"--config", dir + "/node-" + Port(base) + ".conf", "--port", Port(base)});
  ASSERT_TRUE(old.ready());
  EXPECT_TRUE(WaitFor(
      [&] {
        return Cli(base, "ROLE").rfind("slave\n", 0) == 0 &&
               Cli(base, "CLUSTERX VERSION") == Cli(base + 1, "CLUSTERX VERSION");
      },
      60s))
      << Cli(base, "ROLE") << Cli(base, "CLUSTER NODES");
  EXPECT_TRUE(WaitFor([&] { return CheckClean(base + 2, &check); }, 20s)) << check;
  EXPECT_NE(Cli(base, "CLUSTER NODES").find("myself,slave "), std::string::npos);
  old.Stop(SIGTERM);
}

// deploy/twemproxy.yml, with this test's ports: nutcracker shards keys over three plain
// bitcask-servers by consistent hashing. Multi-key commands are split per server, hash tags
// keep keys together, and redis-benchmark runs through it.
TEST_F(ClusterTest, TwemproxyShardsOverPlainServers) {
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::string config = ReadFile(std::string(SOURCE_DIR) + "/deploy/twemproxy.yml");
  ASSERT_NE(config.find("127.0.0.1:7001:1"), std::string::npos);
  for (int i = 0; i < 3; i++) {
    servers.push_back(std::make_unique<ServerProcess>(tmp_.Sub("s" + std::to_string(i))));
    ASSERT_TRUE(servers.back()->ready());
    const std::string from = "127.0.0.1:700" + std::to_string(i + 1) + ":";
    config.replace(config.find(from), from.size(),
                   "127.0.0.1:" + Port(servers.back()->port()) + ":");
  }
  const int stats = FreePort();
  RedisProcess proxy([&](int port) {
    std::string c = config;
    c.replace(c.find("127.0.0.1:22121"), 15, "127.0.0.1:" + Port(port));
    WriteFile(tmp_.Sub("twemproxy.yml"), c);
    return "nutcracker -c " + tmp_.Sub("twemproxy.yml") + " -s " + Port(stats) +
           " -a 127.0.0.1 -o " + tmp_.Sub("nutcracker.log") + " -p " + tmp_.Sub("nutcracker.pid");
  });
  ASSERT_NE(proxy.port(), 0) << ReadFile(tmp_.Sub("nutcracker.log"));

  // (twemproxy has no ECHO, which Replies ends its pipeline with: redis-cli here.)
  std::string mset = "MSET", mget = "MGET", want;
  for (int i = 0; i < 100; i++) {
    mset += " k" + std::to_string(i) + " v" + std::to_string(i);
    mget += " k" + std::to_string(i);
    want += "v" + std::to_string(i) + "\n";
  }
  EXPECT_EQ(Cli(proxy.port(), mset), "OK\n");
  EXPECT_EQ(Cli(proxy.port(), mget), want);
  int64_t total = 0;
  for (const auto& s : servers) {
    const int64_t n = DbSize(s->port());
    EXPECT_GT(n, 10) << "consistent hashing left a server nearly empty";
    total += n;
  }
  EXPECT_EQ(total, 100);
  // A hash tag puts keys on one server.
  Cli(proxy.port(), "SET {user1}:name x");
  Cli(proxy.port(), "SET {user1}:mail y");
  int together = 0;
  for (const auto& s : servers) {
    together += Cli(s->port(), "EXISTS {user1}:name {user1}:mail") == "2\n";
  }
  EXPECT_EQ(together, 1);
  const std::string bench = Shell("redis-benchmark -p " + Port(proxy.port()) +
                                  " -t set,get,mset -n 3000 -q 2>&1; echo exit=$?");
  EXPECT_NE(bench.find("exit=0"), std::string::npos) << bench;
  EXPECT_EQ(Count(bench, "requests per second"), 3) << bench;
}

// The HTTP API routes as RESP does: a key of another node's slot gets 421 and the redirect.
TEST_F(ClusterTest, HttpApiIsRoutedToo) {
  ServerProcess node(tmp_.Sub("http"),
                     {"--cluster-enabled", "yes", "--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(node.ready());
  const int p = node.port();
  ASSERT_EQ(
      One(p, {"CLUSTERX", "SETNODES", MapLine(0, p, "0-8191") + MapLine(1, 1, "8192-16383"), "1"}),
      "+OK");
  httplib::Client http("127.0.0.1", node.http_port());
  auto put = http.Post("/put", R"({"key": "b", "value": 1})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  auto moved = http.Post("/put", R"({"key": "foo", "value": 1})", "application/json");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 421);
  EXPECT_NE(moved->body.find("MOVED 12182 127.0.0.1:1"), std::string::npos) << moved->body;
  EXPECT_EQ(http.Get("/get/b")->status, 200);
  EXPECT_EQ(http.Get("/get/foo")->status, 421);
  EXPECT_EQ(http.Delete("/delete/foo")->status, 421);
  auto cross = http.Post("/batch", R"({"data": {"a": 1, "b": 2}})", "application/json");
  EXPECT_NE(cross->body.find("CROSSSLOT"), std::string::npos) << cross->body;
  EXPECT_EQ(Cli(p, "DBSIZE"), "1\n") << "nothing misrouted was written";
}

// Without cluster-enabled, the cluster commands say so, as Redis's do.
TEST_F(ClusterTest, OffUnlessEnabled) {
  ServerProcess plain(tmp_.Sub("plain"));
  ASSERT_TRUE(plain.ready());
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"CLUSTER", "NODES"},
                                             {"CLUSTER", "KEYSLOT", "a"},
                                             {"ASKING"},
                                             {"READONLY"},
                                             {"READWRITE"},
                                             {"CLUSTERX", "VERSION"}}) {
    EXPECT_EQ(One(plain.port(), cmd), "-ERR This instance has cluster support disabled") << cmd[0];
  }
  EXPECT_EQ(InfoField(plain.port(), "cluster_enabled", "cluster"), "0");
  EXPECT_EQ(One(plain.port(), {"CLUSTER", "NODES", "x"}),
            "-ERR wrong number of arguments for 'cluster|nodes' command");
}

}  // namespace
}  // namespace bitcask::test
