// bitcask-server's HTTP side as users meet it: /health, /metrics and the JSON data API, and
// the password that guards RESP guarding them too. Every test starts its own server.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

class HttpTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.Sub("data"); }
  TempDir tmp_;
};

TEST_F(HttpTest, HttpMetricsHealthAndDataApi) {
  const std::string conf = tmp_.Sub("http.conf");
  WriteFile(conf, "http-max-body-bytes 1000\n");
  ServerProcess server(dir(), {"--config", conf, "--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(server.ready());
  httplib::Client http("127.0.0.1", server.http_port());
  auto r = http.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("healthy"), std::string::npos);
  r = http.Post("/put", R"({"key": "user", "value": {"name": "Alice", "tags": [1, 2]}})",
                "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = http.Get("/get/user");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"found":true,"key":"user","value":{"name":"Alice","tags":[1,2]}})");
  EXPECT_EQ(Cli(server.port(), "GET user"), "{\"name\":\"Alice\",\"tags\":[1,2]}\n");
  Cli(server.port(), "SET plain 'not json'");
  EXPECT_EQ(http.Get("/get/plain")->body, R"({"found":true,"key":"plain","value":"not json"})");
  r = http.Get("/get/missing");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"found":false,"key":"missing","value":null})");
  r = http.Post("/put", "{not json", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("detail"), std::string::npos);
  r = http.Post("/put", R"({"value": 1})", "application/json");
  EXPECT_EQ(r->status, 400);
  r = http.Post("/put", "{\"key\": \"big\", \"value\": \"" + std::string(2000, 'x') + "\"}",
                "application/json");
  EXPECT_EQ(r->status, 413);
  r = http.Post("/batch", R"({"data": {"a": 1, "b": "two"}})", "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"count":2,"status":"success"})");
  r = http.Get("/keys");
  EXPECT_EQ(r->body, R"({"count":4,"keys":["a","b","plain","user"]})");
  r = http.Delete("/delete/a");
  EXPECT_EQ(r->status, 200);
  r = http.Delete("/delete/a");
  EXPECT_EQ(r->status, 404);
  r = http.Get("/");
  EXPECT_NE(r->body.find("\"keys_count\":3"), std::string::npos) << r->body;
  r = http.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("bitcask_keys 3"), std::string::npos);
  EXPECT_NE(r->body.find("bitcask_commands_total{command=\"get\"} 1"), std::string::npos);
  EXPECT_NE(r->body.find("bitcask_connected_clients"), std::string::npos);
  EXPECT_NE(r->body.find("# TYPE bitcask_command_duration_seconds summary"), std::string::npos);
  r = http.Post("/clear", "", "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Cli(server.port(), "DBSIZE"), "0\n");
}

