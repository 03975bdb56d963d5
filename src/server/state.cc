#include "server/state.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "server/dispatch.h"
#include "server/replication.h"
#include "util/hash.h"

namespace bitcask::server {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
// The EXEC guard running on this thread, if any.
thread_local const KeyLocks::Guard* exec_guard = nullptr;
size_t SlotOf(std::string_view key, size_t slots) { return util::HashKey(key) % slots; }
}  // namespace

KeyLocks::KeyLocks() : versions_(new std::atomic<uint64_t>[kSlots]()) {}

uint64_t KeyLocks::Version(std::string_view key) const {
  // Both only grow, so their sum changes whenever either does.
  return versions_[SlotOf(key, kSlots)].load(std::memory_order_acquire) +
         epoch_.load(std::memory_order_acquire);
}

void KeyLocks::Touch(std::string_view key) {
  versions_[SlotOf(key, kSlots)].fetch_add(1, std::memory_order_acq_rel);
}

KeyLocks::Guard::Guard(KeyLocks* locks, std::span<const std::string_view> keys, Kind kind)
    : locks_(locks), outer_(exec_guard), kind_(kind) {
  if (keys.size() > kInline) {
    more_.resize(keys.size());
    slots_ = more_.data();
  }
  for (std::string_view k : keys) slots_[count_++] = SlotOf(k, kSlots);
  std::sort(slots_, slots_ + count_, [](size_t a, size_t b) {
    return StripeOf(a) != StripeOf(b) ? StripeOf(a) < StripeOf(b) : a < b;
  });
  count_ = static_cast<size_t>(std::unique(slots_, slots_ + count_) - slots_);
  for (size_t i = 0; i < count_; i++) {
    const size_t stripe = StripeOf(slots_[i]);
    if (i > 0 && StripeOf(slots_[i - 1]) == stripe) continue;
    if (outer_ == nullptr || !outer_->Holds(stripe)) locks_->stripes_[stripe].lock();
  }
  if (kind_ == Kind::kExec) exec_guard = this;
}

KeyLocks::Guard::~Guard() {
  if (kind_ == Kind::kExec) {
    exec_guard = outer_;
  } else {
    for (size_t i = 0; i < count_; i++) {
      locks_->versions_[slots_[i]].fetch_add(1, std::memory_order_acq_rel);
    }
  }
  for (size_t i = count_; i-- > 0;) {
    const size_t stripe = StripeOf(slots_[i]);
    if (i > 0 && StripeOf(slots_[i - 1]) == stripe) continue;
    if (outer_ == nullptr || !outer_->Holds(stripe)) locks_->stripes_[stripe].unlock();
  }
}

bool KeyLocks::Guard::Holds(size_t stripe) const {
  const size_t* begin = slots_;
  const size_t* end = begin + count_;
  const size_t* at = std::lower_bound(begin, end, stripe,
                                      [](size_t slot, size_t st) { return StripeOf(slot) < st; });
  return (at != end && StripeOf(*at) == stripe) || (outer_ != nullptr && outer_->Holds(stripe));
}

uint64_t ScanCursors::Save(std::string last_key) {
  std::lock_guard l(mu_);
  // Cursors look random (a Weyl sequence), never 0: 0 means "start" and "done".
  uint64_t id;
  do {
    next_ += 0x9e3779b97f4a7c15ull;
    id = (next_ ^ (next_ >> 29)) & 0x7fffffffffffffffull;
  } while (id == 0 || cursors_.count(id));
  order_.push_back(id);
  cursors_.emplace(id, std::make_pair(std::move(last_key), std::prev(order_.end())));
  if (cursors_.size() > kMax) {
    cursors_.erase(order_.front());
    order_.pop_front();
  }
  return id;
}

bool ScanCursors::Find(uint64_t cursor, std::string* last_key) {
  std::lock_guard l(mu_);
  auto it = cursors_.find(cursor);
  if (it == cursors_.end()) return false;
  *last_key = it->second.first;
  order_.splice(order_.end(), order_, it->second.second);  // most recently used now
  return true;
}

ServerState::ServerState(ServerConfig config, Logger* log)
    : start_unix_ms(NowUnixMillis()),
      keyspace_(nullptr),
      log_(log != nullptr ? log : &own_log_),
      config_(std::move(config)),
      command_stats_(AllCommands().size()),
      replication_(std::make_unique<Replication>(this)) {
  CacheSettings();
}

ServerState::ServerState(std::unique_ptr<DB> db, ServerConfig config, Logger* log)
    : ServerState(std::move(config), log) {
  (void)SetStore(std::move(db));
}

Status ServerState::SetStore(std::unique_ptr<DB> db) {
  db_ = std::move(db);
  keyspace_.Reset(db_.get());
  if (!cluster_.enabled()) return Status::OK();
  const Status s = cluster_.Rebuild(keyspace_);
  if (!s.ok()) {
    log().Log(Logger::kWarning, "cluster: the per-slot key index could not be built",
              {{"error", s.ToString()}});
  }
  return s;
}

