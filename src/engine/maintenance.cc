// DBImpl's background work: the maintenance thread writes the hint file of each sealed file,
// checks the triggers of automatic merges, and reaps expired keys.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <memory>
#include <shared_mutex>

#include "engine/db_impl.h"
#include "engine/db_internal.h"
#include "engine/hint.h"
#include "engine/recovery.h"
#include "util/hash.h"

namespace bitcask::engine {

namespace {

// The local hour (0-23) at a time since the Unix epoch.
int LocalHour(uint64_t unix_ms) {
  const std::time_t now = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm;
  localtime_r(&now, &tm);
  return tm.tm_hour;
}

bool InWindow(int start, int end, int hour) {
  if (start < 0 || end < 0) return true;
  if (start <= end) return hour >= start && hour < end;
  return hour >= start || hour < end;  // wraps past midnight
}

}  // namespace

// ---- Hints --------------------------------------------------------------------------------

void DBImpl::QueueHint(uint32_t id) {
  {
    std::lock_guard l(maintenance_mu_);
    hints_pending_.push_back(id);
  }
  maintenance_cv_.notify_one();
}

Status DBImpl::WriteHint(uint32_t id) {
  // Caller holds merge_mu_, so the file cannot be merged away meanwhile.
  const DataFile* f = files_.Get(id);
  if (f == nullptr || f->writable()) return Status::OK();
  uint64_t covered = 0;
  if (HintCoveredSize(env_, HintFileName(dir_, id), &covered) && covered == f->size()) {
    return Status::OK();
  }
  HintWriter hint(env_, dir_, id);
  Status s = hint.Open();
  if (!s.ok()) return s;
  uint64_t max_seq = 0;
  ScanSummary summary;
  Status add;
  s = ScanRecords(
      f->base(), format::kFileHeaderSize, f->size(), f->path(), TailRule{}, RecoveryMode::kStrict,
      [&](const format::RecordView& rec, uint64_t offset) {
        max_seq = std::max(max_seq, rec.seq);
        if (add.ok()) {
          add = hint.Add(HintEntry{rec.key, static_cast<uint32_t>(offset),
                                   static_cast<uint32_t>(rec.size), rec.expire_at_ms,
                                   rec.tombstone()});
        }
      },
      [](uint64_t, uint64_t, const std::string&) {}, &summary);
  if (s.ok()) s = add;
  // The records go to disk before the hint that lists them: a hint that outlived a power cut
  // its records did not would point the keydir at pages never written back.
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = hint.Finish(summary.valid_end, max_seq);
  return s;
}

// ---- Background work ----------------------------------------------------------------------

bool DBImpl::AutoMergeDue(const std::vector<FileStats>& files) const {
  if (!options_.auto_merge) return false;
  if (!InWindow(options_.merge_window_start_hour, options_.merge_window_end_hour,
                LocalHour(NowMillis()))) {
    return false;
  }
  uint64_t total_dead = 0;
  bool due = false;
  for (const FileStats& fs : files) {
    if (fs.active) continue;
    total_dead += fs.dead_bytes;
    if ((options_.merge_trigger_fragmentation > 0 &&
         fs.fragmentation() >= options_.merge_trigger_fragmentation) ||
        (options_.merge_trigger_dead_bytes > 0 &&
         fs.dead_bytes >= options_.merge_trigger_dead_bytes)) {
      due = true;
    }
  }
  return due || (options_.merge_trigger_total_dead_bytes > 0 &&
                 total_dead >= options_.merge_trigger_total_dead_bytes);
}

Status DBImpl::AutoMergeIfDue() {
  std::vector<FileStats> files;
  {
    util::MutexLock wl(&write_mu_);
    if (!closed_) files = FileStatsList();
  }
  if (!AutoMergeDue(files)) return Status::OK();
  const Options& o = options_;
  // A full file is never small, whatever the two settings say: with max_file_size under
  // merge_small_file_threshold every merge would otherwise rewrite the whole store.
  const uint64_t small = std::min(o.merge_small_file_threshold, o.max_file_size / 2);
  return MergeFiles([&o, small](const FileStats& fs) {
    return (o.merge_threshold_fragmentation > 0 &&
            fs.fragmentation() >= o.merge_threshold_fragmentation) ||
           (o.merge_threshold_dead_bytes > 0 && fs.dead_bytes >= o.merge_threshold_dead_bytes) ||
           fs.total_bytes < small;
  });
}

void DBImpl::MaintenanceLoop() {
  using SteadyClock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.merge_check_interval_ms);
  // A file that fills up brings a check of the merge triggers forward to this long after the
  // last one. Only the interval's checks reap expired keys (a scan of every key with a TTL).
  const auto after_seal = std::min<SteadyClock::duration>(interval, std::chrono::seconds(1));
  auto last_check = SteadyClock::now();
  auto next_interval = last_check + interval;
  auto next_check = next_interval;
  // Set when an automatic merge failed (damage in an input, a full disk): until the next
  // interval's check, files filling up bring no check forward, so that a merge that cannot
  // succeed is not tried (reading its inputs again) every second.
  bool failed = false;
  std::unique_lock l(maintenance_mu_);
  while (!stop_maintenance_) {
    maintenance_cv_.wait_until(l, next_check,
                               [this] { return stop_maintenance_ || !hints_pending_.empty(); });
    bool sealed = false;
    while (!stop_maintenance_ && !hints_pending_.empty()) {
      const uint32_t id = hints_pending_.front();
      hints_pending_.pop_front();
      sealed = true;
      l.unlock();
      {
        std::lock_guard m(merge_mu_);
        (void)WriteHint(id);  // a failure costs only open time later; the data file is intact
      }
      l.lock();
    }
    // The writes that filled a file may have left older files mostly dead: the triggers are
    // checked then too (at most once a second), not only every interval, or a burst of
    // overwrites would pile dead records on the disk for the rest of an interval (minutes,
    // by default) at whatever rate it writes.
    if (sealed && options_.auto_merge && !failed) {
      next_check = std::min(next_check, last_check + after_seal);
    }
    const auto now = SteadyClock::now();
    if (stop_maintenance_ || now < next_check) continue;
    const bool whole_interval = now >= next_interval;
    l.unlock();
    if (whole_interval) ReapExpired();
    failed = !AutoMergeIfDue().ok();
    l.lock();
    last_check = SteadyClock::now();
    if (whole_interval) next_interval = last_check + interval;
    next_check = next_interval;
  }
}