TEST_F(HttpTest, HttpHealthAnswersWhileConnectionsSitIdle) {
  ServerProcess server(dir(), {"--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(server.ready());
  // A pool of clients kept open, a port scanner: each connection holds a worker while it
  // waits for a request. The library's 8 workers, waiting 5 s each, held /health up for
  // about 9 s behind 20 such connections (a health probe with a timeout fails).
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 20; i++) {
    idle.push_back(std::make_unique<RawConnection>(server.http_port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // all accepted, all quiet
  httplib::Client http("127.0.0.1", server.http_port());
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(2, 0);
  auto r = http.Get("/health");
  ASSERT_TRUE(r) << "no answer to /health within 2 s behind 20 idle connections";
  EXPECT_EQ(r->status, 200);
  // A connection that stays quiet is closed after 2 s, and gives its worker back.
  bool closed = false;
  idle.front()->Read(1, 5000, &closed);
  EXPECT_TRUE(closed) << "idle HTTP connection not closed";
  // The time is a setting, of a second at least.
  const std::string out =
      Shell(SERVER_PATH " --dir " + dir() + "-x --port 0 --http-idle-timeout 0 2>&1; echo exit=$?");
  EXPECT_NE(out.find("--http-idle-timeout: 'http-idle-timeout' must be between 1 and 86400 "
                     "inclusive, not '0'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("exit=2"), std::string::npos) << out;
}

// One request of each endpoint that reads or changes data, with a body where it takes one.
struct Endpoint {
  const char* method;
  const char* path;
  const char* body;
};
const Endpoint kDataEndpoints[] = {
    {"GET", "/", ""},
    {"GET", "/get/secret", ""},
    {"GET", "/keys", ""},
    {"POST", "/put", R"({"key": "secret", "value": "overwritten"})"},
    {"POST", "/batch", R"({"data": {"secret": "overwritten", "new": 1}})"},
    {"DELETE", "/delete/secret", ""},
    {"POST", "/clear", ""},
};

std::pair<std::string, std::string> Bearer(const std::string& token) {
  return {"Authorization", "Bearer " + token};
}

httplib::Result Send(httplib::Client& http, const Endpoint& e, const httplib::Headers& headers) {
  const std::string method = e.method;
  if (method == "GET") return http.Get(e.path, headers);
  if (method == "POST") return http.Post(e.path, headers, e.body, "application/json");
  return http.Delete(e.path, headers);
}

// With requirepass set, the HTTP API answers 401 (a JSON error) to a request without the
// password or with a wrong one, and changes nothing; with it, as Basic credentials of the
// user "default" (curl -u default:PASS) or as a Bearer token, it works. /health stays open.
TEST_F(HttpTest, PasswordGuardsEveryDataEndpoint) {
  ServerProcess server(dir(),
                       {"--requirepass", "s3cret", "--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(server.ready());
  const std::string cli = "-a s3cret --no-auth-warning ";
  ASSERT_EQ(Cli(server.port(), cli + "SET secret classified"), "OK\n");
  httplib::Client http("127.0.0.1", server.http_port());
  const httplib::Headers none;
  const httplib::Headers wrong_basic = {
      httplib::make_basic_authentication_header("default", "guess")};
  const httplib::Headers wrong_user = {
      httplib::make_basic_authentication_header("admin", "s3cret")};
  const httplib::Headers wrong_bearer = {Bearer("guess")};
  const httplib::Headers garbled = {{"Authorization", "Basic !!!notbase64"}};
  for (const Endpoint& e : kDataEndpoints) {
    for (const httplib::Headers* h : {&none, &wrong_basic, &wrong_user, &wrong_bearer, &garbled}) {
      auto r = Send(http, e, *h);
      ASSERT_TRUE(r) << e.method << " " << e.path;
      EXPECT_EQ(r->status, 401) << e.method << " " << e.path << ": " << r->body;
      EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
      EXPECT_NE(r->body.find("\"detail\""), std::string::npos) << r->body;
      EXPECT_EQ(r->body.find("s3cret"), std::string::npos) << "the reply names the password";
      EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Basic"), std::string::npos);
    }
  }
  EXPECT_NE(Send(http, kDataEndpoints[0], none)->body.find("curl -u default:PASSWORD"),
            std::string::npos);
  // Nothing was read out or changed.
  EXPECT_EQ(Cli(server.port(), cli + "GET secret"), "classified\n");
  EXPECT_EQ(Cli(server.port(), cli + "DBSIZE"), "1\n");
  // Failed attempts (not requests without credentials) are counted and logged with the
  // client's address, never the password.
  EXPECT_NE(Cli(server.port(), cli + "INFO stats").find("acl_access_denied_auth:21\r"),
            std::string::npos);
  const std::string log = ReadFile(dir() + ".log");
  EXPECT_NE(log.find("HTTP authentication failed"), std::string::npos);
  EXPECT_NE(log.find("127.0.0.1:"), std::string::npos);
  EXPECT_EQ(log.find("guess"), std::string::npos);

  // /health is open; /metrics too, by default.
  EXPECT_EQ(http.Get("/health")->status, 200);
  EXPECT_EQ(http.Get("/metrics")->status, 200);

  // The right password, either way.
  const httplib::Headers basic = {httplib::make_basic_authentication_header("default", "s3cret")};
  const httplib::Headers bearer = {Bearer("s3cret")};
  auto r = http.Get("/get/secret", basic);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"found":true,"key":"secret","value":"classified"})");
  r = http.Post("/put", bearer, R"({"key": "k", "value": 1})", "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(http.Get("/keys", bearer)->body, R"({"count":2,"keys":["k","secret"]})");
  EXPECT_EQ(http.Delete("/delete/k", basic)->status, 200);
  EXPECT_EQ(http.Post("/clear", basic, "", "application/json")->status, 200);
  EXPECT_EQ(Cli(server.port(), cli + "DBSIZE"), "0\n");

  // A password set at run time guards HTTP from then on; cleared, it opens it again.
  ASSERT_EQ(Cli(server.port(), cli + "CONFIG SET requirepass other"), "OK\n");
  EXPECT_EQ(http.Get("/keys", basic)->status, 401);
  EXPECT_EQ(
      http.Get("/keys", {httplib::make_basic_authentication_header("default", "other")})->status,
      200);
  ASSERT_EQ(Cli(server.port(), "-a other --no-auth-warning CONFIG SET requirepass ''"), "OK\n");
  EXPECT_EQ(http.Get("/keys")->status, 200);
}

// http-metrics-auth yes: /metrics needs the password too; /health still does not.
TEST_F(HttpTest, MetricsCanRequireThePassword) {
  ServerProcess server(dir(), {"--requirepass", "s3cret", "--http-metrics-auth", "yes",
                               "--http-port", ServerProcess::kFreeHttpPort});
  ASSERT_TRUE(server.ready());
  httplib::Client http("127.0.0.1", server.http_port());
  EXPECT_EQ(http.Get("/metrics")->status, 401);
  auto r = http.Get("/metrics", {httplib::make_basic_authentication_header("default", "s3cret")});
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("bitcask_keys"), std::string::npos);
  EXPECT_EQ(http.Get("/health")->status, 200);
}

// http-port 0 turns the HTTP API off, and the server says so.
TEST_F(HttpTest, PortZeroTurnsItOff) {
  ServerProcess server(dir(), {"--http-port", "0"});
  ASSERT_TRUE(server.ready());
  EXPECT_NE(server.ready_line().find("(http off)"), std::string::npos) << server.ready_line();
  EXPECT_EQ(Cli(server.port(), "PING"), "PONG\n");
  EXPECT_NE(ReadFile(dir() + ".log").find("HTTP API off (http-port 0)"), std::string::npos);
  const std::string out =
      Shell(SERVER_PATH " --dir " + dir() + "-x --http-port 70000 2>&1; echo exit=$?");
  EXPECT_NE(out.find("'http-port' must be between 0 and 65535"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=2"), std::string::npos) << out;
}

}  // namespace
}  // namespace bitcask::test
