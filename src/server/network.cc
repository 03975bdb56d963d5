#include "server/network.h"

#include <algorithm>
#include <asio.hpp>  // standalone Asio (ASIO_STANDALONE is set by the build)
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "server/auth.h"
#include "server/dispatch.h"
#include "server/replication.h"
#include "server/resp.h"

namespace bitcask::server {

namespace {

using asio::ip::tcp;

constexpr size_t kReadChunk = 64 * 1024;
// A connection's output buffer past this size is written before more input is processed,
// so a client pipelining without reading cannot make the server buffer without end.
constexpr size_t kOutputFlushBytes = 4u << 20;
// Most GETs of one pipeline run by one MultiGet.
constexpr size_t kMaxGetBatch = 64;
// Keys of the commands waiting in a pipeline that are prefetched at once (DB::Prefetch).
constexpr size_t kPrefetchAhead = 16;

// A connection's input: bytes received and not yet consumed. Unlike std::string it does not
// zero the space a read is about to fill (64 KiB per read adds up under pipelining).
class InputBuffer {
 public:
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }

  // Room for n more bytes at the end; Commit says how many a read filled.
  char* Prepare(size_t n) {
    if (size_ + n > capacity_) {
      const size_t capacity = std::max(size_ + n, capacity_ * 2);
      auto grown = std::make_unique_for_overwrite<char[]>(capacity);
      if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    return data_.get() + size_;
  }
  void Commit(size_t n) { size_ += n; }

  // Drops the first n bytes.
  void Consume(size_t n) {
    if (n >= size_) return Clear();
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }
  // Empties the buffer; a buffer a large value made big is given back.
  void Clear() {
    size_ = 0;
    if (capacity_ > kKeepCapacity) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  static constexpr size_t kKeepCapacity = 1u << 20;
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Threads for deferred commands (Client::deferred), so that no event loop waits on one. A
// job keeps its connection's loop running until its reply is posted there; the server joins
// the threads after its loops have ended.
class JobThreads {
 public:
  ~JobThreads() { JoinAll(); }

  void Run(std::function<void()> job) {
    std::lock_guard l(mu_);
    std::erase_if(jobs_, [](Job& j) {
      if (!j.done->load()) return false;
      j.thread.join();
      return true;
    });
    auto done = std::make_shared<std::atomic<bool>>(false);
    jobs_.push_back({std::thread([job = std::move(job), done] {
                       job();
                       done->store(true);
                     }),
                     done});
  }

  void JoinAll() {
    std::vector<Job> jobs;
    {
      std::lock_guard l(mu_);
      jobs.swap(jobs_);
    }
    for (Job& j : jobs) j.thread.join();
  }

 private:
  struct Job {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::vector<Job> jobs_;
};

class Connection;

// An event loop, and with appendfsync always the connections whose replies wait for the
// flush that ends its round (FlushRound).
struct Loop {
  explicit Loop(bool sync_replies) : sync_replies(sync_replies) {}
  asio::io_context io{1};
  const bool sync_replies;
  std::vector<std::shared_ptr<Connection>> held, releasing;
};

class Connection : public ClientHandle, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Loop* loop, ServerState* state, Logger* log, JobThreads* jobs)
      : socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        loop_(loop),
        state_(state),
        log_(log),
        jobs_(jobs) {
    state_->connected_clients++;
  }
  ~Connection() override {
    state_->connected_clients--;
    if (log_->Enabled(Logger::kVerbose)) {
      log_->Log(Logger::kVerbose, "client closed", {{"client", client_.address}});
    }
  }

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  void Start() {
    client_.id = state_->next_client_id++;
    client_.created_ms = NowUnixMillis();
    client_id_ = client_.id;
    client_.handle = weak_from_this();
    asio::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    client_.address = ec ? "?" : peer.address().to_string() + ":" + std::to_string(peer.port());
    const auto local = socket_.local_endpoint(ec);
    client_.local_address =
        ec ? "?" : local.address().to_string() + ":" + std::to_string(local.port());
    socket_.set_option(tcp::no_delay(true), ec);
    if (log_->Enabled(Logger::kVerbose)) {
      log_->Log(Logger::kVerbose, "client connected",
                {{"client", client_.address}, {"id", std::to_string(client_.id)}});
    }
    config_version_ = state_->config_version();
    config_ = state_->config();
    client_.authenticated = !AuthRequired(config_);
    parser_ = RespParser(Limits());
    {
      std::lock_guard l(info_mu_);
      info_.id = client_.id;
      info_.addr = client_.address;
      info_.laddr = client_.local_address;
      info_.cmd = "NULL";
      info_.flags = "N";
    }
    state_->clients().Add(shared_from_this());
    Read();
  }

  // ---- ClientHandle: called from any thread -------------------------------------------
  uint64_t id() const override { return client_id_.load(); }
  ClientInfo Info() const override {
    std::lock_guard l(info_mu_);
    ClientInfo info = info_;
    const int64_t now = NowUnixMillis();
    info.age_s = (now - created_ms_) / 1000;
    info.idle_s = (now - last_active_ms_.load()) / 1000;
    return info;
  }
  void Push(std::string bytes) override {
    asio::post(executor(), [self = shared_from_this(), bytes = std::move(bytes)] {
      if (self->closed_ || self->replica_ != nullptr) return;
      self->out_ += bytes;
      self->Write();
    });
  }
  void Wake() override {
    if (wake_pending_.exchange(true)) return;
    asio::post(executor(), [self = shared_from_this()] {
      self->wake_pending_ = false;
      self->PumpReplica();
    });
  }
  void Kill() override {
    asio::post(executor(), [self = shared_from_this()] {
      self->client_.close_after_reply = true;
      if (!self->writing_) self->Close();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    idle_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    state_->clients().Remove(client_.id);
    for (const std::string& ch : client_.channels) state_->pubsub().Unsubscribe(ch, client_.id);
    for (const std::string& p : client_.patterns) state_->pubsub().PUnsubscribe(p, client_.id);
    if (replica_ != nullptr) {
      if (replica_->sync) replica_->sync->Cancel();
      if (replica_->reader >= 0) state_->replication().log().RemoveReader(replica_->reader);
      state_->replication().RemoveReplica(client_.id);
      log_->Log(Logger::kNotice, "replica gone", {{"replica", client_.address}});
    }
  }

 private:
  // A connection that streams to a replica (after PSYNC or SYNC).
  struct ReplicaStream {
    std::shared_ptr<FullSync> sync;  // while the full sync's pieces are sent
    bool wait_ack = false;           // after an $EOF: sync, until the replica's first ACK
    int64_t reader = -1;             // the stream, once the sync is sent
  };

  RespLimits Limits() const {
    RespLimits l;
    l.max_bulk_bytes = static_cast<size_t>(config_.proto_max_bulk_len);
    return l;
  }

  void ArmIdleTimer() {
    if (config_.timeout == 0 || replica_ != nullptr || client_.subscribed()) return;
    idle_.expires_after(std::chrono::seconds(config_.timeout));
    idle_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->Close();  // idle too long
    });
  }

  void Read() {
    if (reading_ || closed_) return;
    ArmIdleTimer();
    reading_ = true;
    // Read at least what an announced bulk string still needs, in large steps.
    const size_t have = in_.size() - start_;
    const size_t want =
        std::max(kReadChunk, std::min<size_t>(need_ > have ? need_ - have : 0, 16u << 20));
    socket_.async_read_some(asio::buffer(in_.Prepare(want), want),
                            [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                              self->reading_ = false;
                              self->in_.Commit(n);
                              if (ec) {
                                self->Close();  // the client went away, or Stop() closed us
                                return;
                              }
                              self->Process();
                            });
  }

  // Whether the input holds a complete command not yet run.
  bool InputReady() const { return start_ < in_.size() && need_ <= in_.size() - start_; }

  // Goes on with the input once nothing holds it: runs what is there, or reads more.
  void Resume() {
    if (closed_ || waiting_ || reading_) return;
    if (client_.close_after_reply) {
      if (!writing_ && out_.empty()) Close();
      return;
    }
    // A client that pipelines without reading its replies waits for them to go out (the
    // write resumes it). A replica's input is its ACKs: always read.
    if (replica_ == nullptr && out_.size() + sending_.size() > kOutputFlushBytes) return;
    if (InputReady()) return Process();
    Read();
  }

  void Process() {
    if (closed_ || waiting_) return;
    if (const uint64_t v = state_->config_version(); v != config_version_) {
      config_version_ = v;  // CONFIG SET applies to connected clients too
      config_ = state_->config();
    }
    last_active_ms_ = NowUnixMillis();
    std::string error;
    {
      ServerState::StoreUse use(state_);  // the store is not replaced under these commands
      // Consecutive GETs of a pipeline wait here (views into in_) and run as one MultiGet.
      auto run_gets = [this] {
        if (gets_.empty()) return;
        DispatchGets(*state_, gets_, &out_);
        gets_.clear();
      };
      while (start_ < in_.size()) {
        if (start_ >= prefetched_to_) PrefetchAhead();
        size_t used = 0;
        const std::string_view pending(in_.data() + start_, in_.size() - start_);
        const auto r = parser_.Parse(pending, &args_, &used, &error, &storage_);
        if (r == RespParser::Result::kNeedMore) {
          need_ = used;
          break;
        }
        if (r == RespParser::Result::kError) {
          run_gets();
          state_->protocol_errors++;
          reply::Error(&out_, error);
          log_->Log(Logger::kVerbose, "protocol error, closing client",
                    {{"client", client_.address}, {"error", error}});
          client_.close_after_reply = true;
          break;
        }
        start_ += used;
        need_ = 0;
        if (args_.empty()) continue;
        if (pending[0] == '*' &&
            IsPlainGet(*state_, client_, args_)) {  // not inline: no views into storage_
          gets_.push_back(args_[1]);
          if (gets_.size() == kMaxGetBatch) run_gets();
        } else {
          run_gets();
          Dispatch(*state_, client_, args_, &out_);
          last_command_ = args_[0];
          if (replica_ != nullptr && replica_->wait_ack && IEquals(args_[0], "replconf")) {
            acked_ = true;  // (an ACK: the stream after an $EOF: sync may start)
          }
          // The commands after these wait for their reply (or, after PSYNC, for good).
          if (client_.deferred || client_.blocked || client_.replica_start) break;
        }
        if (client_.close_after_reply || out_.size() > kOutputFlushBytes) break;
      }
      run_gets();
    }
    // Drop consumed input; keep what a partial command has so far.
    if (start_ == in_.size()) {
      in_.Clear();
      start_ = 0;
      prefetched_to_ = 0;
    } else if (start_ > 0 && (start_ > kReadChunk || out_.empty())) {
      in_.Consume(start_);
      start_ = 0;
      prefetched_to_ = 0;
    }
    if (in_.size() - start_ > static_cast<uint64_t>(config_.client_query_buffer_limit)) {
      log_->Log(Logger::kWarning, "closing client that reached max query buffer length",
                {{"client", client_.address}, {"bytes", std::to_string(in_.size() - start_)}});
      reply::Error(&out_, "ERR max query buffer length reached");
      client_.close_after_reply = true;
    }
    UpdateInfo();
    if (client_.replica_start) return StartReplica();
    if (std::exchange(acked_, false)) ReplicaAcked();
    Write();
    if (client_.deferred) return RunDeferred();
    if (client_.blocked) return Block();
    Resume();
  }

  // What CLIENT LIST shows, refreshed once per batch of commands.
  void UpdateInfo() {
    std::lock_guard l(info_mu_);
    info_.name = client_.name;
    info_.sub = static_cast<int64_t>(client_.channels.size());
    info_.psub = static_cast<int64_t>(client_.patterns.size());
    info_.multi = client_.tx.active ? static_cast<int64_t>(client_.tx.queued.size()) : -1;
    if (!last_command_.empty()) info_.cmd = Lower(last_command_);
    std::string flags;
    if (replica_ != nullptr) flags += 'S';
    if (client_.subscribed()) flags += 'P';
    if (client_.tx.active) flags += 'x';
    if (waiting_) flags += 'b';
    info_.flags = flags.empty() ? "N" : flags;
    info_.type = replica_ != nullptr ? "replica" : client_.subscribed() ? "pubsub" : "normal";
  }

  // Runs the command Dispatch deferred on a thread of jobs_, then sends its reply (after the
  // replies before it) and goes on with the input. Until then this connection runs none of
  // its later commands; other connections go on.
  void RunDeferred() {
    idle_.cancel();
    waiting_ = true;
    state_->blocked_clients++;
    // Keeps the loop from ending (at Stop) before the reply is posted to it.
    auto work = std::make_shared<asio::any_io_executor>(
        asio::prefer(socket_.get_executor(), asio::execution::outstanding_work.tracked));
    jobs_->Run([self = shared_from_this(), job = std::move(client_.deferred), work]() mutable {
      std::string reply = job();
      const auto executor = self->executor();
      asio::post(executor,
                 [self = std::move(self), reply = std::move(reply)] { self->Unblock(reply); });
      work.reset();
    });
    client_.deferred = nullptr;
  }

  // A command that waits for something (WAIT): its reply comes when that happens.
  void Block() {
    idle_.cancel();
    waiting_ = true;
    state_->blocked_clients++;
    auto start = std::move(client_.blocked);
    client_.blocked = nullptr;
    start([self = shared_from_this()](std::string reply) {
      const auto executor = self->executor();
      asio::post(executor,
                 [self = std::move(self), reply = std::move(reply)] { self->Unblock(reply); });
    });
  }

  void Unblock(const std::string& reply) {
    state_->blocked_clients--;
    waiting_ = false;
    if (closed_) return;
    out_ += reply;
    client_.woff = state_->replication().log().offset();
    Write();
    Resume();
  }

  // With a pipeline in the input, starts loading what its next commands will touch in the
  // store: the keys of up to kPrefetchAhead commands at once, so that their cache misses
  // overlap (as MultiGet's do) instead of being paid command by command. Commands are parsed
  // twice for it, which costs far less than a cache miss. A lone command is left alone.
  void PrefetchAhead() {
    size_t at = start_;
    keys_ahead_.clear();
    while (keys_ahead_.size() < kPrefetchAhead && at < in_.size() && in_.data()[at] == '*') {
      size_t used = 0;
      const std::string_view pending(in_.data() + at, in_.size() - at);
      if (parser_.Parse(pending, &args_ahead_, &used, &error_ahead_, &storage_ahead_) !=
          RespParser::Result::kCommand) {
        break;
      }
      at += used;
      if (args_ahead_.size() >= 2) keys_ahead_.push_back(args_ahead_[1]);
    }
    prefetched_to_ = at;
    if (keys_ahead_.size() >= 2) state_->db().Prefetch(keys_ahead_);
  }

  // Sends what out_ holds once it may go: at once, or with appendfsync always once the flush
  // that ends this loop's round has covered every write these replies could reflect (the
  // connection's own and any other it read). A replica's stream is not held.
  void Write() {
    if (writing_ || closed_ || out_.empty()) return;
    if (!loop_->sync_replies || replica_ != nullptr) return Send();
    if (!held_) {
      held_ = true;
      loop_->held.push_back(shared_from_this());
    }
  }

 public:
  // FlushRound's flush is done: what out_ holds goes out (flushed), or, if the flush failed,
  // never (the connection closes: no reply may claim a write the disk may not have).
  void Release(bool flushed) {
    held_ = false;
    if (!flushed) return Close();
    Send();
  }

 private:
  // Writes what out_ holds (if no write is under way); when it is written, writes what came
  // meanwhile, then goes on with the input.
  void Send() {
    if (writing_ || closed_ || out_.empty()) return;
    idle_.cancel();
    writing_ = true;
    sending_.swap(out_);
    asio::async_write(socket_, asio::buffer(sending_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        self->writing_ = false;
                        self->sending_.clear();
                        if (ec) return self->Close();
                        if (self->client_.close_after_reply && self->out_.empty()) {
                          return self->Close();
                        }
                        if (self->replica_ != nullptr) {
                          self->PumpReplica();
                          return self->Resume();  // its ACKs
                        }
                        if (!self->out_.empty()) return self->Write();
                        self->Resume();
                      });
  }

  // ---- Streaming to a replica ---------------------------------------------------------

  void StartReplica() {
    Client::ReplicaStart start = std::move(*client_.replica_start);
    client_.replica_start.reset();
    idle_.cancel();
    replica_ = std::make_unique<ReplicaStream>();
    Replication& repl = state_->replication();
    Replication::ReplicaInfo info;
    info.client_id = client_.id;
    const std::string addr = client_.address.substr(0, client_.address.rfind(':'));
    info.ip = client_.announced_ip.empty() ? addr : client_.announced_ip;
    info.port = client_.listening_port;
    info.handle = weak_from_this();
    if (start.full) {
      const bool eof = client_.capa_eof && config_.repl_diskless_sync;
      replica_->sync = repl.StartFullSync(eof, start.announce);
      replica_->wait_ack = eof;
      info.state = "wait_bgsave";
      repl.SetReplica(info);  // listed; its stream starts after the sync
      replica_->sync->SetWake([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->Wake();
      });
      log_->Log(Logger::kNotice, "full sync to a replica",
                {{"replica", client_.address}, {"format", eof ? "$EOF" : "$length"}});
    } else {
      info.state = "online";
      replica_->reader = repl.log().AddReader(start.from);
      if (replica_->reader < 0) return Close();  // the backlog moved on since PSYNC looked
      repl.SetReplica(info);
      out_ += start.continue_line;
      state_->PropagateClusterMap();
      log_->Log(Logger::kNotice, "replica continues (partial resync)",
                {{"replica", client_.address}, {"from", std::to_string(start.from)}});
    }
    UpdateInfo();
    PumpReplica();
    // The replica's ACKs (and newlines) keep coming in.
    Resume();
  }

  // Sends the replica what is next: pieces of the full sync, then the stream.
  void PumpReplica() {
    if (closed_ || writing_ || replica_ == nullptr) return;
    Replication& repl = state_->replication();
    if (replica_->sync) {
      std::string piece;
      bool done = false;
      while (out_.size() < (1u << 20) && replica_->sync->Next(&piece, &done)) out_ += piece;
      if (done) {
        const Status s = replica_->sync->status();
        if (!s.ok()) {
          log_->Log(Logger::kWarning, "full sync to a replica failed",
                    {{"replica", client_.address}, {"error", s.ToString()}});
          return Close();
        }
        // The stream goes on from the copy's offset, with what the log kept meanwhile.
        replica_->reader = replica_->sync->reader();
        replica_->sync.reset();
        if (client_.rdb_only) {  // redis-cli --rdb: the RDB was all it asked for
          client_.close_after_reply = true;
          return out_.empty() ? Close() : Write();
        }
        repl.SetReplicaState(client_.id, replica_->wait_ack ? "send_bulk" : "online");
        state_->PropagateClusterMap();  // the map as of now, in case it missed changes
      }
      if (!out_.empty()) return Write();
      if (replica_->sync) return;  // the maker wakes us
    }
    if (replica_->wait_ack) return;  // an $EOF: sync's stream starts once the replica ACKs
    if (!repl.log().Read(replica_->reader, kReadChunk * 4, &out_)) {
      log_->Log(Logger::kWarning, "replica fell too far behind the stream; dropping it",
                {{"replica", client_.address}});
      return Close();
    }
    Write();
  }

 public:
  // The replica's first ACK after an $EOF: sync: its stream may start.
  void ReplicaAcked() {
    if (replica_ != nullptr && replica_->wait_ack && !replica_->sync) {
      replica_->wait_ack = false;
      state_->replication().SetReplicaState(client_.id, "online");
      PumpReplica();
    }
  }

 private:
  tcp::socket socket_;
  asio::steady_timer idle_;
  Loop* loop_;
  ServerState* state_;
  Logger* log_;
  JobThreads* jobs_;
  ServerConfig config_;
  Client client_;
  RespParser parser_;
  uint64_t config_version_ = 0;
  std::vector<std::string_view> args_;  // the command being run
  std::vector<std::string> storage_;    // unescaped inline arguments
  std::vector<std::string_view> gets_;  // keys of GETs waiting for run_gets
  InputBuffer in_;
  size_t start_ = 0;          // first unconsumed byte of in_
  size_t prefetched_to_ = 0;  // end of the commands PrefetchAhead has seen (offset in in_)
  std::vector<std::string_view> keys_ahead_, args_ahead_;  // PrefetchAhead's scratch
  std::vector<std::string> storage_ahead_;
  std::string error_ahead_;
  size_t need_ = 0;      // bytes of input (from start_) the pending command needs at least
  std::string out_;      // replies not yet handed to a write
  std::string sending_;  // what the write under way sends
  bool reading_ = false, writing_ = false;
  bool waiting_ = false;  // for a deferred or blocked command's reply
  bool held_ = false;     // in loop_->held: out_ waits for the round's flush
  bool closed_ = false;
  bool acked_ = false;  // a REPLCONF ACK came in this batch
  std::atomic<bool> wake_pending_{false};
  std::string last_command_;
  std::unique_ptr<ReplicaStream> replica_;
  // For other threads (ClientHandle).
  std::atomic<uint64_t> client_id_{0};
  std::atomic<int64_t> last_active_ms_{NowUnixMillis()};
  int64_t created_ms_ = NowUnixMillis();
  mutable std::mutex info_mu_;
  ClientInfo info_;  // guarded by info_mu_
};

// With appendfsync always, ends a round of a loop: one flush of the store covers every write
// made before it began, then the replies held meanwhile go out, as Redis flushes its AOF in
// beforeSleep before it writes replies. The loop serves each round's commands without
// waiting on the disk, and a flush carries every write of the round (the store shares one
// flush between loops that ask at once). A failed flush stops the server (Redis exits): the
// kernel may have dropped the written pages, and no reply may claim them.
void FlushRound(Loop& loop, ServerState* state, Logger* log) {
  if (loop.held.empty()) return;
  loop.releasing.swap(loop.held);
  Status s;
  {
    ServerState::StoreUse use(state);
    s = state->db().Sync();
  }
  if (!s.ok()) {
    log->Log(Logger::kWarning,
             "appendfsync always: flushing the store failed; the replies waiting for it are "
             "dropped with their connections, and the server shuts down",
             {{"error", s.ToString()}});
    if (state->request_shutdown) state->request_shutdown();
  }
  for (const auto& c : loop.releasing) c->Release(s.ok());
  loop.releasing.clear();
}

}  // namespace

struct RespServer::Impl {
  ServerState* state;
  Logger* log;
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<tcp::acceptor> acceptor;
  // Runs on loops[0], as the acceptor's handlers do. A failed accept waits on it before the
  // next try; accept_failures counts the failures in a row.
  std::unique_ptr<asio::steady_timer> accept_pause;
  uint64_t accept_failures = 0;
  std::vector<std::thread> threads;
  std::atomic<size_t> next_loop{0};
  std::atomic<bool> stopped{false};
  JobThreads jobs;  // deferred commands; joined after the loops end
  // Connections alive, so Stop can close them.
  std::mutex connections_mu;
  std::vector<std::weak_ptr<Connection>> connections;

