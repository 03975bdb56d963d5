#include "server/replication.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "bitcask/version.h"
#include "server/rdb.h"
#include "server/replica_link.h"
#include "server/resp.h"
#include "server/state.h"

namespace bitcask::server {

namespace {

int64_t NowMs() { return NowUnixMillis(); }

std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(NowMs()) ^
                                          reinterpret_cast<uintptr_t>(&n));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  for (char& c : out) c = kHex[rng() & 15];
  return out;
}

constexpr char kZeroReplid[] = "0000000000000000000000000000000000000000";

// Where a clean shutdown keeps the stream position, with the store.
std::string PositionFile(const std::string& dir) { return dir + "/replication.position"; }

}  // namespace

// ---- FullSync ---------------------------------------------------------------------------

void FullSync::SetWake(std::function<void()> wake) {
  std::lock_guard l(mu_);
  wake_ = std::move(wake);
}

bool FullSync::Next(std::string* piece, bool* done) {
  std::lock_guard l(mu_);
  *done = false;
  if (!pieces_.empty()) {
    *piece = std::move(pieces_.front());
    pieces_.pop_front();
    queued_ -= piece->size();
    space_.notify_all();
    return true;
  }
  *done = finished_;
  return false;
}

Status FullSync::status() const {
  std::lock_guard l(mu_);
  return status_;
}

void FullSync::Cancel() {
  cancelled_ = true;
  std::lock_guard l(mu_);
  space_.notify_all();
}

bool FullSync::Put(std::string piece) {
  std::function<void()> wake;
  {
    std::unique_lock l(mu_);
    space_.wait(l, [&] { return cancelled_ || queued_ < kQueueBytes; });
    if (cancelled_) return false;
    queued_ += piece.size();
    pieces_.push_back(std::move(piece));
    wake = wake_;
  }
  if (wake) wake();
  return true;
}

void FullSync::Finish(Status s) {
  std::function<void()> wake;
  {
    std::lock_guard l(mu_);
    finished_ = true;
    status_ = std::move(s);
    wake = wake_;
  }
  if (wake) wake();
}

// ---- Replication ------------------------------------------------------------------------

Replication::Replication(ServerState* server)
    : server_(server),
      run_id_(RandomHex(40)),
      log_(static_cast<uint64_t>(server->config().repl_backlog_size)) {
  replid_ = RandomHex(40);
  log_.SetOnAppend([this] { WakeSenders(); });
}

Replication::~Replication() { Stop(); }

std::string Replication::NewReplid() const { return RandomHex(40); }

void Replication::Start() {
  const ServerConfig cfg = server_->config();
  // A clean shutdown left the position of the stream the store holds: the store can
  // continue from it, as a leader (its replicas resume with PSYNC) or as a replica (it
  // resumes from its leader). It is read once: after a crash the store may differ from it.
  const std::string file = PositionFile(cfg.dir);
  std::string saved_replid;
  uint64_t saved_offset = 0;
  {
    std::ifstream in(file);
    if (in >> saved_replid >> saved_offset && saved_replid.size() == 40) {
      std::lock_guard l(mu_);
      replid_ = saved_replid;
      log_.Reset(saved_offset);
      streaming_ = true;
      streaming_flag_ = true;
    }
  }
  std::remove(file.c_str());
  if (!cfg.replicaof.empty()) {
    std::string host;
    int port = 0;
    std::istringstream words(cfg.replicaof);
    words >> host >> port;
    ReplicaOf(host, port);
  } else if (streaming_) {
    // As Redis after a restart: the old stream's id goes to replid2, so replicas that had
    // it all continue.
    std::lock_guard l(mu_);
    replid2_ = replid_;
    second_replid_offset_ = static_cast<int64_t>(log_.offset()) + 1;
    replid_ = NewReplid();
  }
  std::lock_guard l(cron_mu_);
  if (!cron_.joinable()) cron_ = std::thread([this] { CronLoop(); });
}

