#include "server_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

namespace bitcask::test {

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

int FreePortRange(int n) {
  for (int attempt = 0; attempt < 100; attempt++) {
    const int first = FreePort();
    if (first == 0 || first + n > 60000) continue;
    std::vector<int> fds;
    bool all = true;
    for (int i = 0; i < n && all; i++) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(first + i));
      all = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      fds.push_back(fd);
    }
    for (int fd : fds) ::close(fd);
    if (all) return first;
  }
  return 0;
}

ServerProcess::ServerProcess(const std::string& dir, std::vector<std::string> extra,
                             unsigned open_files) {
  std::vector<std::string> args = {SERVER_PATH, "--dir", dir, "--logfile", dir + ".log"};
  if (std::find(extra.begin(), extra.end(), "--port") == extra.end()) {
    args.insert(args.end(), {"--port", "0"});
  }
  auto http = std::find(extra.begin(), extra.end(), "--http-port");
  const bool free_http = http != extra.end() && http + 1 != extra.end() && http[1] == kFreeHttpPort;
  if (http == extra.end()) args.insert(args.end(), {"--http-port", "0"});
  args.insert(args.end(), extra.begin(), extra.end());
  if (open_files > 0) {
    const std::string n = std::to_string(open_files);
    args.insert(args.begin(), {"prlimit", "--nofile=" + n + ":" + n, "--"});
  }
  // A free port can be taken by someone else before the server binds it: try another.
  const auto at = std::find(args.begin(), args.end(), kFreeHttpPort);
  for (int attempt = 0; attempt < (free_http ? 5 : 1) && !ready(); attempt++) {
    if (free_http) *at = std::to_string(FreePort());
    Spawn(args);
    if (!ready()) Wait();
  }
}

void ServerProcess::Spawn(const std::vector<std::string>& args_in) {
  std::vector<std::string> args = args_in;
  int out[2];
  if (::pipe(out) != 0) std::abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(out[0]);
    return;
  }
  // "bitcask-server ready on 127.0.0.1:PORT (http HTTP|off); ..."
  FILE* f = ::fdopen(out[0], "r");
  char line[512];
  if (std::fgets(line, sizeof line, f) != nullptr) {
    ready_line_ = line;
    if (const char* on = std::strstr(line, "ready on ")) {
      if (const char* colon = std::strchr(on, ':')) {
        std::sscanf(colon + 1, "%d (http %d)", &port_, &http_port_);
      }
    }
  }
  std::fclose(f);
}

int ServerProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  return Wait();
}

int ServerProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  for (int i = 0; i < 3000; i++) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string Cli(int port, const std::string& args) {
  return Shell("redis-cli -p " + std::to_string(port) + " " + args + " 2>&1");
}

std::string InfoField(int port, const std::string& field, const std::string& section) {
  const std::string info = Cli(port, "INFO " + section);
  std::istringstream lines(info);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

std::string Resp(const std::vector<std::string>& args) {
  std::string r = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) r += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return r;
}

std::string Resp(std::initializer_list<std::string> args) { return Resp(std::vector(args)); }

std::string Replies(int port, const std::vector<std::vector<std::string>>& commands) {
  RawConnection c(port);
  std::string sent;
  for (const auto& cmd : commands) sent += Resp(cmd);
  const std::string end = "$8\r\n__end__!\r\n";
  c.Send(sent + Resp({"ECHO", "__end__!"}));
  std::string got;
  for (int i = 0; i < 1000 && !got.ends_with(end); i++) got += c.Read(1, 100);
  EXPECT_TRUE(got.ends_with(end)) << got;
  return got.substr(0, got.size() - std::min(got.size(), end.size()));
}

RawConnection::RawConnection(int port, int connect_timeout_ms) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int flags = ::fcntl(fd_, F_GETFL);
  if (connect_timeout_ms >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  bool connected = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!connected && errno == EINPROGRESS) {
    pollfd p{fd_, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    connected = ::poll(&p, 1, connect_timeout_ms) == 1 &&
                ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  if (!connected) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  ::fcntl(fd_, F_SETFL, flags);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void RawConnection::Send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t w = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += size_t(w);
  }
}

