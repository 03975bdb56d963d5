// DBImpl's durability: group commit (concurrent writers share one flush), sync marks, the
// interval flusher, Sync.

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
#include "engine/db_impl.h"
#include "engine/db_internal.h"
#include "engine/hint.h"
#include "engine/limits.h"
#include "engine/map_faults.h"
#include "engine/recovery.h"
#include "engine/write_batch_internal.h"
#include "util/hash.h"

namespace bitcask::engine {

// Durability

Status DBImpl::SyncUpTo(uint64_t seq) {
  sync_arrivals_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock l(sync_mu_);
  if (synced_seq_ >= seq) return Status::OK();
  sync_waiting_.push_back(seq);
  const Status s = FollowOrLeadLocked(l, seq);
  sync_waiting_.erase(std::find(sync_waiting_.begin(), sync_waiting_.end(), seq));
  return s;
}

Status DBImpl::FollowOrLeadLocked(std::unique_lock<std::mutex>& l, uint64_t seq) {
  while (synced_seq_ < seq) {
    if (!sync_error_.ok()) return sync_error_;
    if (sync_running_) {
      sync_cv_.wait(l);
      continue;
    }
    // Become the leader: flush everything written so far, for us and for all who wait.
    sync_running_ = true;
    const uint64_t gathered = gather_from_ + gather_count_;
    const auto gather_for =
        std::chrono::nanoseconds(std::min<int64_t>(last_flush_nanos_ / 2, 100'000));
    l.unlock();
    // The writers the last flush released are appending their next records right now: a
    // flush started at once would leave them all to the one after, so that each flush would
    // carry about half of the writers. Give them a moment (half a flush at most) to
    // come back, as many as the last flush released. A lone writer never waits (its own call
    // is the one it waits for), nor does a leader that the last flush released nobody for.
    const auto started = std::chrono::steady_clock::now();
    while (sync_arrivals_.load(std::memory_order_relaxed) < gathered &&
           std::chrono::steady_clock::now() - started < gather_for) {
      std::this_thread::yield();
    }
    const auto flush_started = std::chrono::steady_clock::now();
    uint64_t target;
    std::vector<DataFile*> files;
    bool sync_dir;
    DataFile* active = nullptr;
    uint64_t active_end = 0;
    {
      util::MutexLock wl(&write_mu_);
      target = last_seq_;
      for (uint32_t id : unsynced_sealed_) {
        if (DataFile* f = files_.Get(id)) files.push_back(f);
      }
      unsynced_sealed_.clear();
      if (active_ != nullptr) {
        files.push_back(active_);
        active = active_;
        active_end = active_->size();
      }
      sync_dir = std::exchange(dir_dirty_, false);
    }
    Status s;
    for (DataFile* f : files) {
      if (s.ok()) s = f->Sync();
    }
    if (s.ok() && sync_dir) s = env_->SyncDir(dir_);
    if (s.ok() && active != nullptr) {
      util::MutexLock wl(&write_mu_);
      if (!closed_) AppendSyncMarkLocked(active, active_end);
    }
    syncs_.fetch_add(1, std::memory_order_relaxed);
    l.lock();
    sync_running_ = false;
    last_flush_nanos_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - flush_started)
                            .count();
    if (s.ok()) {
      synced_seq_ = std::max(synced_seq_, target);
      gather_from_ = sync_arrivals_.load(std::memory_order_relaxed);
      gather_count_ = std::count_if(sync_waiting_.begin(), sync_waiting_.end(),
                                    [&](uint64_t w) { return w <= synced_seq_; });
    } else {
      // After a failed flush the kernel may have dropped the dirty pages; a retry could
      // report success for data that is gone. Refuse further writes instead.
      sync_error_ = s;
      l.unlock();
      {
        util::MutexLock wl(&write_mu_);
        if (bg_error_.ok()) bg_error_ = s;
      }
      l.lock();
    }
    sync_cv_.notify_all();
  }
  return Status::OK();
}

void DBImpl::NoteSyncRequestLocked() {
  // A flush writes back every dirty page whole, and a page written through the mapping is
  // dirty whole: on 2 MiB pages a flush writes up to 4 MiB more than was appended since the
  // last one (a partly written page at each end), where 4 KiB pages add at most 8 KiB. Huge
  // pages therefore pay only while flushes come at least kHugePageSyncSpacing apart, where
  // that is at most half as much again. Closer flushes (a lightly loaded store synced every
  // second, or one that syncs every write) switch them off, from the next 2 MiB of the
  // active file on and for new files; flushes far apart again switch them back on.
  constexpr uint64_t kHugePageSyncSpacing = 8 << 20;
  const bool far_apart = appended_ - appended_at_sync_request_ >= kHugePageSyncSpacing;
  appended_at_sync_request_ = appended_;
  if (!HugePagesAtOpen()) return;  // never on huge pages
  huge_pages_ = far_apart;
  if (active_ != nullptr) active_->SetHugePages(far_apart);
}

bool DBImpl::NeedsSyncMarkLocked(uint64_t synced_end) const {
  return active_->format_version() >= 2 && last_seq_ != 0 &&
         synced_end > (sync_mark_file_ == active_->id() ? sync_mark_end_ : format::kFileHeaderSize);
}

void DBImpl::AppendSyncMarkLocked(const DataFile* file, uint64_t synced_end) {
  // A file sealed meanwhile takes no more bytes (and the next flush covers the new one).
  if (file == nullptr || file != active_ || !active_->writable() ||
      !NeedsSyncMarkLocked(synced_end)) {
    return;
  }
  const uint64_t offset = active_->size();
  const uint64_t n = format::kSyncMarkSize;
  // Never a rotation for a mark: the next flush writes one in the new file.
  if (offset + n > std::min<uint64_t>(options_.max_file_size, active_->capacity())) return;
  if (!bg_error_.ok() || !active_->Reserve(n).ok()) return;
  format::EncodeSyncMark(active_->MappedForWrite(offset, n), last_seq_, synced_end);
  active_->Commit(n);
  CountAppendedLocked(n, 0, 0);  // in bytes written; like a file header, not in dead bytes
  sync_mark_file_ = active_->id();
  sync_mark_end_ = offset + n;
}

Status DBImpl::Sync() {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  uint64_t seq;
  {
    util::MutexLock l(&write_mu_);
    if (closed_) return Status::Closed();
    if (options_.read_only) return Status::OK();
    NoteSyncRequestLocked();
    seq = last_seq_;
  }
  // Every write since the last flush raised last_seq_, and the flush that covers it also
  // takes the files sealed and the directory entries created meanwhile.
  return SyncUpTo(seq);
}

void DBImpl::SyncLoop() {
  std::unique_lock l(sync_mu_);
  while (!stop_sync_thread_) {
    stop_cv_.wait_for(l, std::chrono::milliseconds(options_.sync_interval_ms),
                      [this] { return stop_sync_thread_; });
    if (stop_sync_thread_) break;
    const uint64_t target = written_seq_.load(std::memory_order_acquire);
    if (target > synced_seq_ && sync_error_.ok()) {
      l.unlock();
      {
        util::MutexLock wl(&write_mu_);
        NoteSyncRequestLocked();
      }
      (void)SyncUpTo(target);  // a failure is recorded in sync_error_ and bg_error_
      l.lock();
    }
  }
}

}  // namespace bitcask::engine
