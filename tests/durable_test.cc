// appendfsync always (group commit across connections): a reply leaves the server only after a
// flush of the store covers every write it could reflect, and one flush carries every write
// a round of the event loops made (a pipeline of writes is not a flush per write). The server
// runs in this process over a FaultInjectionEnv whose fdatasync the test holds on a gate.

#include <gtest/gtest.h>
#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fault_env.h"
#include "server/http.h"
#include "server/network.h"
#include "server/state.h"
#include "server_harness.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

using server::HttpServer;
using server::Logger;
using server::RespServer;
using server::ServerConfig;
using server::ServerState;

// Holds every fdatasync of the store until opened.
class SyncGate {
 public:
  explicit SyncGate(FaultInjectionEnv* env) {
    env->SetBeforeCall([this](FaultInjectionEnv::Kind kind, const std::string&) {
      if (kind != FaultInjectionEnv::kSyncData) return;
      std::unique_lock l(mu_);
      waiting_++;
      cv_.notify_all();
      cv_.wait(l, [this] { return open_; });
      waiting_--;
    });
  }
  void Close() {
    std::lock_guard l(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until a flush is held at the gate.
  bool WaitForHeldFlush() {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [this] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// bitcask-server's RESP (and, with http, HTTP) side in this process, on free ports.
class DurableServer {
 public:
  DurableServer(const std::string& dir, Env* env, bool http = false) {
    ServerConfig cfg;
    cfg.dir = dir;
    cfg.port = 0;
    cfg.appendfsync = "always";
    cfg.io_threads = 2;
    cfg.http_port = http ? FreePort() : 0;
    log_.SetLevel("warning");
    state_ = std::make_unique<ServerState>(cfg, &log_);
    Options options = server::EngineOptions(cfg);
    options.env = env;
    options.commit_listener = state_->commit_listener();
    std::unique_ptr<DB> db;
    EXPECT_TRUE(DB::Open(options, dir, &db).ok());
    EXPECT_TRUE(state_->SetStore(std::move(db)).ok());
    resp_ = std::make_unique<RespServer>(state_.get(), &log_);
    EXPECT_TRUE(resp_->Start().ok());
    state_->request_shutdown = [this] { resp_->Stop(); };
    if (http) {
      http_ = std::make_unique<HttpServer>(state_.get(), &log_);
      EXPECT_TRUE(http_->Start().ok());
    }
    thread_ = std::thread([this] {
      resp_->Run();
      ran_out_ = true;
    });
  }
  ~DurableServer() {
    resp_->Stop();
    thread_.join();
    if (http_) http_->Stop();
    ServerState::StoreUse use(state_.get());
    (void)state_->db().Close();
  }

  int port() const { return state_->bound_port; }
  int http_port() const { return state_->bound_http_port; }
  // Whether the event loops have ended (the server shut itself down).
  bool ran_out() const { return ran_out_; }

 private:
  Logger log_;
  std::unique_ptr<ServerState> state_;
  std::unique_ptr<RespServer> resp_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  std::atomic<bool> ran_out_{false};
};

constexpr int kQuietMs = 300;

// A reply caused by a write, and any reply given while that write is not flushed (another
// client's GET of it, a PING), waits for the flush; each comes once the flush is done.
TEST(DurableTest, RepliesWaitForTheFlushThatCoversThem) {
  TempDir tmp;
  FaultInjectionEnv env;
  SyncGate gate(&env);
  DurableServer server(tmp.Sub("db"), &env);
  RawConnection a(server.port()), b(server.port()), c(server.port());
  a.Send(Resp({"PING"}));
  ASSERT_EQ(a.Read(7, 3000), "+PONG\r\n");  // nothing written: no flush to wait for

  gate.Close();
  a.Send(Resp({"SET", "k", "v1"}));
  ASSERT_TRUE(gate.WaitForHeldFlush());
  b.Send(Resp({"GET", "k"}));
  c.Send(Resp({"PING"}));
  EXPECT_EQ(a.Read(5, kQuietMs), "") << "the SET was acknowledged before its flush";
  EXPECT_EQ(b.Read(8, kQuietMs), "") << "a GET showed a write not yet flushed";
  EXPECT_EQ(c.Read(7, kQuietMs), "");
  gate.Open();
  EXPECT_EQ(a.Read(5, 3000), "+OK\r\n");
  EXPECT_EQ(b.Read(8, 3000), "$2\r\nv1\r\n");
  EXPECT_EQ(c.Read(7, 3000), "+PONG\r\n");
}

// Writes of a round share one flush: a pipeline of 200 SETs, and 8 clients writing while a
// flush runs, take a handful of flushes, not one each.
TEST(DurableTest, OneFlushCoversAPipelineAndOtherClients) {
  TempDir tmp;
  FaultInjectionEnv env;
  SyncGate gate(&env);
  DurableServer server(tmp.Sub("db"), &env);
  RawConnection a(server.port());
  a.Send(Resp({"PING"}));
  ASSERT_EQ(a.Read(7, 3000), "+PONG\r\n");

  uint64_t before = env.calls(FaultInjectionEnv::kSyncData);
  std::string pipeline, expected;
  for (int i = 0; i < 200; i++) {
    pipeline += Resp({"SET", "p" + std::to_string(i), std::string(100, 'x')});
    expected += "+OK\r\n";
  }
  a.Send(pipeline);
  EXPECT_EQ(a.Read(expected.size(), 10000), expected);
  EXPECT_LE(env.calls(FaultInjectionEnv::kSyncData) - before, 10u)
      << "a pipeline of 200 SETs took a flush per write";

  gate.Close();
  before = env.calls(FaultInjectionEnv::kSyncData);
  a.Send(Resp({"SET", "first", "1"}));
  ASSERT_TRUE(gate.WaitForHeldFlush());
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 8; i++) {
    clients.push_back(std::make_unique<RawConnection>(server.port()));
    std::string sets;
    for (int j = 0; j < 10; j++) sets += Resp({"SET", "c" + std::to_string(i * 10 + j), "v"});
    clients.back()->Send(sets);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(kQuietMs));
  gate.Open();
  EXPECT_EQ(a.Read(5, 3000), "+OK\r\n");
  for (auto& client : clients) {
    std::string ten;
    for (int j = 0; j < 10; j++) ten += "+OK\r\n";
    EXPECT_EQ(client->Read(ten.size(), 5000), ten);
  }
  EXPECT_LE(env.calls(FaultInjectionEnv::kSyncData) - before, 6u)
      << "81 writes of 9 clients were not flushed together";
}

// A flush that fails: no reply claims the write (the connection closes without one), and the
// server stops, as Redis exits when its AOF cannot be flushed.
TEST(DurableTest, AFailedFlushSendsNoReplyAndStopsTheServer) {
  TempDir tmp;
  FaultInjectionEnv env;
  DurableServer server(tmp.Sub("db"), &env);
  RawConnection a(server.port());
  a.Send(Resp({"PING"}));
  ASSERT_EQ(a.Read(7, 3000), "+PONG\r\n");
  env.FailAfter(FaultInjectionEnv::kSyncData, 0, EIO);
  a.Send(Resp({"SET", "k", "v"}));
  bool closed = false;
  EXPECT_EQ(a.Read(5, 5000, &closed), "");
  EXPECT_TRUE(closed);
  for (int i = 0; i < 100 && !server.ran_out(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(server.ran_out()) << "the server went on after a failed flush";
}

// The HTTP API answers a write only after its flush.
TEST(DurableTest, HttpAnswersAfterTheFlush) {
  TempDir tmp;
  FaultInjectionEnv env;
  SyncGate gate(&env);
  DurableServer server(tmp.Sub("db"), &env, /*http=*/true);
  gate.Close();
  std::atomic<bool> answered{false};
  int status = 0;
  std::thread put([&] {
    httplib::Client client("127.0.0.1", server.http_port());
    const auto res = client.Post("/put", R"({"key": "k", "value": "v"})", "application/json");
    status = res ? res->status : -1;
    answered = true;
  });
  ASSERT_TRUE(gate.WaitForHeldFlush());
  std::this_thread::sleep_for(std::chrono::milliseconds(kQuietMs));
  EXPECT_FALSE(answered) << "HTTP acknowledged a write before its flush";
  gate.Open();
  put.join();
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace bitcask::test