  void Accept() {
    Loop* target = loops[next_loop++ % loops.size()].get();
    acceptor->async_accept(
        target->io, [this, target](const asio::error_code& ec, tcp::socket socket) {
          if (ec) {
            if (!stopped) AcceptFailed(ec);
            return;
          }
          if (accept_failures > 0) {
            log->Log(Logger::kNotice, "accepting connections again",
                     {{"failed_accepts", std::to_string(accept_failures)}});
            accept_failures = 0;
          }
          state->total_connections++;
          // A connection refused before it is served: one error line, then closed.
          auto refuse = [&](std::string_view error_line) {
            asio::error_code wec;
            asio::write(socket, asio::buffer(error_line.data(), error_line.size()), wec);
            socket.close(wec);
            Accept();
          };
          const ServerConfig cfg = state->config();
          if (state->connected_clients >= static_cast<uint64_t>(cfg.maxclients)) {
            state->rejected_connections++;
            return refuse("-ERR max number of clients reached\r\n");
          }
          asio::error_code pec;
          const tcp::endpoint peer = socket.remote_endpoint(pec);
          if (!pec && ProtectedModeRefuses(cfg, peer.address().to_string())) {
            log->Log(Logger::kVerbose, "connection refused: protected mode, no password",
                     {{"client", peer.address().to_string() + ":" + std::to_string(peer.port())}});
            return refuse("-" + std::string(kProtectedModeError) + "\r\n");
          }
          auto conn = std::make_shared<Connection>(std::move(socket), target, state, log, &jobs);
          {
            std::lock_guard l(connections_mu);
            std::erase_if(connections, [](const auto& w) { return w.expired(); });
            connections.push_back(conn);
          }
          asio::post(conn->executor(), [conn] { conn->Start(); });
          Accept();
        });
  }

