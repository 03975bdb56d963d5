// bitcask-server as users meet it: started on a free loopback port, driven by the real
// redis-cli and redis-benchmark (Debian's redis-tools) and raw sockets for malformed input.
// Every test starts its own server and stops it (tests/server_harness.h).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Shell("command -v redis-cli").empty())
        << "redis-cli is not installed (Debian: redis-tools; scripts/install-deps installs it)";
  }
  std::string dir() const { return tmp_.Sub("data"); }
  TempDir tmp_;
};

TEST_F(ServerTest, RedisCliRoundTrip) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  const int p = server.port();
  EXPECT_EQ(Cli(p, "PING"), "PONG\n");
  EXPECT_EQ(Cli(p, "SET greeting 'hello world'"), "OK\n");
  EXPECT_EQ(Cli(p, "GET greeting"), "hello world\n");
  EXPECT_EQ(Cli(p, "INCR visits"), "1\n");
  EXPECT_EQ(Cli(p, "INCRBY visits 41"), "42\n");
  EXPECT_EQ(Cli(p, "APPEND greeting !"), "12\n");
  EXPECT_EQ(Cli(p, "MSET a 1 b 2"), "OK\n");
  EXPECT_EQ(Cli(p, "MGET a nope b"), "1\n\n2\n");
  EXPECT_EQ(Cli(p, "DEL a b nope"), "2\n");
  EXPECT_EQ(Cli(p, "GET nope"), "\n");
  EXPECT_EQ(Cli(p, "DBSIZE"), "2\n");
  // redis-cli prints an error reply followed by an empty line.
  EXPECT_EQ(Cli(p, "FOO bar"), "ERR unknown command 'FOO', with args beginning with: 'bar' \n\n");
  EXPECT_EQ(Cli(p, "GET"), "ERR wrong number of arguments for 'get' command\n\n");
  EXPECT_EQ(Cli(p, "INCR greeting"), "ERR value is not an integer or out of range\n\n");
  EXPECT_NE(Cli(p, "INFO server").find("redis_version:7.0.15"), std::string::npos);
  EXPECT_EQ(Cli(p, "COMMAND COUNT").empty(), false);
}

TEST_F(ServerTest, PipelinedInput) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  // 20000 SETs through redis-cli --pipe (RESP, all sent before any reply is read).
  std::string resp;
  for (int i = 0; i < 20000; i++) {
    const std::string k = "key:" + std::to_string(i), v = "value-" + std::to_string(i);
    resp += "*3\r\n$3\r\nSET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n$" +
            std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  WriteFile(tmp_.Sub("pipe.resp"), resp);
  const std::string out = Cli(server.port(), "--pipe < " + tmp_.Sub("pipe.resp"));
  EXPECT_NE(out.find("errors: 0, replies: 20000"), std::string::npos) << out;
  EXPECT_EQ(Cli(server.port(), "DBSIZE"), "20000\n");
  EXPECT_EQ(Cli(server.port(), "GET key:12345"), "value-12345\n");
  // Inline commands pipelined on one connection, answered in order.
  RawConnection c(server.port());
  ASSERT_TRUE(c.ok());
  std::string inline_cmds, expect;
  for (int i = 0; i < 1000; i++) {
    inline_cmds += "ECHO " + std::to_string(i) + "\r\n";
    expect += "$" + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
  }
  c.Send(inline_cmds);
  EXPECT_EQ(c.Read(expect.size(), 10000), expect);
}

// A pipeline's consecutive GETs run together (one MultiGet); what they answer must be what
// GETs run one by one answer, in order, around the writes between them.
TEST_F(ServerTest, PipelinedGetsSeeTheWritesBeforeThem) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  std::string sent, expect;
  for (int round = 0; round < 50; round++) {
    const std::string v = "v" + std::to_string(round);
    sent +=
        Resp({"SET", "k", v}) + Resp({"GET", "k"}) + Resp({"get", "missing"}) + Resp({"GET", "k"});
    expect += "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n$-1\r\n$" +
              std::to_string(v.size()) + "\r\n" + v + "\r\n";
    sent += Resp({"DEL", "k"}) + Resp({"GET", "k"}) + Resp({"GET", "k", "extra"});
    expect += ":1\r\n$-1\r\n-ERR wrong number of arguments for 'get' command\r\n";
  }
  for (int i = 0; i < 200; i++) {  // a long run of GETs: more than one batch
    sent += Resp({"GET", "k" + std::to_string(i % 3)});
    expect += "$-1\r\n";
  }
  RawConnection c(server.port());
  ASSERT_TRUE(c.ok());
  c.Send(sent);
  EXPECT_EQ(c.Read(expect.size(), 10000), expect);

  // Every GET is counted, batched or not: 50 * 4 + 200 ran, and the 50 with an extra
  // argument were rejected, as Redis counts them.
  const std::string info = Cli(server.port(), "INFO commandstats");
  EXPECT_NE(info.find("cmdstat_get:calls=400,"), std::string::npos) << info;
  EXPECT_NE(info.find("rejected_calls=50,failed_calls=0"), std::string::npos) << info;
}