void DBImpl::ReapExpired() {
  const uint64_t now = NowMillis();
  std::vector<std::pair<std::string, KeyLocation>> expired;
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    KeydirShard& shard = keydir_.shard(i);
    expired.clear();
    {
      std::shared_lock l(shard.mu);
      if (shard.closed || shard.expiring() == 0) continue;
      shard.ForEach([&](std::string_view key, const KeyLocation& loc) {
        format::RecordView rec;
        if (loc.has_expiry && ReadRecordLocked(loc, key, &rec).ok() && rec.expire_at_ms <= now) {
          expired.emplace_back(key, loc);
        }
      });
    }
    if (expired.empty()) continue;
    // Under the writer's lock too: a listener hears of the drop in the store's one order
    // of writes, never after a write that gave the key a new value.
    util::MutexLock wl(&write_mu_);
    std::unique_lock l(shard.mu);
    for (const auto& [key, loc] : expired) {
      // Only if unchanged since: a write may have given the key a new value meanwhile.
      if (!shard.RemoveIf(key, util::HashKey(key), loc)) continue;
      AddDeadBytes(loc);
      if (options_.commit_listener != nullptr) {
        const CommittedWrite w{CommittedWrite::Kind::kExpired, key, {}, 0};
        options_.commit_listener->OnCommit(std::span(&w, 1));
      }
    }
  }
}

}  // namespace bitcask::engine