void Replication::RetireLinkLocked() {
  if (!link_) return;
  link_->RequestStop();
  retired_.push_back(std::move(link_));
}

void Replication::Stop() {
  std::vector<std::unique_ptr<ReplicaLink>> links;
  {
    std::lock_guard l(link_mu_);
    RetireLinkLocked();
    links.swap(retired_);
  }
  for (auto& link : links) link->Stop();
  {
    std::lock_guard l(cron_mu_);
    stop_cron_ = true;
  }
  cron_cv_.notify_all();
  if (cron_.joinable()) cron_.join();
  {
    std::lock_guard jl(jobs_mu_);
    for (Job& j : jobs_) j.sync->Cancel();
    for (Job& j : jobs_) j.thread.join();
    jobs_.clear();
  }
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard l(mu_);
    for (Waiter& w : waiters_) {
      calls.push_back([done = std::move(w.done), n = AcknowledgedByLocked(w.offset)] { done(n); });
    }
    waiters_.clear();
  }
  for (auto& c : calls) c();
}

void Replication::SavePosition() {
  std::lock_guard l(mu_);
  if (!streaming_) return;
  const std::string file = PositionFile(server_->config().dir);
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << replid_ << " " << log_.offset() << "\n";
    if (!out) return;
  }
  std::rename(tmp.c_str(), file.c_str());
}

// ---- The leader's stream ----------------------------------------------------------------

void Replication::OnCommit(std::span<const CommittedWrite> writes) {
  if (replica_.load(std::memory_order_acquire) ||
      !streaming_flag_.load(std::memory_order_acquire)) {
    return;
  }
  thread_local std::string buf;
  buf.clear();
  if (select_needed_.exchange(false)) reply::Command(&buf, {"SELECT", "0"});
  const bool wrap = writes.size() > 1;
  if (wrap) reply::Command(&buf, {"MULTI"});
  char at[24];
  for (const CommittedWrite& w : writes) {
    if (w.kind != CommittedWrite::Kind::kPut) {
      reply::Command(&buf, {"DEL", w.key});
    } else if (w.expire_at_ms == 0) {
      reply::Command(&buf, {"SET", w.key, w.value});
    } else {
      const int n = std::snprintf(at, sizeof at, "%llu", (unsigned long long)w.expire_at_ms);
      reply::Command(&buf, {"SET", w.key, w.value, "PXAT", std::string_view(at, size_t(n))});
    }
  }
  if (wrap) reply::Command(&buf, {"EXEC"});
  log_.Append(buf);
  if (buf.capacity() > (1u << 20)) std::string().swap(buf);
}

void Replication::Propagate(std::string_view command_resp) {
  if (replica_.load() || !streaming_flag_.load()) return;
  log_.Append(command_resp);
}

void Replication::AppendCommandLocked(std::initializer_list<std::string_view> args) {
  std::string buf;
  reply::Command(&buf, args);
  log_.Append(buf);
}

void Replication::EnsureStreamingLocked() {
  if (streaming_) return;
  // The first replica: the stream starts here, under a new id (as Redis creates its backlog).
  streaming_ = true;
  replid_ = NewReplid();
  replid2_.clear();
  second_replid_offset_ = -1;
  select_needed_ = true;
  streaming_flag_ = true;
}

void Replication::WakeSenders() {
  std::vector<std::shared_ptr<ClientHandle>> handles;
  {
    std::lock_guard l(senders_mu_);  // not mu_: Append is called with it held
    for (const auto& [id, weak] : senders_) {
      if (auto h = weak.lock()) handles.push_back(std::move(h));
    }
  }
  for (auto& h : handles) h->Wake();
}

