// MIGRATE (Redis's cluster.c): moves keys to another server as RESTORE commands of Redis's
// DUMP payload (server/rdb.h), then deletes them here. This is how `redis-cli --cluster
// reshard` moves a slot's keys, and it works toward a real redis-server as well.
//
// The transfer runs off the event loop (Client::deferred) on a new connection to the target
// (Redis keeps one open per target for 10 s; a loopback connect costs little beside the
// batch of keys redis-cli sends per call). The keys stay locked (KeyLocks) from their read to
// their delete, so no write of them comes between and is lost.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "server/command.h"
#include "server/rdb.h"
#include "server/tcp_connect.h"

namespace bitcask::server {

void MigrateKeys(const Args& args, std::vector<std::string_view>* keys) {
  for (size_t i = 6; i < args.size(); i++) {
    if (IEquals(args[i], "auth")) {
      i += 1;
    } else if (IEquals(args[i], "auth2")) {
      i += 2;
    } else if (IEquals(args[i], "keys")) {
      if (args.size() > 3 && !args[3].empty()) return;  // MIGRATE reports the error
      for (size_t k = i + 1; k < args.size(); k++) keys->push_back(args[k]);
      return;
    }
  }
  if (args.size() > 3) keys->push_back(args[3]);
}

namespace {

// A blocking connection with one deadline per operation, as Redis's syncWrite/syncReadLine.
class TargetConnection {
 public:
  ~TargetConnection() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool Connect(const std::string& host, std::string_view port, int timeout_ms) {
    int64_t p;
    return ParseInt(port, &p) && p > 0 && p <= 65535 &&
           ConnectTcp(host, static_cast<int>(p), timeout_ms, &fd_).ok();
  }

