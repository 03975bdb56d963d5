#include "engine/db_impl.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstring>
#include <new>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "engine/compression.h"
#include "engine/db_internal.h"
#include "engine/hint.h"
#include "engine/limits.h"
#include "engine/map_faults.h"
#include "engine/recovery.h"
#include "engine/write_batch_internal.h"
#include "util/hash.h"

namespace bitcask {

Status DB::Open(const Options& options, const std::string& dir, std::unique_ptr<DB>* db) {
  db->reset();
  if (dir.empty()) return Status::InvalidArgument("the store directory is an empty path");
  if (options.max_file_size < 4096 || options.max_file_size >= (uint64_t{1} << 32)) {
    return Status::InvalidArgument("max_file_size is " + std::to_string(options.max_file_size) +
                                   "; it must be at least 4096 and below 4 GiB");
  }
  if (options.sync_mode == SyncMode::kInterval && options.sync_interval_ms == 0) {
    return Status::InvalidArgument("sync_interval_ms must be positive with SyncMode::kInterval");
  }
  // A read-only open lists the directory, then maps and reads each data file, while a writer
  // may go on: a merge deletes files it listed, sealing the active file cuts off its unwritten
  // end under the mapping (a read there is a SIGBUS). Such an open starts over, from a new
  // listing, if it failed or met an unreadable page (which a salvage open passes over as
  // damage) and the store changed since it listed it.
  constexpr int kReadOnlyAttempts = 20;
  for (int attempt = 1;; attempt++) {
    auto impl = std::make_unique<engine::DBImpl>(options, dir);
    Status s = impl->Recover();
    const bool changed =
        options.read_only && (!s.ok() || impl->MappingFaulted()) && impl->ChangedSinceListed();
    // On the last attempt, what a salvage open passed over stands.
    if (!changed || (s.ok() && attempt == kReadOnlyAttempts)) {
      if (s.ok()) *db = std::move(impl);
      return s;
    }
    if (attempt == kReadOnlyAttempts) {
      // IOError, not Busy: no lock stands in the way, and waiting for one would not help.
      return Status::IOError(dir + ": a writer changed the store under a read-only open " +
                             std::to_string(attempt) +
                             " times in a row (merging or sealing files); last: " + s.ToString());
    }
    impl.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt));  // let a merge finish
  }
}

namespace engine {

namespace {
std::string WithoutTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}
}  // namespace

std::atomic<uint32_t> forks_counted{0};

namespace {
uint32_t ForksSoFar() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    pthread_atfork(nullptr, nullptr, [] { forks_counted.fetch_add(1, std::memory_order_relaxed); });
  });
  return forks_counted.load(std::memory_order_relaxed);
}
}  // namespace

DBImpl::DBImpl(const Options& options, std::string dir)
    : options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      dir_(WithoutTrailingSlashes(std::move(dir))),
      forks_at_open_(ForksSoFar()),
      opener_pid_(::getpid()) {
  huge_pages_ = HugePagesAtOpen();  // no other thread yet
}

DBImpl::~DBImpl() { (void)Close(); }

Status DBImpl::ForkedChildError() const {
  return Status::Closed("the store " + dir_ + " was opened by process " +
                        std::to_string(opener_pid_) + " before it forked this one (" +
                        std::to_string(::getpid()) +
                        "): the parent's store cannot be used here; open it again in this "
                        "process (read-only beside the parent, which holds the writer's lock)");
}

void DBImpl::ForgetParentState() {
  if (parent_state_forgotten_.exchange(true)) return;
  // The parent's threads do not exist here: overwrite their handles, without the destructor
  // (a joinable std::thread's calls std::terminate). Likewise the condition variables they
  // may have been waiting on at the fork: glibc's pthread_cond_destroy would wait for those
  // waiters forever. What the members' destructors still do (unmap, close descriptors) leaves
  // the parent's files and its lock as they are.
  new (&sync_thread_) std::thread();
  new (&maintenance_thread_) std::thread();
  new (&sync_cv_) std::condition_variable();
  new (&stop_cv_) std::condition_variable();
  new (&maintenance_cv_) std::condition_variable();
}

uint64_t DBImpl::NowMillis() const { return env_->NowUnixMillis(); }

