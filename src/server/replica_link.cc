#include "server/replica_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "server/dispatch.h"
#include "server/rdb.h"
#include "server/replication.h"
#include "server/resp.h"
#include "server/state.h"
#include "server/tcp_connect.h"

namespace bitcask::server {

namespace {

int64_t NowMs() { return NowUnixMillis(); }

std::string Command(std::initializer_list<std::string_view> args) {
  std::string out;
  reply::Command(&out, args);
  return out;
}

}  // namespace

// A blocking TCP connection with a read buffer and deadlines.
class ReplicaLink::Connection {
 public:
  Connection(ReplicaLink* link) : link_(link) {}
  ~Connection() {
    if (fd_ >= 0) {
      link_->socket_ = -1;
      ::close(fd_);
    }
  }

  Status Connect(const std::string& host, int port, int timeout_ms) {
    int fd;
    if (Status s = ConnectTcp(host, port, timeout_ms, &fd); !s.ok()) return s;
    fd_ = fd;
    link_->socket_ = fd;
    return Status::OK();
  }

  Status Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 1000) < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
        if (link_->stop_) return Status::Closed("stopped");
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::FromErrno("send to the leader", errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  // Reads what is there into buf_ (waiting up to timeout_ms for something); OK with nothing
  // new if the time ran out.
  Status Fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (link_->stop_) return Status::Closed("stopped");
    if (r == 0 || (r < 0 && errno == EINTR)) return Status::OK();
    if (r < 0) return Status::FromErrno("poll", errno);
    char chunk[256 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) return Status::IOError("the leader closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return Status::OK();
      return Status::FromErrno("read from the leader", errno);
    }
    buf_.append(chunk, static_cast<size_t>(n));
    last_io_ms_ = NowMs();
    return Status::OK();
  }

  // A line ending in \r\n (without it); empty lines (the leader's keepalive \n) skipped.
  Status ReadLine(std::string* line, int timeout_ms) {
    const int64_t deadline = NowMs() + timeout_ms;
    for (;;) {
      while (!buf_.empty() && buf_[0] == '\n') buf_.erase(0, 1);
      const size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        line->assign(buf_, 0, eol);
        buf_.erase(0, eol + 2);
        return Status::OK();
      }
      const int64_t left = deadline - NowMs();
      if (left <= 0) return Status::IOError("timeout waiting for the leader's reply");
      if (Status s = Fill(static_cast<int>(left)); !s.ok()) return s;
    }
  }

  std::string& buffer() { return buf_; }
  int64_t last_io_ms() const { return last_io_ms_; }

 private:
  ReplicaLink* link_;
  int fd_ = -1;
  std::string buf_;
  int64_t last_io_ms_ = 0;
};

ReplicaLink::ReplicaLink(ServerState* server, Replication* replication, std::string host, int port)
    : server_(server), replication_(replication), host_(std::move(host)), port_(port) {
  info_.host = host_;
  info_.port = port_;
}

ReplicaLink::~ReplicaLink() { Stop(); }

void ReplicaLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ReplicaLink::RequestStop() {
  stop_ = true;
  if (const int fd = socket_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void ReplicaLink::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

ReplicaLink::Info ReplicaLink::info() const {
  std::lock_guard l(mu_);
  return info_;
}

void ReplicaLink::SetState(const std::string& state) {
  std::lock_guard l(mu_);
  const bool was_up = info_.up;
  info_.state = state;
  info_.up = state == "connected";
  replication_->set_link_up(info_.up);
  if (was_up && !info_.up) info_.down_since_ms = NowMs();
  if (state != "sync") info_.sync_in_progress = false;
}

void ReplicaLink::NoteError(const Status& s) {
  {
    std::lock_guard l(mu_);
    if (info_.last_error == s.ToString()) return;  // logged once per kind of trouble
    info_.last_error = s.ToString();
  }
  server_->log().Log(Logger::kWarning, "replication link to the leader failed",
                     {{"leader", host_ + ":" + std::to_string(port_)}, {"error", s.ToString()}});
}

void ReplicaLink::Run() {
  while (!stop_) {
    const Status s = Session();
    SetState("connect");
    if (stop_) break;
    NoteError(s);
    // Reconnect within a second.
    for (int i = 0; i < 10 && !stop_; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status ReplicaLink::Session() {
  const ServerConfig cfg = server_->config();
  Connection c(this);
  SetState("connecting");
  if (Status s = c.Connect(host_, port_, static_cast<int>(cfg.repl_timeout * 1000)); !s.ok()) {
    return s;
  }
  SetState("handshake");
  if (Status s = Handshake(c); !s.ok()) return s;

  std::string resume_replid;
  uint64_t resume_offset = 0;
  const bool can_resume = replication_->ResumePosition(&resume_replid, &resume_offset);
  if (can_resume) {
    if (Status s = c.Send(Command({"PSYNC", resume_replid, std::to_string(resume_offset + 1)}));
        !s.ok()) {
      return s;
    }
  } else if (Status s = c.Send(Command({"PSYNC", "?", "-1"})); !s.ok()) {
    return s;
  }
  std::string line;
  if (Status s = c.ReadLine(&line, static_cast<int>(cfg.repl_timeout * 1000)); !s.ok()) return s;
  if (line.starts_with("+FULLRESYNC ")) {
    std::istringstream words(line.substr(12));
    std::string replid;
    uint64_t offset = 0;
    if (!(words >> replid >> offset) || replid.size() != 40) {
      return Status::Corruption("the leader's reply to PSYNC is malformed: " + line);
    }
    if (Status s = LoadFullSync(c, replid, offset); !s.ok()) return s;
  } else if (line.starts_with("+CONTINUE")) {
    replication_->ContinueStream(line.size() > 10 ? line.substr(10) : "");
    server_->log().Log(Logger::kNotice, "continuing the leader's stream (partial resync)",
                       {{"leader", host_ + ":" + std::to_string(port_)},
                        {"offset", std::to_string(resume_offset)}});
  } else {
    return Status::IOError("the leader refused PSYNC: " + line);
  }
  return Stream(c);
}

Status ReplicaLink::Handshake(Connection& c) {
  const ServerConfig cfg = server_->config();
  const int timeout = static_cast<int>(cfg.repl_timeout * 1000);
  std::string line;
  if (Status s = c.Send(Command({"PING"})); !s.ok()) return s;
  if (Status s = c.ReadLine(&line, timeout); !s.ok()) return s;
  if (!line.starts_with("+") && !line.starts_with("-NOAUTH") && !line.starts_with("-NOPERM") &&
      !line.starts_with("-ERR operation not permitted")) {
    return Status::IOError("the leader answered PING with: " + line);
  }
  // The rest goes out at once; the replies come in order.
  std::string burst;
  int expected = 0;
  const bool auth = !cfg.masterauth.empty();
  if (auth) {
    burst += cfg.masteruser.empty() ? Command({"AUTH", cfg.masterauth})
                                    : Command({"AUTH", cfg.masteruser, cfg.masterauth});
    expected++;
  }
  const int64_t port =
      cfg.replica_announce_port != 0 ? cfg.replica_announce_port : server_->bound_port;
  burst += Command({"REPLCONF", "listening-port", std::to_string(port)});
  expected++;
  if (!cfg.replica_announce_ip.empty()) {
    burst += Command({"REPLCONF", "ip-address", cfg.replica_announce_ip});
    expected++;
  }
  burst += Command({"REPLCONF", "capa", "eof", "capa", "psync2"});
  expected++;
  if (Status s = c.Send(burst); !s.ok()) return s;
  for (int i = 0; i < expected; i++) {
    if (Status s = c.ReadLine(&line, timeout); !s.ok()) return s;
    if (auth && i == 0 && line.starts_with("-")) {
      return Status::IOError("the leader refused AUTH (masterauth): " + line);
    }
    // An error to a REPLCONF is harmless: an older leader does not know the option.
  }
  return Status::OK();
}

namespace {

// Loads an RDB into a new store.
class StoreFiller : public rdb::Loader::Handler {
 public:
  StoreFiller(DB* db, Logger* log) : db_(db), log_(log) {}
  Status OnAux(std::string_view, std::string_view) override { return Status::OK(); }
  Status OnKey(std::string_view key, std::string_view value, uint64_t expire_at_ms) override {
    batch_.Put(key, value, expire_at_ms);
    return batch_.Count() >= 1000 ? Flush() : Status::OK();
  }
  void OnSkipped(std::string_view what) override {
    log_->Log(Logger::kWarning, "full sync: passed over", {{"what", std::string(what)}});
  }
  Status Flush() {
    if (batch_.Empty()) return Status::OK();
    Status s = db_->Write(batch_);
    batch_.Clear();
    return s;
  }

 private:
  DB* db_;
  Logger* log_;
  WriteBatch batch_;
};

}  // namespace

Status ReplicaLink::LoadFullSync(Connection& c, const std::string& replid, uint64_t offset) {
  const ServerConfig cfg = server_->config();
  const int timeout = static_cast<int>(cfg.repl_timeout * 1000);
  SetState("sync");
  std::string header;
  if (Status s = c.ReadLine(&header, timeout); !s.ok()) return s;
  std::string mark;
  int64_t length = -1;
  if (header.starts_with("$EOF:") && header.size() == 5 + 40) {
    mark = header.substr(5);
  } else if (header.starts_with("$")) {
    length = std::strtoll(header.c_str() + 1, nullptr, 10);
    if (length <= 0) return Status::Corruption("the leader sent a bad RDB length: " + header);
  } else {
    return Status::Corruption("the leader sent '" + header + "' where an RDB belongs");
  }
  {
    std::lock_guard l(mu_);
    info_.sync_in_progress = true;
    info_.sync_total_bytes = mark.empty() ? length : 0;
    info_.sync_read_bytes = 0;
  }
  server_->log().Log(Logger::kNotice, "full sync from the leader",
                     {{"leader", host_ + ":" + std::to_string(port_)},
                      {"replid", replid},
                      {"offset", std::to_string(offset)}});
  // Into a new store beside the one being served: an interrupted sync leaves that one alone.
  const std::string incoming = ServerState::IncomingStoreDir(cfg.dir);
  std::error_code ec;
  std::filesystem::remove_all(incoming, ec);
  Options options = EngineOptions(cfg);
  options.commit_listener = nullptr;
  options.auto_merge = false;
  options.sync_mode = SyncMode::kNone;  // flushed once, at the end
  std::unique_ptr<DB> db;
  if (Status s = DB::Open(options, incoming, &db); !s.ok()) return s;
  StoreFiller filler(db.get(), &server_->log());
  rdb::Loader loader(&filler);
  const auto fail = [&](Status s) {
    db.reset();
    std::filesystem::remove_all(incoming, ec);
    return s;
  };
  int64_t taken = 0;
  std::string& buf = c.buffer();
  while (!loader.done()) {
    if (buf.empty()) {
      if (Status s = c.Fill(timeout); !s.ok()) return fail(s);
      if (buf.empty())
        return fail(Status::IOError("timeout reading the full sync from the leader"));
    }
    std::string_view piece(buf);
    if (length >= 0) piece = piece.substr(0, static_cast<size_t>(length - taken));
    size_t used = 0;
    if (Status s = loader.Feed(piece, &used); !s.ok()) return fail(s);
    if (used == 0 && !loader.done())
      return fail(Status::Corruption("the RDB stopped making sense"));
    if (Status s = filler.Flush(); !s.ok()) return fail(s);
    buf.erase(0, used);
    taken += static_cast<int64_t>(used);
    {
      std::lock_guard l(mu_);
      info_.sync_read_bytes = taken;
      info_.last_io_ms = c.last_io_ms();
    }
    if (length >= 0 && taken == length && !loader.done()) {
      return fail(Status::Corruption("the RDB ended after its " + std::to_string(length) +
                                     " bytes without its end"));
    }
  }
  if (!mark.empty()) {
    while (buf.size() < mark.size()) {
      if (Status s = c.Fill(timeout); !s.ok()) return fail(s);
    }
    if (buf.compare(0, mark.size(), mark) != 0) {
      return fail(Status::Corruption("the full sync's end mark does not match"));
    }
    buf.erase(0, mark.size());
  } else if (taken != length) {
    return fail(Status::Corruption("the RDB ended before its announced length"));
  }
  if (Status s = db->Sync(); !s.ok()) return fail(s);
  if (Status s = db->Close(); !s.ok()) return fail(s);
  db.reset();
  // Complete: it replaces the store (under the server's store lock, between commands).
  if (Status s = server_->SwapInStore(incoming, [this] { return !stop_.load(); }); !s.ok()) {
    return fail(s);
  }
  replication_->ResetStream(replid, offset);
  server_->log().Log(
      Logger::kNotice, "full sync done",
      {{"keys", std::to_string(loader.keys())}, {"rdb_bytes", std::to_string(taken)}});
  // The leader sends the stream after an $EOF: sync once it hears from us.
  return c.Send(Command({"REPLCONF", "ACK", std::to_string(offset)}));
}

Status ReplicaLink::Stream(Connection& c) {
  SetState("connected");
  server_->log().Log(Logger::kNotice, "replica link up",
                     {{"leader", host_ + ":" + std::to_string(port_)}});
  {
    std::lock_guard l(mu_);
    info_.last_error.clear();
  }
  ReplicationLog& log = replication_->log();
  uint64_t applied = log.offset();
  uint64_t read = applied;
  Client master;
  master.id = server_->next_client_id++;
  master.authenticated = true;
  master.is_master = true;
  master.address = host_ + ":" + std::to_string(port_);
  RespParser parser;
  std::vector<std::string_view> args;
  std::vector<std::string> storage;
  std::string out, error;
  bool wrong_db = false;  // the leader selected a database other than 0
  int64_t last_ack = 0;
  std::string& buf = c.buffer();
  for (;;) {
    const ServerConfig cfg = server_->config();
    const int64_t now = NowMs();
    if (now - last_ack >= 1000) {
      if (Status s = c.Send(Command({"REPLCONF", "ACK", std::to_string(applied)})); !s.ok()) {
        return s;
      }
      last_ack = now;
    }
    if (c.last_io_ms() != 0 && now - c.last_io_ms() > cfg.repl_timeout * 1000) {
      return Status::IOError("no data from the leader for " + std::to_string(cfg.repl_timeout) +
                             " s");
    }
    if (buf.empty()) {
      if (Status s = c.Fill(100); !s.ok()) return s;
      std::lock_guard l(mu_);
      info_.last_io_ms = c.last_io_ms();
    }
    size_t at = 0;
    std::string getack_reply;
    {
      ServerState::StoreUse use(server_);
      std::lock_guard apply(replication_->apply_mu());
      while (at < buf.size()) {
        size_t used = 0;
        const auto r =
            parser.Parse(std::string_view(buf).substr(at), &args, &used, &error, &storage);
        if (r == RespParser::Result::kNeedMore) break;
        if (r == RespParser::Result::kError) {
          return Status::Corruption("the leader's stream is not RESP at offset " +
                                    std::to_string(read) + ": " + error);
        }
        const std::string_view bytes = std::string_view(buf).substr(at, used);
        at += used;
        read += used;
        if (args.empty()) continue;  // a bare newline: not part of the stream
        if (args.size() >= 2 && IEquals(args[0], "replconf") && IEquals(args[1], "getack")) {
          // Answered with what was applied before it, as Redis does.
          getack_reply = Command({"REPLCONF", "ACK", std::to_string(applied)});
        } else if (IEquals(args[0], "select") && args.size() == 2) {
          wrong_db = args[1] != "0";
          if (wrong_db) {
            server_->log().Log(Logger::kWarning,
                               "the leader writes to a database other than 0: its writes there "
                               "are passed over (bitcask-server has one database)",
                               {{"database", std::string(args[1])}});
          }
        } else if (!wrong_db || IEquals(args[0], "ping") || IEquals(args[0], "publish")) {
          out.clear();
          Dispatch(*server_, master, args, &out);
          if (!out.empty() && out[0] == '-') {
            server_->log().Log(
                Logger::kWarning, "a command from the leader failed here",
                {{"command", std::string(args[0])}, {"error", out.substr(1, out.size() - 3)}});
          }
        }
        log.Append(bytes);  // the same bytes, the same offsets, for our own replicas
        if (!master.tx.active) applied = read;  // a transaction counts once EXEC ran
      }
      // appendfsync always: what was applied is flushed before it is acknowledged.
      if (at > 0 && SyncBeforeReply(cfg)) {
        if (Status s = server_->db().Sync(); !s.ok()) return s;
      }
    }
    buf.erase(0, at);
    {
      std::lock_guard l(mu_);
      info_.read_offset = read;
      info_.applied_offset = applied;
    }
    if (!getack_reply.empty()) {
      if (Status s = c.Send(getack_reply); !s.ok()) return s;
    }
    if (stop_) return Status::Closed("stopped");
  }
}

}  // namespace bitcask::server