std::string RawConnection::Read(size_t want, int timeout_ms, bool* closed) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, int(left)) <= 0) break;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    out.append(buf, size_t(n));
  }
  return out;
}

bool ParseBulkArray(const std::string& text, size_t* at, std::vector<std::string>* items) {
  auto line = [&](size_t* pos, std::string* out) {
    const size_t eol = text.find("\r\n", *pos);
    if (eol == std::string::npos) return false;
    out->assign(text, *pos, eol - *pos);
    *pos = eol + 2;
    return true;
  };
  size_t pos = *at;
  std::string header;
  if (!line(&pos, &header) || header.size() < 2 || header[0] != '*') return false;
  items->clear();
  for (long i = 0, n = std::stol(header.substr(1)); i < n; i++) {
    std::string size;
    if (!line(&pos, &size) || size.size() < 2 || size[0] != '$') return false;
    const long len = std::stol(size.substr(1));
    if (len < 0) {
      items->push_back("nil");
      continue;
    }
    if (text.size() < pos + size_t(len) + 2) return false;
    items->push_back(text.substr(pos, size_t(len)));
    pos += size_t(len) + 2;
  }
  *at = pos;
  return true;
}

RedisProcess::RedisProcess(const std::function<std::string(int port)>& command) {
  for (int attempt = 0; attempt < 20 && port_ == 0; attempt++) {
    const int port = FreePort();
    const std::string cmd = command(port);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 50; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (Cli(port, "PING") == "PONG\n") {
        port_ = port;
        break;
      }
    }
    if (port_ == 0) Stop();
  }
}

void RedisProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RealRedis::RealRedis(const std::string& dir, const std::string& extra_args)
    : RedisProcess([&](int port) {
        return "redis-server --port " + std::to_string(port) +
               " --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir " + dir + " " +
               extra_args;
      }) {}

RealSentinel::RealSentinel(const std::string& dir, const std::string& name, int leader_port,
                           int quorum)
    : RedisProcess([&](int port) {
        ::mkdir(dir.c_str(), 0755);
        const std::string conf = dir + "/sentinel.conf";
        WriteFile(conf, "port " + std::to_string(port) + "\nbind 127.0.0.1\ndaemonize no\ndir " +
                            dir + "\nlogfile " + dir + "/sentinel.log\nsentinel monitor " + name +
                            " 127.0.0.1 " + std::to_string(leader_port) + " " +
                            std::to_string(quorum) + "\nsentinel down-after-milliseconds " + name +
                            " 1000\nsentinel failover-timeout " + name +
                            " 4000\nsentinel parallel-syncs " + name + " 1\n");
        return "redis-server " + conf + " --sentinel";
      }) {}

void ExpectRepliesLikeRedis(const TempDir& tmp, int ours,
                            const std::vector<std::string>& commands) {
  ASSERT_FALSE(Shell("command -v redis-server").empty())
      << "redis-server is not installed (Debian: redis-server; scripts/install-deps installs it)";
  RealRedis redis(tmp.path());
  ASSERT_NE(redis.port(), 0) << "could not start redis-server";
  std::string script;
  for (const auto& c : commands) script += c + "\n";
  WriteFile(tmp.Sub("cmds.txt"), script);
  const std::string expected = Cli(redis.port(), "< " + tmp.Sub("cmds.txt"));
  const std::string got = Cli(ours, "< " + tmp.Sub("cmds.txt"));
  ASSERT_GE(std::count(expected.begin(), expected.end(), '\n'), long(commands.size()))
      << "redis-server did not answer every command:\n"
      << expected;
  // Compare line by line, to name the first command that differs.
  std::istringstream e(expected), g(got);
  std::string el, gl;
  for (int line = 1; std::getline(e, el); line++) {
    ASSERT_TRUE(std::getline(g, gl)) << "bitcask-server's output ends early at line " << line;
    ASSERT_EQ(gl, el) << "line " << line << " of the replies differs\n--- redis:\n"
                      << expected << "\n--- bitcask:\n"
                      << got;
  }
}

}  // namespace bitcask::test