  bool Write(std::string_view bytes, int timeout_ms) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(size_t(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) return false;
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) != 1) return false;
    }
    return true;
  }

  // One reply line, without its \r\n.
  bool ReadLine(std::string* line, int timeout_ms) {
    for (;;) {
      const size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        line->assign(buf_, 0, eol);
        buf_.erase(0, eol + 2);
        return true;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) != 1) return false;
      char chunk[16384];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return false;
      buf_.append(chunk, size_t(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

struct MigrateRequest {
  std::string host, port;
  int64_t db = 0, timeout_ms = 1000;
  bool copy = false, replace = false;
  std::string user, password;  // AUTH password / AUTH2 user password
  bool auth = false;
  std::vector<std::string> keys;
  bool restore_asking = false;  // this node is a cluster node
};

std::string RunMigrate(ServerState* server, const MigrateRequest& m) {
  std::string out;
  ServerState::StoreUse use(server);
  std::vector<std::string_view> names(m.keys.begin(), m.keys.end());
  KeyLocks::Guard lock(&server->key_locks(), names);
  Keyspace& store = server->keyspace();
  // What to send: each key that is still there, with its remaining time to live.
  std::string request;
  if (m.auth) {
    if (m.user.empty()) {
      reply::Command(&request, {"AUTH", m.password});
    } else {
      reply::Command(&request, {"AUTH", m.user, m.password});
    }
  }
  reply::Command(&request, {"SELECT", std::to_string(m.db)});
  std::vector<std::string_view> sent;
  const int64_t now = NowUnixMillis();
  for (std::string_view key : names) {
    std::string value;
    uint64_t expiry = 0;
    const Status s = store.GetWithExpiry(key, &value, &expiry);
    if (s.IsNotFound()) continue;
    if (!s.ok()) {
      StoreError(&out, s, "MIGRATE could not read a key: ");
      return out;
    }
    int64_t ttl = 0;
    if (expiry != 0) {
      ttl = int64_t(expiry) - now;
      if (ttl <= 0) continue;  // expired meanwhile
    }
    const std::string ttl_text = std::to_string(ttl), payload = rdb::DumpPayload(value);
    const std::string_view restore = m.restore_asking ? "RESTORE-ASKING" : "RESTORE";
    if (m.replace) {
      reply::Command(&request, {restore, key, ttl_text, payload, "REPLACE"});
    } else {
      reply::Command(&request, {restore, key, ttl_text, payload});
    }
    sent.push_back(key);
  }
  if (sent.empty()) {
    reply::Simple(&out, "NOKEY");
    return out;
  }
  const int timeout = static_cast<int>(m.timeout_ms);
  TargetConnection target;
  if (!target.Connect(m.host, m.port, timeout)) {
    reply::Error(&out, "IOERR error or timeout connecting to the client");
    return out;
  }
  if (!target.Write(request, timeout)) {
    reply::Error(&out, "IOERR error or timeout writing to target instance");
    return out;
  }
  // The replies: AUTH's, SELECT's, then one per key. The first error is MIGRATE's reply;
  // every key the target took before it is deleted here all the same (unless COPY).
  std::string error;
  const size_t preamble = m.auth ? 2 : 1;
  std::vector<std::string_view> moved;
  bool io_error = false;
  for (size_t i = 0; i < preamble + sent.size(); i++) {
    std::string line;
    if (!target.ReadLine(&line, timeout)) {
      io_error = true;
      break;
    }
    const bool failed = !line.empty() && line[0] == '-';
    if (failed && error.empty()) error = line.substr(1);
    if (i < preamble) {
      if (failed) break;  // AUTH or SELECT refused: nothing was restored
      continue;
    }
    if (!failed) moved.push_back(sent[i - preamble]);
  }
  if (!m.copy) {
    for (std::string_view key : moved) {
      if (Status s = store.Delete(key); !s.ok() && !s.IsNotFound()) {
        StoreError(&out, s, "MIGRATE moved a key but could not delete it here: ");
        return out;
      }
    }
  }
  if (!error.empty()) {
    reply::Error(&out, "ERR Target instance replied with error: " + error);
  } else if (io_error) {
    reply::Error(&out, "IOERR error or timeout reading to target instance");
  } else {
    reply::Simple(&out, "OK");
  }
  return out;
}

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
// [AUTH2 username password] [KEYS key ...]
void Migrate(CommandContext& c) {
  MigrateRequest m;
  size_t keys_at = 0;
  for (size_t i = 6; i < c.args.size() && keys_at == 0; i++) {
    const size_t left = c.args.size() - i - 1;
    if (IEquals(c.args[i], "copy")) {
      m.copy = true;
    } else if (IEquals(c.args[i], "replace")) {
      m.replace = true;
    } else if (IEquals(c.args[i], "auth") && left >= 1) {
      m.auth = true;
      m.password = c.args[++i];
    } else if (IEquals(c.args[i], "auth2") && left >= 2) {
      m.auth = true;
      m.user = c.args[++i];
      m.password = c.args[++i];
    } else if (IEquals(c.args[i], "keys")) {
      if (!c.args[3].empty()) {
        return Err(c,
                   "ERR When using MIGRATE KEYS option, the key argument must be set to the empty "
                   "string");
      }
      keys_at = i + 1;
    } else {
      return SyntaxError(c);
    }
  }
  if (!ParseInt(c.args[5], &m.timeout_ms) || !ParseInt(c.args[4], &m.db)) return NotInteger(c);
  if (m.timeout_ms <= 0) m.timeout_ms = 1000;
  if (keys_at == 0) {
    m.keys.emplace_back(c.args[3]);
  } else {
    for (size_t i = keys_at; i < c.args.size(); i++) m.keys.emplace_back(c.args[i]);
  }
  m.host = c.args[1];
  m.port = c.args[2];
  m.restore_asking = c.server.cluster().enabled();
  c.client.deferred = [server = &c.server, m = std::move(m)] { return RunMigrate(server, m); };
}

}  // namespace

std::span<const CommandSpec> MigrateCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      // Not inside MULTI: it waits on another server, off the event loop.
      {"migrate", -6, kCmdWrite | kCmdMovableKeys | kCmdNoMulti, 3, 3, 1, Migrate},
  };
  return kRows;
}

}  // namespace bitcask::server
