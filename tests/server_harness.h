// What the tests of bitcask-server as a process share: the server started on free loopback
// ports, a real redis-server beside it, redis-cli, and raw sockets for what no well-behaved
// client sends. Every test starts its own servers and stops them.

#ifndef BITCASK_TESTS_SERVER_HARNESS_H_
#define BITCASK_TESTS_SERVER_HARNESS_H_

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace bitcask::test {

// A TCP port on loopback that nothing listens on right now (the kernel's pick).
int FreePort();
// The first of n consecutive free loopback ports (0 if none was found).
int FreePortRange(int n);

// A bitcask-server child process on a free RESP port (unless extra names "--port"). Its HTTP
// API is off unless extra holds "--http-port", kFreeHttpPort: then it gets a free port
// (http_port() says which).
class ServerProcess {
 public:
  static constexpr const char* kFreeHttpPort = "free";

  // open_files: if not 0, the server runs with that limit on open files (soft and hard),
  // through util-linux's prlimit.
  explicit ServerProcess(const std::string& dir, std::vector<std::string> extra = {},
                         unsigned open_files = 0);
  ~ServerProcess() { Stop(SIGKILL); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ready() const { return port_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  int http_port() const { return http_port_; }
  // The first line the server printed ("bitcask-server ready on ...").
  const std::string& ready_line() const { return ready_line_; }

  // Sends sig and waits; returns the exit status (-1 if already gone).
  int Stop(int sig = SIGTERM);
  // Waits for the process to end on its own (SHUTDOWN); up to 30 s.
  int Wait();

 private:
  void Spawn(const std::vector<std::string>& args);

  pid_t pid_ = -1;
  int port_ = 0;
  int http_port_ = 0;
  std::string ready_line_;
};

// Runs a shell command; its standard output.
std::string Shell(const std::string& cmd);

// redis-cli against the server; stdout (and stderr) of the call. args are shell words.
std::string Cli(int port, const std::string& args);

// A field of INFO's section ("" if absent).
std::string InfoField(int port, const std::string& field,
                      const std::string& section = "replication");

// Waits until pred() holds (polling every 50 ms), up to `limit`; whether it did.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// A command as a client sends it: a RESP array of bulk strings.
std::string Resp(std::initializer_list<std::string> args);
std::string Resp(const std::vector<std::string>& args);

// Sends the commands in one pipeline on a new connection and returns every byte of their
// replies (binary-safe; up to a closing ECHO the function adds).
std::string Replies(int port, const std::vector<std::vector<std::string>>& commands);

// A raw TCP connection to a loopback port.
class RawConnection {
 public:
  // With connect_timeout_ms >= 0, gives up (ok() false) if the server has not taken the
  // connection by then.
  explicit RawConnection(int port, int connect_timeout_ms = -1);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  void Send(const std::string& bytes);
  // Reads until `want` bytes arrived, the peer closed, or timeout_ms passed.
  std::string Read(size_t want, int timeout_ms, bool* closed = nullptr);

 private:
  int fd_ = -1;
};

// Parses a RESP array of bulk strings (a null bulk string as "nil") at text[*at], moving
// *at past it. False if the text does not hold all of it yet (or is not one).
bool ParseBulkArray(const std::string& text, size_t* at, std::vector<std::string>* items);

// A process of Debian's redis-server on a free port, started by a shell command made for that
// port, killed on destruction. port() is 0 if it could not start (did not answer PING).
class RedisProcess {
 public:
  explicit RedisProcess(const std::function<std::string(int port)>& command);
  ~RedisProcess() { Stop(); }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  void Stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A real redis-server (Debian's redis-server package) with its files in dir.
class RealRedis : public RedisProcess {
 public:
  explicit RealRedis(const std::string& dir, const std::string& extra_args = "");
};

// A real Redis Sentinel (redis-server --sentinel), its config file and log in dir, watching the
// leader on loopback port leader_port under `name`: the leader is down after 1 s without an
// answer, and `quorum` Sentinels must agree before one of them fails it over.
class RealSentinel : public RedisProcess {
 public:
  RealSentinel(const std::string& dir, const std::string& name, int leader_port, int quorum);
};

// Runs the commands (one per line, redis-cli syntax) through redis-cli against a real Redis
// and against bitcask-server on port ours, and expects the same output line for line.
void ExpectRepliesLikeRedis(const TempDir& tmp, int ours, const std::vector<std::string>& commands);

}  // namespace bitcask::test

#endif  // BITCASK_TESTS_SERVER_HARNESS_H_