Status DBImpl::Close() {
  if (Forked()) [[unlikely]] {
    ForgetParentState();
    return Status::OK();
  }
  std::lock_guard close_lock(close_mu_);
  closing_ = true;  // a merge in progress finishes early
  {
    std::lock_guard l(maintenance_mu_);
    stop_maintenance_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  {
    std::lock_guard l(sync_mu_);
    stop_sync_thread_ = true;
  }
  stop_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  std::lock_guard merge_lock(merge_mu_);  // waits for a Merge() called by another thread

  Status s;
  const DataFile* last_active = nullptr;
  {
    util::MutexLock l(&write_mu_);
    if (closed_) return Status::OK();
    closed_ = true;
    // After this no reader is inside a file, and none will enter one.
    for (unsigned i = 0; i < Keydir::kNumShards; i++) {
      KeydirShard& shard = keydir_.shard(i);
      std::unique_lock sl(shard.mu);
      shard.closed = true;
    }
    if (options_.read_only) return s;
    // A clean close leaves every acknowledged write on stable storage.
    for (uint32_t id : unsynced_sealed_) {
      if (DataFile* f = files_.Get(id); f != nullptr && s.ok()) s = f->Sync();
    }
    unsynced_sealed_.clear();
    if (active_ != nullptr) {
      // A last sync mark covers the whole file, so the next open reports damage anywhere in
      // it rather than taking it for an unflushed tail.
      const uint64_t end = active_->size();
      if (s.ok() && active_->writable() && NeedsSyncMarkLocked(end)) {
        s = active_->Sync();
        if (s.ok()) AppendSyncMarkLocked(active_, end);
      }
      Status seal = active_->Seal(/*sync=*/true);
      if (s.ok()) s = seal;
    }
    if (s.ok() && dir_dirty_) s = env_->SyncDir(dir_);
    // A flush that failed before may have lost writes this one cannot bring back.
    if (s.ok()) s = bg_error_;
    last_active = active_;
  }
  // Hints for the active file and any sealed file still without one: the next Open reads
  // them instead of the data. Only time is lost if this fails, so its status is dropped.
  std::deque<uint32_t> pending;
  {
    std::lock_guard ml(maintenance_mu_);
    pending.swap(hints_pending_);
  }
  if (last_active != nullptr) pending.push_back(last_active->id());
  if (s.ok()) {
    for (uint32_t id : pending) (void)WriteHint(id);
  }
  lock_.Release();
  return s;
}

// Stats

Status DBImpl::GetStats(Stats* stats) {
  *stats = Stats();
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  {
    util::MutexLock l(&write_mu_);
    if (closed_) return Status::Closed();
    stats->files = FileStatsList();
    stats->huge_pages = active_ != nullptr && active_->huge_pages();
    if (!bg_error_.ok()) stats->write_error = bg_error_.ToString();
  }
  for (FileStats& fs : stats->files) {
    fs.has_hint = PathExists(env_, HintFileName(dir_, fs.file_id));
    stats->total_bytes += fs.total_bytes;
    stats->dead_bytes += fs.dead_bytes;
  }
  stats->data_files = stats->files.size();
  double ttl_sum_ms = 0;
  if (Status s = CountLive(&stats->live_keys, &stats->expiring_keys, &ttl_sum_ms); !s.ok()) {
    return s;
  }
  if (stats->expiring_keys > 0) {
    stats->avg_ttl_ms = uint64_t(ttl_sum_ms / double(stats->expiring_keys));
  }
  stats->keydir_bytes = keydir_.MemoryUsage();
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    stats->gets += keydir_.shard(i).gets.load(std::memory_order_relaxed);
  }
  stats->puts = puts_.load(std::memory_order_relaxed);
  stats->deletes = deletes_.load(std::memory_order_relaxed);
  stats->batches = batches_.load(std::memory_order_relaxed);
  stats->syncs = syncs_.load(std::memory_order_relaxed);
  stats->bytes_written = bytes_written_.load(std::memory_order_relaxed);
  stats->corrupt_bytes_skipped = corrupt_bytes_skipped_;
  stats->tail_bytes_truncated = tail_bytes_truncated_;
  stats->damaged_keys_dropped = keys_dropped_unreadable_.load(std::memory_order_relaxed);
  stats->open_micros = open_micros_;
  stats->files_loaded_from_hints = files_from_hints_;
  stats->get_latency = get_latency_.Summary();
  stats->put_latency = put_latency_.Summary();
  stats->delete_latency = delete_latency_.Summary();
  stats->batch_latency = batch_latency_.Summary();
  stats->merges = merges_.load(std::memory_order_relaxed);
  stats->merge_micros = merge_micros_.load(std::memory_order_relaxed);
  stats->merge_bytes_reclaimed = merge_reclaimed_.load(std::memory_order_relaxed);
  {
    std::lock_guard l(merge_status_mu_);
    stats->merge_failures = merge_failures_;
    stats->last_merge_error = last_merge_error_;
  }
  return Status::OK();
}

}  // namespace engine
}  // namespace bitcask