// The server prefetches the keys of the commands waiting in a pipeline before it runs them;
// what they answer must not change. Counters moved by a pipeline of INCR/INCRBY/DECR mixed
// with SETs, sent in pieces that cut commands in two, end exactly where a model says.
TEST_F(ServerTest, PipelinedReadModifyWritesAreExact) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  std::map<std::string, long long> model;
  std::string sent, expect;
  for (int i = 0; i < 3000; i++) {
    const std::string counter = "c" + std::to_string(i % 7);
    long long& n = model[counter];
    switch (i % 3) {
      case 0:
        sent += Resp({"INCR", counter});
        n += 1;
        break;
      case 1:
        sent += Resp({"INCRBY", counter, std::to_string(i)});
        n += i;
        break;
      default:
        sent += Resp({"DECR", counter});
        n -= 1;
        break;
    }
    expect += ":" + std::to_string(n) + "\r\n";
    sent += Resp({"SET", "other" + std::to_string(i % 11), "x"});
    expect += "+OK\r\n";
  }
  RawConnection c(server.port());
  ASSERT_TRUE(c.ok());
  for (size_t off = 0; off < sent.size(); off += 997) {  // pieces that split commands
    c.Send(sent.substr(off, 997));
  }
  EXPECT_EQ(c.Read(expect.size(), 20000), expect);
  for (const auto& [counter, n] : model) {
    EXPECT_EQ(Cli(server.port(), "GET " + counter), std::to_string(n) + "\n") << counter;
  }
}

TEST_F(ServerTest, TtlBehaviour) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  const int p = server.port();
  EXPECT_EQ(Cli(p, "SET s v PX 300"), "OK\n");
  EXPECT_EQ(Cli(p, "GET s"), "v\n");
  const int pttl = std::stoi(Cli(p, "PTTL s"));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  EXPECT_EQ(Cli(p, "GET s"), "\n");
  EXPECT_EQ(Cli(p, "TTL s"), "-2\n");
  EXPECT_EQ(Cli(p, "EXISTS s"), "0\n");
  EXPECT_EQ(Cli(p, "SET k v"), "OK\n");
  EXPECT_EQ(Cli(p, "EXPIRE k 100"), "1\n");
  EXPECT_EQ(Cli(p, "TTL k"), "100\n");
  EXPECT_EQ(Cli(p, "PERSIST k"), "1\n");
  EXPECT_EQ(Cli(p, "TTL k"), "-1\n");
  EXPECT_EQ(Cli(p, "SETEX e 100 v"), "OK\n");
  EXPECT_EQ(Cli(p, "DBSIZE"), "2\n");
}

TEST_F(ServerTest, ScanCoversEveryKeyUnderConcurrentWrites) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  std::string resp;
  for (int i = 0; i < 3000; i++) {
    const std::string k = "old:" + std::to_string(i);
    resp += "*3\r\n$3\r\nSET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n$1\r\nx\r\n";
  }
  WriteFile(tmp_.Sub("old.resp"), resp);
  ASSERT_NE(Cli(server.port(), "--pipe < " + tmp_.Sub("old.resp")).find("errors: 0"),
            std::string::npos);
  // Writers add and delete other keys while the scan runs.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    RawConnection c(server.port());
    for (int i = 0; !stop && c.ok(); i++) {
      const std::string k = "new:" + std::to_string(i);
      c.Send("*3\r\n$3\r\nSET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n$1\r\ny\r\n");
      c.Read(5, 1000);
      if (i % 3 == 0) {
        c.Send("*2\r\n$3\r\nDEL\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n");
        c.Read(4, 1000);
      }
    }
  });
  const std::string scanned = Cli(server.port(), "--scan");
  stop = true;
  writer.join();
  std::set<std::string> seen;
  std::istringstream lines(scanned);
  for (std::string line; std::getline(lines, line);) seen.insert(line);
  for (int i = 0; i < 3000; i++) {
    ASSERT_TRUE(seen.count("old:" + std::to_string(i))) << "SCAN missed old:" << i;
  }
}

TEST_F(ServerTest, RestartKeepsDataAndTtls) {
  {
    ServerProcess server(dir());
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Cli(server.port(), "SET durable yes"), "OK\n");
    EXPECT_EQ(Cli(server.port(), "SET ttl v EX 1000"), "OK\n");
    EXPECT_EQ(Cli(server.port(), "SET gone v"), "OK\n");
    EXPECT_EQ(Cli(server.port(), "DEL gone"), "1\n");
    const int status = server.Stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_NE(ReadFile(dir() + ".log").find("\"msg\":\"store closed\",\"status\":\"OK\""),
            std::string::npos);
  {
    ServerProcess server(dir());
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Cli(server.port(), "GET durable"), "yes\n");
    const int ttl = std::stoi(Cli(server.port(), "TTL ttl"));
    EXPECT_GT(ttl, 990);
    EXPECT_EQ(Cli(server.port(), "GET gone"), "\n");
    // SHUTDOWN ends the server the same clean way.
    Cli(server.port(), "SHUTDOWN");
    const int status = server.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  ServerProcess again(dir());
  ASSERT_TRUE(again.ready());
  EXPECT_EQ(Cli(again.port(), "GET durable"), "yes\n");
}

TEST_F(ServerTest, Auth) {
  ServerProcess server(dir(), {"--requirepass", "s3cret"});
  ASSERT_TRUE(server.ready());
  const int p = server.port();
  EXPECT_EQ(Cli(p, "GET k"), "NOAUTH Authentication required.\n\n");
  EXPECT_EQ(Cli(p, "-a wrong --no-auth-warning GET k"),
            "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\n"
            "NOAUTH Authentication required.\n\n");
  EXPECT_EQ(Cli(p, "-a s3cret --no-auth-warning SET k v"), "OK\n");
  EXPECT_EQ(Cli(p, "-a s3cret --no-auth-warning GET k"), "v\n");
  EXPECT_EQ(Cli(p, "--user default --pass s3cret --no-auth-warning GET k"), "v\n");
}