bool Replication::CanContinue(std::string_view replid, int64_t offset, bool psync2,
                              std::string* line) {
  std::lock_guard l(mu_);
  if (!streaming_ || offset < 0) return false;
  const bool ours = replid == replid_ ||
                    (!replid2_.empty() && replid == replid2_ && offset <= second_replid_offset_);
  if (!ours || !log_.Covers(static_cast<uint64_t>(offset))) return false;
  *line = psync2 ? "+CONTINUE " + replid_ + "\r\n" : "+CONTINUE\r\n";
  return true;
}

void Replication::SetReplica(const ReplicaInfo& info) {
  std::lock_guard l(mu_);
  ReplicaInfo r = info;
  r.ack_time_ms = NowMs();
  replicas_[info.client_id] = r;
  std::lock_guard s(senders_mu_);
  senders_[info.client_id] = info.handle;
}

void Replication::SetReplicaState(uint64_t client_id, const std::string& state) {
  std::lock_guard l(mu_);
  if (auto it = replicas_.find(client_id); it != replicas_.end()) {
    it->second.state = state;
    if (state == "online") it->second.ack_time_ms = NowMs();
  }
}

void Replication::RemoveReplica(uint64_t client_id) {
  std::lock_guard l(mu_);
  replicas_.erase(client_id);
  if (replicas_.empty()) no_replicas_since_ms_ = NowMs();
  std::lock_guard s(senders_mu_);
  senders_.erase(client_id);
}

void Replication::OnAck(uint64_t client_id, uint64_t offset) {
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard l(mu_);
    auto it = replicas_.find(client_id);
    if (it == replicas_.end()) return;
    it->second.ack_offset = std::max(it->second.ack_offset, offset);
    it->second.ack_time_ms = NowMs();
    FireWaitersLocked(&calls);
  }
  for (auto& c : calls) c();
}

int64_t Replication::AcknowledgedByLocked(uint64_t offset) const {
  int64_t n = 0;
  for (const auto& [id, r] : replicas_) n += r.state == "online" && r.ack_offset >= offset;
  return n;
}

int64_t Replication::AcknowledgedBy(uint64_t offset) const {
  std::lock_guard l(mu_);
  return AcknowledgedByLocked(offset);
}

void Replication::FireWaitersLocked(std::vector<std::function<void()>>* calls) {
  const int64_t now = NowMs();
  std::erase_if(waiters_, [&](Waiter& w) {
    const int64_t acked = AcknowledgedByLocked(w.offset);
    if (acked < w.numreplicas && (w.deadline_ms == 0 || now < w.deadline_ms)) return false;
    calls->push_back([done = std::move(w.done), acked] { done(acked); });
    return true;
  });
}

void Replication::Wait(uint64_t offset, int64_t numreplicas, int64_t timeout_ms,
                       std::function<void(int64_t)> done) {
  int64_t acked;
  {
    std::lock_guard l(mu_);
    acked = AcknowledgedByLocked(offset);
    if (acked < numreplicas) {
      waiters_.push_back(
          {offset, numreplicas, timeout_ms > 0 ? NowMs() + timeout_ms : 0, std::move(done)});
      // Ask the replicas where they are (once for the waiters of this moment).
      if (streaming_ && !replicas_.empty()) AppendCommandLocked({"REPLCONF", "GETACK", "*"});
    }
  }
  if (acked >= numreplicas) return done(acked);
  cron_cv_.notify_all();  // a new deadline
}

bool Replication::EnoughGoodReplicas() const {
  if (server_->min_replicas_to_write_now() == 0) return true;
  const ServerConfig cfg = server_->config();
  if (cfg.min_replicas_to_write == 0 || cfg.min_replicas_max_lag == 0 || is_replica()) return true;
  const int64_t now = NowMs();
  std::lock_guard l(mu_);
  int64_t good = 0;
  for (const auto& [id, r] : replicas_) {
    good += r.state == "online" && now - r.ack_time_ms <= cfg.min_replicas_max_lag * 1000;
  }
  return good >= cfg.min_replicas_to_write;
}

int64_t Replication::connected_replicas() const {
  std::lock_guard l(mu_);
  return static_cast<int64_t>(replicas_.size());
}