  void AcceptFailed(const asio::error_code& ec) {
    // Out of descriptors or memory, the connection stays queued and an accept now would fail
    // again at once: pause rather than spin (and log the first failure of a run, not each).
    const bool out_of_resources =
        ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
        ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
    if (accept_failures++ == 0) {
      log->Log(Logger::kWarning, "accept failed",
               {{"error", ec.message()},
                {"retry", out_of_resources ? "every 100 ms until it works" : "at once"}});
    }
    if (!out_of_resources) {
      Accept();  // a client that gave up before it was accepted, say
      return;
    }
    accept_pause->expires_after(std::chrono::milliseconds(100));
    accept_pause->async_wait([this](const asio::error_code& wait) {
      if (!wait && !stopped) Accept();
    });
  }
};

RespServer::RespServer(ServerState* state, Logger* log) : impl_(std::make_unique<Impl>()) {
  impl_->state = state;
  impl_->log = log;
  const ServerConfig cfg = state->config();
  const unsigned n = EventLoops(cfg);
  for (unsigned i = 0; i < n; i++) {
    impl_->loops.push_back(std::make_unique<Loop>(SyncBeforeReply(cfg)));
    impl_->work.push_back(asio::make_work_guard(impl_->loops.back()->io));
  }
}

RespServer::~RespServer() {
  Stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->jobs.JoinAll();
}

Status RespServer::Start() {
  const ServerConfig cfg = impl_->state->config();
  asio::error_code ec;
  const auto address = asio::ip::make_address(cfg.bind, ec);
  if (ec) return Status::InvalidArgument("bind address '" + cfg.bind + "': " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(cfg.port));
  auto acceptor = std::make_unique<tcp::acceptor>(impl_->loops[0]->io);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": " +
                           ec.message());
  }
  impl_->state->bound_port = acceptor->local_endpoint().port();
  impl_->acceptor = std::move(acceptor);
  impl_->accept_pause = std::make_unique<asio::steady_timer>(impl_->loops[0]->io);
  impl_->Accept();
  return Status::OK();
}