TEST_F(ServerTest, MalformedInputGetsAnErrorAndTheConnectionCloses) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  const std::pair<std::string, std::string> cases[] = {
      {"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"SET \"open\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
  };
  for (const auto& [sent, expected] : cases) {
    RawConnection c(server.port());
    ASSERT_TRUE(c.ok());
    c.Send(sent);
    bool closed = false;
    EXPECT_EQ(c.Read(expected.size() + 1, 3000, &closed), expected) << sent;
    c.Read(1, 3000, &closed);
    EXPECT_TRUE(closed) << "connection left open after: " << sent;
  }
  // A command before the bad one is still answered.
  RawConnection c(server.port());
  c.Send("PING\r\n*1\r\n$-3\r\n");
  EXPECT_EQ(c.Read(100, 3000), "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(Cli(server.port(), "PING"), "PONG\n");  // the server is fine
}

TEST_F(ServerTest, ClientLimitsAndIdleTimeout) {
  const std::string conf = tmp_.Sub("limits.conf");
  WriteFile(conf, "# limits\nmaxclients 2\ntimeout 1\nclient-query-buffer-limit 4096\n");
  ServerProcess server(dir(), {"--config", conf});
  ASSERT_TRUE(server.ready());
  {
    RawConnection a(server.port()), b(server.port()), c(server.port());
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    bool closed = false;
    EXPECT_EQ(c.Read(100, 3000, &closed), "-ERR max number of clients reached\r\n");
  }
  // Idle for more than the timeout: the server hangs up. (First wait until the server has
  // seen the three connections above go, or this one is refused as one too many.)
  std::unique_ptr<RawConnection> idle;
  bool closed = false;
  for (int attempt = 0; attempt < 100; attempt++) {
    idle = std::make_unique<RawConnection>(server.port());
    closed = false;
    if (idle->Read(1, 50, &closed).empty() && !closed) break;  // accepted, and quiet
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  idle->Read(1, 4000, &closed);
  EXPECT_TRUE(closed) << "idle connection not closed after the timeout";
  // A request larger than the query buffer limit, never finished.
  RawConnection big(server.port());
  big.Send("*2\r\n$3\r\nGET\r\n$100000\r\n" + std::string(8000, 'x'));
  EXPECT_EQ(big.Read(100, 3000, &closed), "-ERR max query buffer length reached\r\n");
}

// CPU seconds a process has used.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; i++) {
    if (i >= 14) ticks += std::stod(field);  // utime, stime
  }
  return ticks / double(::sysconf(_SC_CLK_TCK));
}

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
  return n;
}

// Each client takes a descriptor. With a limit on open files below what maxclients needs
// (Debian's default soft limit is 1024, maxclients 10000), the server serves as many as fit,
// says so, and refuses CONFIG SET beyond. When descriptors still run out (HTTP connections
// take them too), it pauses accepting rather than spinning: before, every failed accept was
// retried at once, with a log line each (700k lines in 2 s and a busy core).
TEST_F(ServerTest, FitsClientsToTheOpenFileLimit) {
  // HTTP connections left idle hold descriptors here: long enough for the whole test.
  ServerProcess server(dir(),
                       {"--io-threads", "1", "--http-idle-timeout", "30", "--http-port",
                        ServerProcess::kFreeHttpPort},
                       /*open_files=*/64);
  ASSERT_TRUE(server.ready());
  const std::string log_path = dir() + ".log";
  EXPECT_NE(ReadFile(log_path).find("maxclients reduced to fit the limit on open files"),
            std::string::npos);
  EXPECT_EQ(Cli(server.port(), "config get maxclients"), "maxclients\n30\n");
  EXPECT_NE(Cli(server.port(), "config set maxclients 100").find("not able to handle"),
            std::string::npos);
  EXPECT_EQ(Cli(server.port(), "config set maxclients 20"), "OK\n");
  ASSERT_EQ(Cli(server.port(), "config set maxclients 30"), "OK\n");

  RawConnection first(server.port());
  first.Send("PING\r\n");
  ASSERT_EQ(first.Read(7, 3000), "+PONG\r\n");
  // Idle HTTP connections take the descriptors left (until one is not taken within 3 s: the
  // first over the limit; a full listen queue costs the ones before it a 1 s retry), then
  // clients queue.
  std::vector<std::unique_ptr<RawConnection>> http, waiting;
  for (int i = 0; i < 64; i++) {
    auto c = std::make_unique<RawConnection>(server.http_port(), /*connect_timeout_ms=*/3000);
    if (!c->ok()) break;
    http.push_back(std::move(c));
  }
  ASSERT_LT(http.size(), 64u) << "the HTTP connections did not run out of descriptors";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 20; i++) waiting.push_back(std::make_unique<RawConnection>(server.port()));
  const double cpu_before = CpuSeconds(server.pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_LT(CpuSeconds(server.pid()) - cpu_before, 0.3) << "the server spins on failed accepts";
  first.Send("PING\r\n");
  EXPECT_EQ(first.Read(7, 3000), "+PONG\r\n") << "a connected client is still served";
  http.clear();
  waiting.back()->Send("PING\r\n");
  EXPECT_EQ(waiting.back()->Read(7, 5000), "+PONG\r\n") << "queued clients are accepted";
  // A line when accepts start failing and one when they work again; a run can break in two
  // (an HTTP connection the server closes frees a descriptor for a moment).
  const std::string log = ReadFile(log_path);
  const size_t failed = CountLines(log, "\"accept failed\"");
  EXPECT_GE(failed, 1u) << log;
  EXPECT_LE(failed, 5u) << log;
  EXPECT_EQ(CountLines(log, "accepting connections again"), failed) << log;
}