std::shared_ptr<FullSync> Replication::StartFullSync(bool eof_format, bool announce) {
  {
    std::lock_guard l(mu_);
    EnsureStreamingLocked();
  }
  const ServerConfig cfg = server_->config();
  const std::string snapshot = cfg.dir + ".repl-snapshot-" + std::to_string(::getpid()) + "-" +
                               std::to_string(++snapshot_seq_);
  auto sync = std::make_shared<FullSync>();
  const Options engine_options = EngineOptions(cfg);
  std::lock_guard jl(jobs_mu_);
  std::erase_if(jobs_, [](Job& j) {
    if (!j.sync->finished()) return false;
    j.thread.join();
    return true;
  });
  jobs_.push_back({sync, std::thread([this, sync, snapshot, eof_format, announce, engine_options] {
                     std::error_code ec;
                     std::filesystem::remove_all(snapshot, ec);
                     std::string replid;
                     uint64_t offset = 0;
                     int64_t reader = -1;
                     Status s;
                     {
                       // On a replica the store and the log move together under apply_mu (the link
                       // applies a command, then logs its bytes): the copy's offset is exact.
                       std::unique_lock<std::mutex> applying(apply_mu_, std::defer_lock);
                       if (is_replica()) applying.lock();
                       ServerState::StoreUse use(server_);
                       s = server_->db().Checkpoint(snapshot, [&] {
                         std::lock_guard l(mu_);
                         offset = log_.offset();
                         reader = log_.AddReader(offset + 1);
                         replid = replid_;
                         select_needed_ = true;  // the stream after the copy starts with SELECT 0
                       });
                     }
                     if (s.ok()) {
                       sync->SetStart(reader, offset);
                       if (announce && !sync->Put("+FULLRESYNC " + replid + " " +
                                                  std::to_string(offset) + "\r\n")) {
                         s = Status::Closed("the replica went away");
                       }
                     } else if (reader >= 0) {
                       log_.RemoveReader(reader);
                     }
                     Options o = engine_options;
                     o.read_only = true;
                     o.create_if_missing = false;
                     o.commit_listener = nullptr;
                     std::unique_ptr<DB> db;
                     if (s.ok()) s = DB::Open(o, snapshot, &db);
                     uint64_t keys = 0, expires = 0;
                     Stats stats;
                     if (s.ok() && db->GetStats(&stats).ok()) {
                       keys = stats.live_keys;
                       expires = stats.expiring_keys;
                     }
                     const std::string mark = RandomHex(40);
                     const std::string rdb_file = snapshot + ".rdb";
                     FILE* file = nullptr;
                     if (s.ok() && !eof_format) {
                       file = std::fopen(rdb_file.c_str(), "w+");
                       if (file == nullptr) s = Status::IOError("cannot write " + rdb_file);
                     }
                     if (s.ok() && eof_format && !sync->Put("$EOF:" + mark + "\r\n"))
                       s = Status::Closed("the replica went away");
                     rdb::Writer writer([&](std::string_view piece) {
                       if (file != nullptr) {
                         return std::fwrite(piece.data(), 1, piece.size(), file) == piece.size()
                                    ? Status::OK()
                                    : Status::IOError("cannot write " + rdb_file);
                       }
                       return sync->Put(std::string(piece))
                                  ? Status::OK()
                                  : Status::Closed("the replica went away");
                     });
                     if (s.ok()) {
                       s = writer.Begin({{"redis-ver", BITCASK_REDIS_VERSION},
                                         {"redis-bits", "64"},
                                         {"ctime", std::to_string(NowMs() / 1000)},
                                         {"used-mem", "0"},
                                         {"repl-stream-db", "0"},
                                         {"repl-id", replid},
                                         {"repl-offset", std::to_string(offset)},
                                         {"aof-base", "0"}},
                                        keys, expires);
                     }
                     if (s.ok()) {
                       auto it = db->NewIterator();
                       for (it->SeekToFirst(); s.ok() && it->Valid(); it->Next()) {
                         uint64_t expire = 0;
                         std::string value;
                         const Status g = db->GetWithExpiry(it->key(), &value, &expire);
                         if (g.IsNotFound()) continue;  // expired meanwhile
                         s = g.ok() ? writer.Add(it->key(), value, expire) : g;
                       }
                       if (s.ok()) s = it->status();
                     }
                     if (s.ok()) s = writer.Finish();
                     db.reset();
                     if (s.ok() && eof_format && !sync->Put(mark))
                       s = Status::Closed("the replica went away");
                     if (s.ok() && file != nullptr) {
                       const long size = std::ftell(file);
                       std::rewind(file);
                       if (!sync->Put("$" + std::to_string(size) + "\r\n"))
                         s = Status::Closed("the replica went away");
                       std::string chunk(1 << 20, '\0');
                       while (s.ok()) {
                         const size_t n = std::fread(chunk.data(), 1, chunk.size(), file);
                         if (n == 0) break;
                         if (!sync->Put(chunk.substr(0, n)))
                           s = Status::Closed("the replica went away");
                       }
                     }
                     if (file != nullptr) std::fclose(file);
                     std::remove(rdb_file.c_str());
                     std::filesystem::remove_all(snapshot, ec);
                     sync->Finish(s);
                   })});
  return sync;
}