namespace {

// Runs an event loop until it stops. A loop that sleeps in epoll_wait must be woken by the
// next request, and that wake-up is paid by the client's send (a cross-core interrupt): with
// many clients each sending its next request right after its reply, a loop that sleeps
// between rounds makes every client slower. So once it has been busy (kBusyRound handlers or
// more since it last slept) the loop polls for up to `spin` before it sleeps, as
// busy-polling servers do; with 50 clients and no pipelining that is 10-20% more requests
// per second here. A loop that finds one thing at a time sleeps at once, so a lightly
// loaded server spends no CPU on it, and an idle one none. Every poll ends a round
// (FlushRound), so no reply is held while the loop spins or sleeps.
void RunLoop(Loop& loop, ServerState* state, Logger* log, std::chrono::microseconds spin) {
  constexpr size_t kBusyRound = 8;
  asio::io_context& io = loop.io;
  auto poll = [&] {
    const size_t n = io.poll();
    FlushRound(loop, state, log);
    return n;
  };
  size_t awake = 0;  // handlers run since the loop last slept
  while (!io.stopped()) {
    if (const size_t n = poll(); n > 0) {
      awake += n;
      continue;
    }
    if (spin.count() > 0 && awake >= kBusyRound) {
      const auto until = std::chrono::steady_clock::now() + spin;
      size_t n = 0;
      while (n == 0 && !io.stopped() && std::chrono::steady_clock::now() < until) n = poll();
      awake += n;
      if (n > 0) continue;
    }
    awake = io.run_one();  // sleeps until there is something to do (then polls: a round)
  }
}

}  // namespace

void RespServer::Run() {
  const std::chrono::microseconds spin(impl_->state->config().busy_poll_us);
  for (size_t i = 1; i < impl_->loops.size(); i++) {
    impl_->threads.emplace_back(
        [this, i, spin] { RunLoop(*impl_->loops[i], impl_->state, impl_->log, spin); });
  }
  RunLoop(*impl_->loops[0], impl_->state, impl_->log, spin);
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void RespServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->loops[0]->io, [this] {
    asio::error_code ec;
    if (impl_->acceptor) impl_->acceptor->close(ec);
    if (impl_->accept_pause) impl_->accept_pause->cancel();
  });
  {
    std::lock_guard l(impl_->connections_mu);
    for (auto& weak : impl_->connections) {
      if (auto conn = weak.lock()) asio::post(conn->executor(), [conn] { conn->Close(); });
    }
  }
  // Loops return once the closes have run and nothing is left to do.
  impl_->work.clear();
}

}  // namespace bitcask::server