// Below what the server needs besides clients, it does not start, and says why.
TEST_F(ServerTest, RefusesToStartWithTooFewOpenFiles) {
  const std::string out = Shell("prlimit --nofile=20:20 -- " SERVER_PATH " --dir " + dir() +
                                " --port 0 "
                                "--http-port 0 --io-threads 1 2>&1; echo exit=$?");
  EXPECT_NE(out.find("the limit on open files (ulimit -n) is 20"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=1"), std::string::npos) << out;
}

// A damaged store: the server does not start, names the damage, and says how to mend it.
TEST_F(ServerTest, RefusesADamagedStoreAndSaysHowToMendIt) {
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(Options(), dir(), &db));
    for (int i = 0; i < 10; i++) ASSERT_OK(db->Put("k" + std::to_string(i), "value"));
  }
  std::filesystem::remove(dir() + "/00000001.hint");
  std::string bytes = ReadFile(dir() + "/00000001.data");
  bytes[40] ^= 0x20;
  WriteFile(dir() + "/00000001.data", bytes);
  const std::string out =
      Shell(SERVER_PATH " --dir " + dir() + " --port 0 --http-port 0 2>&1; echo exit=$?");
  EXPECT_NE(out.find("Corruption: " + dir() + "/00000001.data offset"), std::string::npos) << out;
  EXPECT_NE(out.find("merge --salvage"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=1"), std::string::npos) << out;
}

// SIGHUP (the terminal the server was started from went away) does not stop it, as with
// Redis; SIGTERM still shuts it down cleanly.
TEST_F(ServerTest, IgnoresHangup) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(Cli(server.port(), "SET k v"), "OK\n");
  ::kill(server.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Cli(server.port(), "GET k"), "v\n");
  const int status = server.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// The event loops poll for a while after a busy round before they sleep (busy-poll-us,
// default 30); 0 turns that off, and either way every reply comes back.
TEST_F(ServerTest, BusyPollSetting) {
  {
    ServerProcess server(dir());
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Cli(server.port(), "CONFIG GET busy-poll-us"), "busy-poll-us\n30\n");
  }
  ServerProcess server(dir(), {"--busy-poll-us", "0", "--io-threads", "1"});
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Cli(server.port(), "CONFIG GET busy-poll-us"), "busy-poll-us\n0\n");
  std::string sent, expect;
  for (int i = 0; i < 500; i++) {
    sent += Resp({"INCR", "n"});
    expect += ":" + std::to_string(i + 1) + "\r\n";
  }
  RawConnection c(server.port());
  ASSERT_TRUE(c.ok());
  c.Send(sent);
  EXPECT_EQ(c.Read(expect.size(), 10000), expect);
}

// What monitoring reads from INFO: redis-cli --stat shows keys, memory and clients (it printed
// 0B of memory and a huge negative count of blocked clients when INFO lacked used_memory and
// blocked_clients); the keyspace line counts keys with an expiry and their mean time left.

TEST_F(ServerTest, InfoHasWhatMonitoringReads) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  const std::string p = std::to_string(server.port());
  ASSERT_EQ(Cli(server.port(), "MSET a 1 b 2 c 3"), "OK\n");
  ASSERT_EQ(Cli(server.port(), "EXPIRE a 100"), "1\n");
  ASSERT_EQ(Cli(server.port(), "PEXPIRE b 50000"), "1\n");
  const std::string keyspace = Cli(server.port(), "INFO keyspace");
  long keys = 0, expires = 0, avg_ttl = 0;
  ASSERT_EQ(std::sscanf(keyspace.c_str(), "# Keyspace\ndb0:keys=%ld,expires=%ld,avg_ttl=%ld", &keys,
                        &expires, &avg_ttl),
            3)
      << keyspace;
  EXPECT_EQ(keys, 3);
  EXPECT_EQ(expires, 2);
  EXPECT_GT(avg_ttl, 60000);  // (100 s + 50 s) / 2, less the time since
  EXPECT_LE(avg_ttl, 75000);
  const std::string info = Cli(server.port(), "INFO");
  for (const char* field :
       {"used_memory:", "used_memory_human:", "used_memory_rss:", "maxmemory:0",
        "blocked_clients:0", "role:master", "used_cpu_user:", "bitcask_mapped_file_rss:"}) {
    EXPECT_NE(info.find(std::string("\n") + field), std::string::npos) << field << "\n" << info;
  }
  // redis-cli --stat prints a line a second: keys, mem, clients, blocked, requests, connections.
  const std::string stat = Shell("timeout 2.5 stdbuf -o0 redis-cli -p " + p + " --stat 2>&1");
  std::istringstream lines(stat);
  std::string line;
  std::getline(lines, line);  // ------- data ------ ...
  std::getline(lines, line);  // keys mem clients ...
  ASSERT_TRUE(std::getline(lines, line)) << stat;
  std::istringstream fields(line);
  std::string k, mem, clients, blocked;
  fields >> k >> mem >> clients >> blocked;
  EXPECT_EQ(k, "3") << stat;
  EXPECT_NE(mem, "0B") << stat;
  EXPECT_EQ(clients, "1") << stat;
  EXPECT_EQ(blocked, "0") << stat;
}