// ---- Roles ------------------------------------------------------------------------------

bool Replication::ReplicaOf(const std::string& host, int port) {
  std::lock_guard ll(link_mu_);
  if (link_ && is_replica() && link_->host() == host && link_->port() == port) return false;
  RetireLinkLocked();
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard l(mu_);
    // A leader becoming a replica keeps its stream as the position to continue from (Redis
    // caches itself as its master): PSYNC replid offset+1.
    replica_ = true;
    // Clients waiting in WAIT get the count of now.
    for (Waiter& w : waiters_) {
      calls.push_back([done = std::move(w.done), n = AcknowledgedByLocked(w.offset)] { done(n); });
    }
    waiters_.clear();
  }
  for (auto& c : calls) c();
  server_->UpdateConfig([&](ServerConfig* c) { c->replicaof = host + " " + std::to_string(port); });
  link_ = std::make_unique<ReplicaLink>(server_, this, host, port);
  link_->Start();
  return true;
}

void Replication::BecomeLeader() {
  {
    std::lock_guard ll(link_mu_);
    RetireLinkLocked();
  }
  std::vector<std::shared_ptr<ClientHandle>> kicked;
  {
    std::lock_guard l(mu_);
    if (!replica_) return;
    replica_ = false;
    if (streaming_) {
      // The stream goes on under a new id; the old one is kept, so the other replicas of the
      // old leader continue with PSYNC.
      replid2_ = replid_;
      second_replid_offset_ = static_cast<int64_t>(log_.offset()) + 1;
      replid_ = NewReplid();
    }
    select_needed_ = true;
    // As Redis: the replicas of this server reconnect (and continue, through replid2).
    for (const auto& [id, r] : replicas_) {
      if (auto h = r.handle.lock()) kicked.push_back(std::move(h));
    }
  }
  for (auto& h : kicked) h->Kill();
  server_->UpdateConfig([](ServerConfig* c) { c->replicaof.clear(); });
}

// ---- The link's side ----------------------------------------------------------------------

void Replication::ResetStream(const std::string& replid, uint64_t offset) {
  std::vector<std::shared_ptr<ClientHandle>> kicked;
  {
    std::lock_guard l(mu_);
    replid_ = replid;
    replid2_.clear();
    second_replid_offset_ = -1;
    log_.Reset(offset);
    streaming_ = true;
    streaming_flag_ = true;
    for (const auto& [id, r] : replicas_) {
      if (auto h = r.handle.lock()) kicked.push_back(std::move(h));
    }
  }
  for (auto& h : kicked) h->Kill();  // they followed the old data: they resync
}