void ServerState::PropagateClusterMap() {
  if (!cluster_.enabled()) return;
  const auto v = cluster_.view();
  if (v->version < 0) return;
  const std::string text = v->NodesText(), version = std::to_string(v->version);
  std::string cmd;
  reply::Command(&cmd, {"CLUSTERX", "SETNODES", text, version});
  replication_->Propagate(cmd);
}

void ServerState::CommitFanout::OnCommit(std::span<const CommittedWrite> writes) {
  if (server_->cluster_.enabled()) server_->cluster_.OnCommit(writes);
  server_->replication_->OnCommit(writes);
}

Status ServerState::SwapInStore(const std::string& incoming,
                                const std::function<bool()>& still_wanted) {
  const ServerConfig cfg = config();
  const std::string old = cfg.dir + ".sync-old";
  std::error_code ec;
  std::filesystem::remove_all(old, ec);
  {
    util::WriterLock lock(&store_mu_);  // no command, request or job uses the store meanwhile
    if (!still_wanted()) return Status::Closed("the link that loaded it was stopped");
    if (Status s = db_->Close(); !s.ok()) return s;
    Options options = EngineOptions(cfg);
    options.commit_listener = commit_listener();
    auto reopen_old = [&](Status why) {
      std::unique_ptr<DB> again;
      if (DB::Open(options, cfg.dir, &again).ok()) (void)SetStore(std::move(again));
      return why;
    };
    if (std::rename(cfg.dir.c_str(), old.c_str()) != 0) {
      return reopen_old(Status::FromErrno("rename " + cfg.dir + " to " + old, errno));
    }
    if (std::rename(incoming.c_str(), cfg.dir.c_str()) != 0) {
      const Status why = Status::FromErrno("rename " + incoming + " to " + cfg.dir, errno);
      std::rename(old.c_str(), cfg.dir.c_str());
      return reopen_old(why);
    }
    std::unique_ptr<DB> fresh;
    if (Status s = DB::Open(options, cfg.dir, &fresh); !s.ok()) {
      std::rename(cfg.dir.c_str(), incoming.c_str());
      std::rename(old.c_str(), cfg.dir.c_str());
      return reopen_old(s);
    }
    (void)SetStore(std::move(fresh));  // an index that could not be built is logged
    key_locks_.TouchAll();             // every watched key changed
  }
  if (cluster_.enabled()) {
    // The map is kept in the store's directory, which the new store just replaced.
    if (Status s = cluster_.Save(); !s.ok()) return s;
  }
  std::filesystem::remove_all(old, ec);
  return Status::OK();
}

Status ServerState::RecoverInterruptedSwap(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string incoming = IncomingStoreDir(dir), old = dir + ".sync-old";
  if (!fs::exists(dir, ec)) {
    // The swap stopped between its two renames: the new store was complete (it is flushed
    // and closed before the swap begins), so it goes into place; else the old one goes back.
    const std::string back = fs::exists(incoming, ec) ? incoming : old;
    if (fs::exists(back, ec) && std::rename(back.c_str(), dir.c_str()) != 0) {
      return Status::FromErrno("rename " + back + " to " + dir, errno);
    }
  }
  fs::remove_all(incoming, ec);  // a full sync that did not finish
  fs::remove_all(old, ec);
  return Status::OK();
}

ServerState::~ServerState() {
  replication_->Stop();
  std::thread job;
  {
    std::lock_guard l(background_mu_);
    job = std::move(background_);
  }
  // Not under the lock: the job takes it to record its result.
  if (job.joinable()) job.join();
}

size_t Counter::Stripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

ServerConfig ServerState::config() const {
  std::lock_guard l(config_mu_);
  return config_;
}

void ServerState::UpdateConfig(const std::function<void(ServerConfig*)>& change) {
  std::lock_guard l(config_mu_);
  change(&config_);
  CacheSettings();
  config_version_.fetch_add(1, std::memory_order_release);
}

void ServerState::CacheSettings() {
  replica_read_only_cached_ = config_.replica_read_only;
  serve_stale_cached_ = config_.replica_serve_stale_data;
  min_replicas_cached_ = config_.min_replicas_max_lag > 0 ? config_.min_replicas_to_write : 0;
  full_coverage_cached_ = config_.cluster_require_full_coverage;
}

bool ServerState::replica_read_only_now() const {
  return replica_read_only_cached_.load(std::memory_order_relaxed) && replication_->is_replica();
}

bool ServerState::stale_replica_now() const {
  return !serve_stale_cached_.load(std::memory_order_relaxed) && replication_->is_replica() &&
         !replication_->link_up();
}

bool ServerState::StartBackground(const char* what, std::function<Status()> job) {
  std::lock_guard l(background_mu_);
  if (background_running_) return false;
  if (background_.joinable()) background_.join();
  background_running_ = true;
  background_ = std::thread([this, what, job = std::move(job)] {
    Status s;
    {
      StoreUse use(this);
      s = job();
    }
    std::lock_guard bl(background_mu_);
    background_last_ = std::string(what) + ": " + s.ToString();
    background_running_ = false;
  });
  return true;
}

std::string ServerState::background_last() const {
  std::lock_guard l(background_mu_);
  return background_last_;
}

}  // namespace bitcask::server