// CHECKPOINT: a hot backup of the running server's store, which a second server serves.
TEST_F(ServerTest, CheckpointIsAHotBackup) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(Cli(server.port(), "MSET a 1 b 2"), "OK\n");
  const std::string backup = tmp_.Sub("backup");
  EXPECT_EQ(Cli(server.port(), "CHECKPOINT " + backup), "OK\n");
  EXPECT_EQ(Cli(server.port(), "SET a 3"), "OK\n");
  const std::string again = Cli(server.port(), "CHECKPOINT " + backup);
  EXPECT_NE(again.find("exists; a checkpoint goes into a new directory"), std::string::npos)
      << again;
  ServerProcess copy(backup);
  ASSERT_TRUE(copy.ready());
  EXPECT_EQ(Cli(copy.port(), "MGET a b"), "1\n2\n");
  EXPECT_EQ(Cli(server.port(), "GET a"), "3\n");
}

// CHECKPOINT copies and flushes the active file off the event loop: the other clients of that
// loop are served meanwhile (INFO counts the caller among blocked_clients), and the caller's
// reply comes when the copy is whole, before the replies of what it sent after.
TEST_F(ServerTest, CheckpointDoesNotHoldOtherClients) {
  ServerProcess server(dir(), {"--io-threads", "1"});
  ASSERT_TRUE(server.ready());
  const int p = server.port();
  std::string resp;
  for (int i = 0; i < 48; i++) {
    resp += Resp({"SET", "big" + std::to_string(i), std::string(1 << 20, char('a' + i % 26))});
  }
  WriteFile(tmp_.Sub("big.resp"), resp);
  ASSERT_NE(Cli(p, "--pipe < " + tmp_.Sub("big.resp")).find("errors: 0"), std::string::npos);
  RawConnection a(p), b(p);
  ASSERT_TRUE(a.ok() && b.ok());
  bool served_meanwhile = false;
  for (int round = 0; round < 5 && !served_meanwhile; round++) {
    const std::string target = tmp_.Sub("cp" + std::to_string(round));
    a.Send(Resp({"CHECKPOINT", target}) + Resp({"PING"}));
    b.Send(Resp({"INFO", "clients"}));
    const std::string info = b.Read(1 << 16, 200);
    ASSERT_NE(info.find("blocked_clients:"), std::string::npos) << info;
    served_meanwhile = info.find("blocked_clients:1") != std::string::npos;
    EXPECT_EQ(a.Read(12, 20000), "+OK\r\n+PONG\r\n");
    EXPECT_TRUE(std::filesystem::exists(target + "/00000001.data"));
    EXPECT_EQ(Cli(p, "INFO clients").find("blocked_clients:1"), std::string::npos);
  }
  EXPECT_TRUE(served_meanwhile);
}

// A page under a running server that cannot be read (here another program cuts a data file
// short; a disk that fails to read a sector looks the same to a read through the mapping:
// SIGBUS, which used to end the server): the GETs of its keys get an error reply that says
// so, and the server goes on serving every other key.
TEST_F(ServerTest, UnreadablePageIsAnErrorReplyNotACrash) {
  ServerProcess server(dir(), {"--max-file-size", "65536"});
  ASSERT_TRUE(server.ready());
  const int p = server.port();
  std::string resp;
  for (int i = 0; i < 1500; i++)
    resp += Resp({"SET", "k" + std::to_string(i), std::string(100, 'v')});
  WriteFile(tmp_.Sub("fill.resp"), resp);
  ASSERT_NE(Cli(p, "--pipe < " + tmp_.Sub("fill.resp")).find("errors: 0"), std::string::npos);
  const std::string first = dir() + "/00000001.data";  // sealed: the store has rotated since
  ASSERT_EQ(::truncate(first.c_str(), 4096), 0);
  const std::string reply = Cli(p, "GET k200");  // a record past the first page
  EXPECT_NE(reply.find("ERR"), std::string::npos) << reply;
  EXPECT_NE(reply.find(first), std::string::npos) << reply;
  EXPECT_NE(reply.find("SIGBUS"), std::string::npos) << reply;
  EXPECT_EQ(Cli(p, "MGET k0 k1400"), std::string(100, 'v') + "\n" + std::string(100, 'v') + "\n");
  EXPECT_EQ(Cli(p, "SET fresh 1"), "OK\n");
  EXPECT_EQ(Cli(p, "GET fresh"), "1\n");
  EXPECT_EQ(Cli(p, "PING"), "PONG\n");
}