void Replication::ContinueStream(const std::string& replid) {
  std::lock_guard l(mu_);
  streaming_ = true;
  streaming_flag_ = true;
  if (replid.empty() || replid == replid_) return;
  replid2_ = replid_;
  second_replid_offset_ = static_cast<int64_t>(log_.offset()) + 1;
  replid_ = replid;
}

bool Replication::ResumePosition(std::string* replid, uint64_t* offset) const {
  std::lock_guard l(mu_);
  if (!streaming_) return false;
  *replid = replid_;
  *offset = log_.offset();
  return true;
}

// ---- Cron ---------------------------------------------------------------------------------

void Replication::CronLoop() {
  int64_t last_ping = NowMs();
  std::unique_lock l(cron_mu_);
  while (!stop_cron_) {
    // Wake for the nearest WAIT deadline, or in 100 ms.
    int64_t wake = NowMs() + 100;
    {
      std::lock_guard ml(mu_);
      for (const Waiter& w : waiters_) {
        if (w.deadline_ms != 0) wake = std::min(wake, w.deadline_ms);
      }
    }
    cron_cv_.wait_for(l, std::chrono::milliseconds(std::max<int64_t>(1, wake - NowMs())));
    if (stop_cron_) break;
    l.unlock();
    const ServerConfig cfg = server_->config();
    const int64_t now = NowMs();
    std::vector<std::function<void()>> calls;
    std::vector<std::shared_ptr<ClientHandle>> timed_out;
    {
      std::lock_guard ml(mu_);
      FireWaitersLocked(&calls);
      // PING every repl-ping-replica-period, while a replica is attached.
      if (!replica_ && streaming_ && !replicas_.empty() &&
          now - last_ping >= cfg.repl_ping_replica_period * 1000) {
        last_ping = now;
        AppendCommandLocked({"ping"});
      }
      // A replica silent for repl-timeout (no ACK) is dropped; it reconnects.
      for (const auto& [id, r] : replicas_) {
        if (r.state == "online" && now - r.ack_time_ms > cfg.repl_timeout * 1000) {
          if (auto h = r.handle.lock()) timed_out.push_back(std::move(h));
        }
      }
    }
    for (auto& c : calls) c();
    {
      std::vector<std::unique_ptr<ReplicaLink>> done;
      {
        std::lock_guard ll(link_mu_);
        done.swap(retired_);
      }
      for (auto& link : done) link->Stop();  // stopped links end within moments
    }
    for (auto& h : timed_out) {
      server_->log().Log(Logger::kWarning, "disconnecting timed out replica",
                         {{"client", h->Info().addr}});
      h->Kill();
    }
    l.lock();
  }
}

// ---- Introspection ------------------------------------------------------------------------

