// bitcask-server's settings as an operator meets them: flags, a config file, CONFIG GET, SET
// and REWRITE, all through the one table (server/settings.h).

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.Sub("data"); }
  TempDir tmp_;
};

// "name\nvalue\n..." as redis-cli prints CONFIG GET, to name -> value.
std::vector<std::pair<std::string, std::string>> Pairs(const std::string& out) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::istringstream in(out);
  std::string name, value;
  while (std::getline(in, name) && std::getline(in, value)) pairs.emplace_back(name, value);
  return pairs;
}

TEST_F(ConfigTest, PortsOutOfRangeAreRefusedEverywhere) {
  std::string out = Shell(SERVER_PATH " --dir " + dir() + " --port 70000 2>&1; echo exit=$?");
  EXPECT_NE(out.find("--port: 'port' must be between 0 and 65535 inclusive, not '70000'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("exit=2"), std::string::npos) << out;
  const std::string conf = tmp_.Sub("bad.conf");
  WriteFile(conf, "port 70000\n");
  out = Shell(SERVER_PATH " --dir " + dir() + " --config " + conf + " 2>&1; echo exit=$?");
  EXPECT_NE(out.find("bad.conf line 1 ('port 70000'): 'port' must be between 0 and 65535"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("exit=2"), std::string::npos) << out;
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Cli(server.port(), "CONFIG SET timeout -5"),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be "
            "between 0 and 2147483647 inclusive\n\n");
}

// What CONFIG GET * prints, written as "name value" lines, is a config file the server takes,
// and a server started with it shows the same settings.
TEST_F(ConfigTest, ConfigGetOutputIsAConfigFile) {
  ServerProcess first(dir(),
                      {"--maxclients", "321", "--appendfsync", "always", "--max-file-size", "8mb",
                       "--compression", "lz4", "--sync-interval-ms", "250", "--requirepass", "pw"});
  ASSERT_TRUE(first.ready());
  const std::string all = Cli(first.port(), "-a pw --no-auth-warning CONFIG GET '*'");
  const auto pairs = Pairs(all);
  ASSERT_GT(pairs.size(), 20u) << all;
  std::string file;
  for (const auto& [name, value] : pairs) {
    file += name + " " + (value.empty() ? "\"\"" : value) + "\n";
  }
  EXPECT_NE(file.find("databases 1\n"), std::string::npos) << file;
  EXPECT_NE(file.find("max-file-size 8388608\n"), std::string::npos) << file;
  first.Stop();
  const std::string conf = tmp_.Sub("from-config-get.conf");
  WriteFile(conf, file);
  ServerProcess second(dir(), {"--config", conf});
  ASSERT_TRUE(second.ready()) << file;
  const auto again = Pairs(Cli(second.port(), "-a pw --no-auth-warning CONFIG GET '*'"));
  ASSERT_EQ(again.size(), pairs.size());
  for (size_t i = 0; i < pairs.size(); i++) {
    if (pairs[i].first == "port" || pairs[i].first == "http-port") continue;  // flags override
    EXPECT_EQ(again[i], pairs[i]) << pairs[i].first;
  }
}

// CONFIG SET loglevel changes what the log holds from then on.
TEST_F(ConfigTest, ConfigSetLoglevelTakesEffect) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Cli(server.port(), "PING"), "PONG\n");
  const std::string log = dir() + ".log";
  EXPECT_EQ(ReadFile(log).find("client connected"), std::string::npos);
  ASSERT_EQ(Cli(server.port(), "CONFIG SET loglevel verbose"), "OK\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG GET loglevel"), "loglevel\nverbose\n");
  EXPECT_EQ(Cli(server.port(), "PING"), "PONG\n");
  EXPECT_NE(ReadFile(log).find("client connected"), std::string::npos);
  EXPECT_EQ(Cli(server.port(), "CONFIG SET loglevel loud"),
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument must be "
            "one of the following: debug, verbose, notice, warning\n\n");
}

// CONFIG SET is all or nothing; names a setting it cannot change.
TEST_F(ConfigTest, ConfigSetIsAllOrNothing) {
  ServerProcess server(dir());
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Cli(server.port(), "CONFIG SET timeout 5 port 1"),
            "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
            "config\n\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG SET timeout 5 maxclients x"),
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
            "couldn't be parsed into an integer between 1 and 1000000000 inclusive\n\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG SET timeout 5 timeout 6"),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate "
            "parameter\n\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG GET timeout"), "timeout\n0\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG SET timeout 5 proto-max-bulk-len 1mb"), "OK\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG GET timeout"), "timeout\n5\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG GET proto-max-bulk-len"), "proto-max-bulk-len\n1048576\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG SET nope 1"),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nope'\n\n");
}

// CONFIG REWRITE brings the file the server started with up to date; a restart with it keeps
// what CONFIG SET changed. Without a file it says so.
TEST_F(ConfigTest, ConfigRewrite) {
  {
    ServerProcess server(dir());
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Cli(server.port(), "CONFIG REWRITE"),
              "ERR The server is running without a config file\n\n");
  }
  const std::string conf = tmp_.Sub("server.conf");
  WriteFile(conf, "# kept\nmaxclients 50\ntimeout 0\n");
  {
    ServerProcess server(dir(), {"--config", conf});
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(Cli(server.port(), "CONFIG SET maxclients 77 timeout 9 loglevel warning"), "OK\n");
    ASSERT_EQ(Cli(server.port(), "CONFIG REWRITE"), "OK\n");
  }
  const std::string text = ReadFile(conf);
  EXPECT_EQ(text.substr(0, text.find("# Generated")), "# kept\nmaxclients 77\ntimeout 9\n") << text;
  EXPECT_NE(text.find("loglevel warning\n"), std::string::npos) << text;
  ServerProcess server(dir(), {"--config", conf});
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Cli(server.port(), "CONFIG GET maxclients"), "maxclients\n77\n");
  EXPECT_EQ(Cli(server.port(), "CONFIG GET timeout"), "timeout\n9\n");
}

}  // namespace
}  // namespace bitcask::test