TEST_F(ServerTest, RepliesMatchRealRedis) {
  ServerProcess ours(dir());
  ASSERT_TRUE(ours.ready());
  const std::vector<std::string> commands = {
      "PING",
      "PING hello",
      "ECHO 'two words'",
      "FOO bar",
      "GET",
      "GET missing",
      "SET k abc",
      "GET k",
      "SET k v NX",
      "SET k v2 XX GET",
      "SET k v EX 0",
      "SET k v EX x",
      "SET k v PX 100 EX 100",
      "SET k v BOGUS",
      "INCR k",
      "SET n 10",
      "INCR n",
      "INCRBY n -20",
      "DECR n",
      "DECRBY n 5",
      "INCRBY n x",
      "SET big 9223372036854775807",
      "INCR big",
      "INCRBYFLOAT n 2.5",
      "INCRBYFLOAT n x",
      "APPEND s Hello",
      "APPEND s ' World'",
      "STRLEN s",
      "STRLEN missing",
      "GETRANGE s 0 4",
      "GETRANGE s -5 -1",
      "GETRANGE s 5 1",
      "SETRANGE s 6 Redis",
      "GET s",
      "SETRANGE s -1 x",
      "MSET a 1 b 2",
      "MSET a",
      "MGET a missing b",
      "MSETNX a 9 c 3",
      "MSETNX c 3 d 4",
      "EXISTS a a missing c",
      "DEL a a missing",
      "TYPE b",
      "TYPE missing",
      "SETNX b 5",
      "SETNX e 5",
      "GETSET e 6",
      "GETDEL e",
      "GETDEL e",
      "TTL b",
      "TTL missing",
      "EXPIRE b 100",
      "TTL b",
      "EXPIRE b 50 GT",
      "EXPIRE b 150 GT",
      "TTL b",
      "EXPIRE b 10 NX XX",
      "PERSIST b",
      "PERSIST b",
      "TTL b",
      "SETEX x 0 v",
      "SETEX x 100 v",
      "TTL x",
      "PSETEX y -5 v",
      "GETEX x PERSIST",
      "TTL x",
      "RENAME missing z",
      "RENAME b z",
      "GET z",
      "RENAMENX z c",
      "RENAMENX z w",
      "EXPIRE w -1",
      "EXISTS w",
      "SELECT 0",
      "SELECT x",
      "DBSIZE",
      "CONFIG SET bogus 1",
      "CLIENT SETNAME 'has space'",
      "CLIENT BOGUS",
      "SCAN x",
      "SCAN 0 COUNT 0",
      "AUTH x",
  };
  ExpectRepliesLikeRedis(tmp_, ours.port(), commands);
}

// MULTI, EXEC, DISCARD, WATCH and UNWATCH on one connection, against a real Redis: queued
// replies, errors that abort the transaction at EXEC and those that do not, runtime errors
// inside EXEC's reply, nesting.
TEST_F(ServerTest, TransactionsMatchRealRedis) {
  ServerProcess ours(dir());
  ASSERT_TRUE(ours.ready());
  ExpectRepliesLikeRedis(
      tmp_, ours.port(),
      {"EXEC",       "DISCARD",    "MULTI",     "MULTI",   "SET a 1",      "INCR a",
       "INCR a",     "GET a",      "FOO bar",   "EXEC",    "GET a",        "MULTI",
       "SET a 1",    "INCR a",     "WATCH x",   "GET a",   "EXEC",         "MULTI",
       "SET b x",    "INCR b",     "GET b",     "EXEC",    "MULTI",        "GET nope",
       "SET",        "EXEC",       "WATCH a b", "UNWATCH", "MULTI",        "MSET a 5 c 6",
       "DEL a",      "MGET a c",   "DISCARD",   "GET c",   "WATCH c",      "MULTI",
       "GET c",      "EXEC",       "MULTI",     "EXEC",    "MULTI",        "PING",
       "ECHO hi",    "EXEC",       "WATCH",     "MULTI",   "EXPIRE c 100", "TTL c",
       "RENAME c d", "EXISTS c d", "EXEC"});
}

// Inside a transaction each command sees what the ones before it wrote (EXEC keeps the
// writes aside until its end): reads, counts, iteration, and FLUSHDB of keys written by the
// transaction itself. KEYS and SCAN patterns match one key at a time (Redis's order of
// several is its hash table's).
TEST_F(ServerTest, TransactionsSeeTheirOwnWritesLikeRedis) {
  ServerProcess ours(dir());
  ASSERT_TRUE(ours.ready());
  ExpectRepliesLikeRedis(tmp_, ours.port(),
                         {"MSET k1 a k2 b k3 c",
                          "MULTI",
                          "SET k4 d",
                          "DEL k2",
                          "KEYS k4",
                          "KEYS k2",
                          "DBSIZE",
                          "SCAN 0 MATCH k4 COUNT 100",
                          "EXISTS k1 k2 k3 k4",
                          "SETNX k4 x",
                          "GETDEL k1",
                          "APPEND k3 z",
                          "GET k3",
                          "STRLEN k3",
                          "INCR n",
                          "INCR n",
                          "INCRBYFLOAT f 1.5",
                          "SETRANGE k3 0 Q",
                          "GETRANGE k3 0 -1",
                          "RENAME k3 k5",
                          "EXISTS k3 k5",
                          "EXPIRE k5 100",
                          "TTL k5",
                          "PERSIST k5",
                          "TTL k5",
                          "GETSET k5 e",
                          "MGET k1 k2 k3 k4 k5 n",
                          "TYPE k5",
                          "DBSIZE",
                          "FLUSHDB",
                          "DBSIZE",
                          "KEYS *",
                          "SET z 1",
                          "KEYS *",
                          "EXEC",
                          "KEYS *",
                          "DBSIZE",
                          "GET z",
                          "MULTI",
                          "SET y 1",
                          "DEL y",
                          "GET y",
                          "EXEC",
                          "EXISTS y"});
}