std::string Replication::InfoSection() const {
  const ServerConfig cfg = server_->config();
  std::string s;
  auto line = [&](std::string_view name, const std::string& value) {
    s.append(name).append(":").append(value).append("\r\n");
  };
  std::optional<ReplicaLink::Info> link;
  {
    std::lock_guard ll(link_mu_);
    if (link_) link = link_->info();
  }
  std::lock_guard l(mu_);
  const int64_t now = NowMs();
  if (replica_ && link) {
    line("role", "slave");
    line("master_host", link->host);
    line("master_port", std::to_string(link->port));
    line("master_link_status", link->up ? "up" : "down");
    line("master_last_io_seconds_ago",
         link->last_io_ms == 0 ? "-1" : std::to_string((now - link->last_io_ms) / 1000));
    line("master_sync_in_progress", link->sync_in_progress ? "1" : "0");
    line("slave_read_repl_offset", std::to_string(link->up ? link->read_offset : log_.offset()));
    line("slave_repl_offset", std::to_string(link->up ? link->applied_offset : log_.offset()));
    if (link->sync_in_progress) {
      line("master_sync_total_bytes", std::to_string(link->sync_total_bytes));
      line("master_sync_read_bytes", std::to_string(link->sync_read_bytes));
      line("master_sync_left_bytes",
           std::to_string(link->sync_total_bytes - link->sync_read_bytes));
      char perc[32];
      std::snprintf(perc, sizeof perc, "%.2f",
                    link->sync_total_bytes > 0
                        ? 100.0 * double(link->sync_read_bytes) / double(link->sync_total_bytes)
                        : 0.0);
      line("master_sync_perc", perc);
      line("master_sync_last_io_seconds_ago",
           std::to_string(link->last_io_ms == 0 ? 0 : (now - link->last_io_ms) / 1000));
    }
    if (!link->up) {
      line("master_link_down_since_seconds",
           link->down_since_ms == 0 ? "-1" : std::to_string((now - link->down_since_ms) / 1000));
    }
    line("slave_priority", std::to_string(cfg.replica_priority));
    line("slave_read_only", cfg.replica_read_only ? "1" : "0");
    line("replica_announced", "1");
  } else {
    line("role", "master");
  }
  line("connected_slaves", std::to_string(replicas_.size()));
  if (!replica_ && cfg.min_replicas_to_write > 0 && cfg.min_replicas_max_lag > 0) {
    int64_t good = 0;
    for (const auto& [id, r] : replicas_) {
      good += r.state == "online" && now - r.ack_time_ms <= cfg.min_replicas_max_lag * 1000;
    }
    line("min_slaves_good_slaves", std::to_string(good));
  }
  int n = 0;
  for (const auto& [id, r] : replicas_) {
    line("slave" + std::to_string(n++),
         "ip=" + r.ip + ",port=" + std::to_string(r.port) + ",state=" + r.state +
             ",offset=" + std::to_string(r.ack_offset) +
             ",lag=" + std::to_string(r.state == "online" ? (now - r.ack_time_ms) / 1000 : 0));
  }
  line("master_failover_state", "no-failover");
  line("master_replid", replid_);
  line("master_replid2", replid2_.empty() ? kZeroReplid : replid2_);
  line("master_repl_offset", std::to_string(log_.offset()));
  line("second_repl_offset", std::to_string(second_replid_offset_));
  line("repl_backlog_active", streaming_ ? "1" : "0");
  line("repl_backlog_size", std::to_string(log_.backlog_size()));
  line("repl_backlog_first_byte_offset", streaming_ ? std::to_string(log_.first_offset()) : "0");
  line("repl_backlog_histlen", streaming_ ? std::to_string(log_.held()) : "0");
  return s;
}

std::string Replication::RoleReply() const {
  std::optional<ReplicaLink::Info> link;
  {
    std::lock_guard ll(link_mu_);
    if (link_) link = link_->info();
  }
  std::string out;
  std::lock_guard l(mu_);
  if (replica_ && link) {
    reply::ArrayHeader(&out, 5);
    reply::Bulk(&out, "slave");
    reply::Bulk(&out, link->host);
    reply::Integer(&out, link->port);
    reply::Bulk(&out, link->state);
    reply::Integer(&out, link->up ? static_cast<int64_t>(link->applied_offset) : -1);
    return out;
  }
  reply::ArrayHeader(&out, 3);
  reply::Bulk(&out, "master");
  reply::Integer(&out, static_cast<int64_t>(log_.offset()));
  std::vector<const ReplicaInfo*> online;
  for (const auto& [id, r] : replicas_) {
    if (r.state == "online") online.push_back(&r);
  }
  reply::ArrayHeader(&out, online.size());
  for (const ReplicaInfo* r : online) {
    reply::ArrayHeader(&out, 3);
    reply::Bulk(&out, r->ip);
    reply::Bulk(&out, std::to_string(r->port));
    reply::Bulk(&out, std::to_string(r->ack_offset));
  }
  return out;
}

}  // namespace bitcask::server
