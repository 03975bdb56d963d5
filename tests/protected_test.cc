// Protected mode: with no password, a client that is not on the loopback interface gets
// Redis's DENIED error (the HTTP API: 403) and nothing else. The other side is a network
// namespace the test makes on this machine, joined to it by a veth pair (needs root and
// iproute2; skipped otherwise): a real redis-server, bound the same way, says the same thing.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

// A namespace with 10.213.N.2, reaching this machine's 10.213.N.1 over a veth pair.
class Namespace {
 public:
  Namespace() {
    const int n = 1 + ::getpid() % 250;
    name_ = "bc" + std::to_string(::getpid());
    host_ = "10.213." + std::to_string(n) + ".1";
    const std::string v0 = name_ + "a", v1 = name_ + "b", net = "10.213." + std::to_string(n);
    const std::string script =
        "set -e; ip netns add " + name_ + "; ip link add " + v0 + " type veth peer name " + v1 +
        "; ip link set " + v1 + " netns " + name_ + "; ip addr add " + net + ".1/24 dev " + v0 +
        "; ip link set " + v0 + " up; ip netns exec " + name_ + " ip addr add " + net +
        ".2/24 dev " + v1 + "; ip netns exec " + name_ + " ip link set " + v1 +
        " up; ip netns exec " + name_ + " ip link set lo up; echo ready";
    ok_ = ::geteuid() == 0 && Shell("(" + script + ") 2>&1").find("ready") != std::string::npos;
  }
  ~Namespace() {
    Shell("ip netns del " + name_ + " 2>/dev/null; ip link del " + name_ + "a 2>/dev/null");
  }
  bool ok() const { return ok_; }
  // The address of this machine as the namespace reaches it.
  const std::string& host() const { return host_; }
  // Runs a shell command inside the namespace; its output.
  std::string Run(const std::string& cmd) const {
    return Shell("ip netns exec " + name_ + " " + cmd + " 2>&1");
  }

 private:
  std::string name_, host_;
  bool ok_ = false;
};

TEST(ProtectedModeTest, OnlyLoopbackClientsWithoutAPassword) {
  Namespace ns;
  if (!ns.ok()) GTEST_SKIP() << "needs root and iproute2 to make a network namespace";
  TempDir tmp;
  // Every interface: loopback, and the veth the namespace comes through.
  ServerProcess server(tmp.Sub("db"),
                       {"--bind", "0.0.0.0", "--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(server.ready());
  RealRedis redis(tmp.path(), "--bind 0.0.0.0");
  ASSERT_NE(redis.port(), 0);
  auto from_outside = [&](int port, const std::string& cmd) {
    return ns.Run("redis-cli -h " + ns.host() + " -p " + std::to_string(port) + " " + cmd);
  };
  const std::string denied = from_outside(redis.port(), "PING");
  ASSERT_EQ(denied.rfind("DENIED Redis is running in protected mode", 0), 0u) << denied;
  EXPECT_EQ(from_outside(server.port(), "PING"), denied);
  EXPECT_EQ(from_outside(server.port(), "SET a 1"), denied);
  EXPECT_EQ(Cli(server.port(), "EXISTS a"), "0\n") << "nothing was written from outside";
  EXPECT_EQ(Cli(server.port(), "PING"), "PONG\n") << "loopback is served";

  // HTTP: 403 with the same text, but for /health.
  auto http_outside = [&](const std::string& path) {
    return ns.Run(
        "/usr/bin/python3 -c \"import urllib.request as u, urllib.error as e\n"
        "try: print(u.urlopen('http://" +
        ns.host() + ":" + std::to_string(server.http_port()) + path +
        "').status)\nexcept e.HTTPError as x: print(x.code, x.read().decode())\"");
  };
  const std::string get = http_outside("/get/a");
  EXPECT_EQ(get.rfind("403 ", 0), 0u) << get;
  EXPECT_NE(get.find("DENIED Redis is running in protected mode"), std::string::npos) << get;
  EXPECT_EQ(http_outside("/health"), "200\n");

  // A password lifts it (the client must then AUTH); so does protected-mode no.
  EXPECT_EQ(Cli(server.port(), "CONFIG SET requirepass s3cret"), "OK\n");
  EXPECT_EQ(from_outside(server.port(), "PING"), "NOAUTH Authentication required.\n\n");
  EXPECT_EQ(from_outside(server.port(), "-a s3cret --no-auth-warning PING"), "PONG\n");
  EXPECT_EQ(Cli(server.port(), "-a s3cret --no-auth-warning CONFIG SET requirepass ''"), "OK\n");
  EXPECT_EQ(from_outside(server.port(), "PING"), denied);
  EXPECT_EQ(Cli(server.port(), "CONFIG SET protected-mode no"), "OK\n");
  EXPECT_EQ(from_outside(server.port(), "PING"), "PONG\n");
  EXPECT_EQ(http_outside("/get/a").rfind("404", 0), 0u);
  EXPECT_EQ(Cli(server.port(), "CONFIG GET protected-mode"), "protected-mode\nno\n");
}

}  // namespace
}  // namespace bitcask::test