// Another client's reads never see part of a transaction: a writer sets a, then 200 other
// keys, then b to the same number in each EXEC; a reader reading a and then b must never
// find b behind a, and an MGET of all 202 keys must find them equal.
TEST_F(ServerTest, PlainReadsNeverSeeHalfAnExec) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0}, torn_mgets{0}, mgets{0};
  std::thread mget_reader([&] {
    RawConnection c(server.port());
    std::string request = "*203\r\n$4\r\nMGET\r\n$1\r\na\r\n";
    for (int p = 0; p < 200; p++) {
      const std::string key = "pad" + std::to_string(p);
      request += "$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    }
    request += "$1\r\nb\r\n";
    while (!done) {
      c.Send(request);
      std::string got;
      std::vector<std::string> values;
      size_t at = 0;
      while (!ParseBulkArray(got, &at, &values)) {
        const std::string more = c.Read(1, 3000);
        if (more.empty()) return;
        got += more;
        at = 0;
      }
      if (values.size() != 202 || std::set(values.begin(), values.end()).size() != 1) {
        torn_mgets++;
      }
      mgets++;
    }
  });
  std::thread reader([&] {
    RawConnection c(server.port());
    auto number = [](const std::string& reply) {  // "$n\r\nDIGITS\r\n", or "$-1\r\n": 0
      const size_t eol = reply.find("\r\n");
      return reply.rfind("$-1", 0) == 0 ? 0 : std::stol(reply.substr(eol + 2));
    };
    auto get = [&](const std::string& key) {
      c.Send(Resp({"GET", key}));
      std::string got;
      while (got.size() < 5 || got.compare(got.size() - 2, 2, "\r\n") != 0 ||
             (got[1] != '-' && std::count(got.begin(), got.end(), '\n') < 2)) {
        const std::string more = c.Read(1, 3000);
        if (more.empty()) break;
        got += more;
      }
      return got;
    };
    while (!done) {
      const long a = number(get("a"));
      const long b = number(get("b"));
      if (b < a) torn++;
      reads++;
    }
  });
  RawConnection w(server.port());
  for (int i = 1; i <= 300; i++) {
    const std::string n = std::to_string(i);
    std::string tx = Resp({"MULTI"}) + Resp({"SET", "a", n});
    for (int p = 0; p < 200; p++) tx += Resp({"SET", "pad" + std::to_string(p), n});
    tx += Resp({"SET", "b", n}) + Resp({"EXEC"});
    w.Send(tx);
    std::string got;
    while (got.find("*202\r\n") == std::string::npos ||
           std::count(got.begin(), got.end(), '+') < 1 + 202 + 202) {
      const std::string more = w.Read(1, 3000);
      ASSERT_FALSE(more.empty()) << "no reply to EXEC " << i;
      got += more;
    }
  }
  done = true;
  reader.join();
  mget_reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a reader saw a transaction's first write before its last";
  EXPECT_GT(mgets.load(), 0);
  EXPECT_EQ(torn_mgets.load(), 0) << "an MGET saw part of a transaction";
}

// kill -9 while clients run transactions: after a restart each transaction is in the store
// whole or not at all (its 52 keys all hold the same number).
TEST_F(ServerTest, KillDuringExecsKeepsWholeTransactions) {
  for (int round = 0; round < 3; round++) {
    ServerProcess server(dir());
    ASSERT_TRUE(server.ready());
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      RawConnection c(server.port());
      for (int i = 1; !stop; i++) {
        const std::string n = std::to_string(round * 1000000 + i);
        std::string tx = Resp({"MULTI"}) + Resp({"SET", "a", n});
        for (int p = 0; p < 50; p++) tx += Resp({"SET", "pad" + std::to_string(p), n});
        tx += Resp({"SET", "b", n}) + Resp({"EXEC"});
        c.Send(tx);
        if (i % 8 == 0 && c.Read(1, 1000).empty()) break;  // keep the pipe from filling
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 100 * round));
    server.Stop(SIGKILL);
    stop = true;
    writer.join();
    ServerProcess again(dir());
    ASSERT_TRUE(again.ready());
    std::string keys = "MGET a b";
    for (int p = 0; p < 50; p++) keys += " pad" + std::to_string(p);
    const std::string values = Cli(again.port(), keys);
    std::istringstream lines(values);
    std::string first, line;
    ASSERT_TRUE(std::getline(lines, first));
    int count = 1;
    while (std::getline(lines, line)) {
      EXPECT_EQ(line, first) << "round " << round << ": a transaction was cut:\n" << values;
      count++;
    }
    EXPECT_EQ(count, 52) << values;
  }
}

// WATCH across connections: a write by another client between WATCH and EXEC makes EXEC
// answer a null array and run nothing; without one, EXEC runs.
TEST_F(ServerTest, WatchAbortsExecAfterAnotherClientsWrite) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  RawConnection a(server.port()), b(server.port());
  auto roundtrip = [](RawConnection& c, const std::string& request, size_t want) {
    c.Send(request);
    return c.Read(want, 3000);
  };
  ASSERT_EQ(roundtrip(a, Resp({"SET", "k", "1"}), 5), "+OK\r\n");
  ASSERT_EQ(roundtrip(a, Resp({"WATCH", "k"}), 5), "+OK\r\n");
  ASSERT_EQ(roundtrip(b, Resp({"SET", "k", "2"}), 5), "+OK\r\n");
  const std::string tx = Resp({"MULTI"}) + Resp({"SET", "k", "3"}) + Resp({"EXEC"});
  EXPECT_EQ(roundtrip(a, tx, 5 + 9 + 5), "+OK\r\n+QUEUED\r\n*-1\r\n");
  EXPECT_EQ(Cli(server.port(), "GET k"), "2\n");
  // EXEC unwatched everything: the same transaction now runs.
  EXPECT_EQ(roundtrip(a, tx, 5 + 9 + 9), "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
  EXPECT_EQ(Cli(server.port(), "GET k"), "3\n");
  // A write of another key does not count, nor another client's transaction that only
  // reads the key; FLUSHDB counts for every key.
  ASSERT_EQ(roundtrip(a, Resp({"WATCH", "k"}), 5), "+OK\r\n");
  ASSERT_EQ(roundtrip(b, Resp({"SET", "other", "x"}), 5), "+OK\r\n");
  ASSERT_EQ(roundtrip(b, Resp({"MULTI"}) + Resp({"GET", "k"}) + Resp({"EXEC"}), 5 + 9 + 11),
            "+OK\r\n+QUEUED\r\n*1\r\n$1\r\n3\r\n");
  EXPECT_EQ(roundtrip(a, tx, 5 + 9 + 9), "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
  ASSERT_EQ(roundtrip(a, Resp({"WATCH", "k"}), 5), "+OK\r\n");
  ASSERT_EQ(roundtrip(b, Resp({"FLUSHDB"}), 5), "+OK\r\n");
  EXPECT_EQ(roundtrip(a, tx, 5 + 9 + 5), "+OK\r\n+QUEUED\r\n*-1\r\n");
  // In one pipeline with plain GETs (which the server otherwise runs together in one
  // MultiGet): the GETs inside MULTI are queued, and every reply comes in order.
  ASSERT_EQ(roundtrip(a, Resp({"SET", "a", "1"}), 5), "+OK\r\n");
  const std::string pipeline = Resp({"GET", "a"}) + Resp({"GET", "b"}) + Resp({"MULTI"}) +
                               Resp({"GET", "a"}) + Resp({"GET", "b"}) + Resp({"SET", "b", "2"}) +
                               Resp({"EXEC"}) + Resp({"GET", "a"}) + Resp({"GET", "b"});
  const std::string replies =
      "$1\r\n1\r\n$-1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
      "*3\r\n$1\r\n1\r\n$-1\r\n+OK\r\n$1\r\n1\r\n$1\r\n2\r\n";
  EXPECT_EQ(roundtrip(a, pipeline, replies.size()), replies);
}

// redis-py, as an application uses it (Debian's python3-redis, run by Debian's interpreter):
// pipeline() wraps its commands in MULTI/EXEC by default, transaction() retries on WATCH
// conflicts, and a conflict raises WatchError.
TEST_F(ServerTest, RedisPyPipelinesAndTransactions) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  WriteFile(tmp_.Sub("client.py"), R"(import sys
import redis
r = redis.Redis(port=int(sys.argv[1]))
p = r.pipeline()
p.set("a", 1).incr("a").incrby("a", 5).get("a")
print(p.execute())
def double(pipe):
    v = int(pipe.get("a"))
    pipe.multi()
    pipe.set("a", v * 2)
print(r.transaction(double, "a"), r.get("a"))
with r.pipeline() as p:
    p.watch("a")
    r.set("a", 100)
    p.multi()
    p.set("a", 1)
    try:
        p.execute()
    except redis.WatchError:
        print("WatchError")
print(r.get("a"))
)");
  const std::string out = Shell("/usr/bin/python3 " + tmp_.Sub("client.py") + " " +
                                std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(out, "[True, 2, 7, b'7']\n[True] b'14'\nWatchError\nb'100'\n");
}

// EXEC holds the keys of its commands for the whole transaction: clients incrementing two
// counters in MULTI/EXEC and a client reading both in MULTI/EXEC never see them apart, and
// no increment is lost.
TEST_F(ServerTest, ExecIsAtomicAgainstOtherClients) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  constexpr int kWriters = 4, kRounds = 1500;
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    RawConnection c(server.port());
    const std::string tx =
        Resp({"MULTI"}) + Resp({"GET", "x"}) + Resp({"GET", "y"}) + Resp({"EXEC"});
    // +OK +QUEUED +QUEUED, then EXEC's array of two bulk strings (or nulls).
    const std::string head = "+OK\r\n+QUEUED\r\n+QUEUED\r\n";
    while (!stop) {
      c.Send(tx);
      std::string got;
      std::vector<std::string> xy;
      size_t at = head.size();
      for (int i = 0; i < 100; i++) {
        at = head.size();
        if (got.size() > head.size() && ParseBulkArray(got, &at, &xy)) break;
        got += c.Read(1, 100);
      }
      if (got.compare(0, head.size(), head) != 0 || at != got.size() || xy.size() != 2 ||
          xy[0] != xy[1]) {
        torn++;
      }
      reads++;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&] {
      RawConnection c(server.port());
      const std::string tx =
          Resp({"MULTI"}) + Resp({"INCR", "x"}) + Resp({"INCR", "y"}) + Resp({"EXEC"});
      for (int i = 0; i < kRounds; i++) {
        c.Send(tx);
        std::string got;
        while (got.find("*2\r\n") == std::string::npos ||
               std::count(got.begin(), got.end(), ':') < 2) {
          const std::string more = c.Read(1, 3000);
          if (more.empty()) return;
          got += more;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a reader's EXEC saw x and y apart";
  const std::string total = std::to_string(kWriters * kRounds) + "\n";
  EXPECT_EQ(Cli(server.port(), "GET x"), total);
  EXPECT_EQ(Cli(server.port(), "GET y"), total);
}

TEST_F(ServerTest, RedisBenchmarkRunsCleanly) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  const std::string out = Shell("redis-benchmark -p " + std::to_string(server.port()) +
                                " -t set,get,incr,mset -n 5000 -c 20 -P 4 -q 2>&1");
  EXPECT_NE(out.find("SET:"), std::string::npos) << out;
  EXPECT_NE(out.find("MSET (10 keys):"), std::string::npos) << out;
  EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  EXPECT_EQ(Cli(server.port(), "GET counter:__rand_int__"), "5000\n");
}

}  // namespace
}  // namespace bitcask::test
