// DBImpl::Recover: opening a store. Lists the directory, loads each data file from its hint
// or by scanning it, cuts an unfinished tail, and builds the key directory.

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

// Recovery

Status DBImpl::Recover() {
  const auto start = std::chrono::steady_clock::now();
  Status s;
  if (options_.read_only) {
    if (!PathExists(env_, dir_)) {
      return Status::InvalidArgument(dir_ +
                                     ": no such store (a read-only open does not create one)");
    }
  } else {
    if (!options_.create_if_missing && !PathExists(env_, dir_)) {
      return Status::InvalidArgument(dir_ + " does not exist and create_if_missing is false");
    }
    bool created;
    if (s = env_->CreateDir(dir_, &created); !s.ok()) return s;
    if (s = DirLock::Acquire(env_, dir_, &lock_); !s.ok()) return s;
  }

  std::vector<std::string> names;
  if (s = env_->ListDir(dir_, &names); !s.ok()) return s;
  for (const std::string& name : names) {
    if (name.ends_with(".tmp") && !options_.read_only) {
      // Left by an interrupted merge; the files it was replacing are still here.
      if (s = env_->RemoveFile(dir_ + "/" + name); !s.ok()) return s;
    }
  }
  std::vector<uint32_t> ids = DataFileIds(names);
  listed_ = ids;
  OpenHook("open:listed");
  if (options_.error_if_exists && !ids.empty()) {
    return Status::InvalidArgument(dir_ + ": a store already exists here (error_if_exists is set)");
  }

  {
    util::MutexLock l(&write_mu_);
    next_file_id_ = ids.empty() ? 1 : ids.back() + 1;
  }
  if (s = DropUnwrittenNewest(&ids); !s.ok()) return s;

  std::vector<LoadPlan> plans;
  for (size_t i = 0; i < ids.size(); i++) {
    LoadPlan plan;
    if (s = PlanDataFile(ids[i], i + 1 == ids.size(), &plan); !s.ok()) return s;
    plans.push_back(std::move(plan));
  }
  if (s = DropUnwrittenOlder(&plans); !s.ok()) return s;
  OpenHook("open:mapped");

  // Size the keydir once for the keys the hint files announce (an upper bound: overwritten
  // and deleted keys count too), then give back what was overestimated.
  uint64_t announced = 0, to_scan = 0;
  for (const LoadPlan& p : plans) {
    if (p.hint) announced += p.hint->entries();
    to_scan += p.file->size() - (p.hint ? p.hint->data_size() : 0);
  }
  if (announced > 0) {
    for (unsigned i = 0; i < Keydir::kNumShards; i++) {
      keydir_.shard(i).Reserve(announced / Keydir::kNumShards * 11 / 10 + 16);
    }
  }
  // Worth threads only for a large store (a thread per core, up to 4).
  const unsigned parts = announced + to_scan / 64 < 200000
                             ? 1u
                             : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<LoadResult> results(parts);
  {
    std::vector<std::thread> helpers;
    for (unsigned part = 1; part < parts; part++) {
      helpers.emplace_back([&, part] { ApplyFiles(plans, part, parts, &results[part]); });
    }
    ApplyFiles(plans, 0, parts, &results[0]);
    for (auto& t : helpers) t.join();
  }
  uint64_t max_seq = 0;
  for (const LoadResult& r : results) {
    if (!r.status.ok()) return r.status;
    max_seq = std::max(max_seq, r.max_seq);
  }
  for (unsigned i = 0; i < Keydir::kNumShards; i++) keydir_.shard(i).ShrinkToFit();

  // Every part walked the same records, so part 0's view of each file's end stands for all.
  for (size_t i = 0; i < plans.size(); i++) {
    const LoadPlan& p = plans[i];
    const ScanSummary& summary = results[0].summaries[i];
    corrupt_bytes_skipped_ += summary.skipped_bytes;
    if (summary.valid_end < p.file->size()) {
      if (p.file->writable()) {
        tail_bytes_truncated_ += p.file->size() - summary.valid_end;
        if (s = p.file->TruncateTo(summary.valid_end); !s.ok()) return s;
      } else if (summary.unfinished_end && !options_.read_only) {
        // An older file a power cut left unflushed at the end (newer ones were not flushed
        // either: no sync mark in them covers it).
        tail_bytes_truncated_ += p.file->size() - summary.valid_end;
        if (s = p.file->CutUnfinishedTail(summary.valid_end); !s.ok()) return s;
      } else {
        p.file->SetValidEnd(summary.valid_end, p.newest || summary.unfinished_end);
      }
    }
    if (p.hint) {
      files_from_hints_++;
    } else if (!p.newest && p.header_ok && !options_.read_only) {
      QueueHint(p.file->id());  // missing or unusable: write a good one in the background
    }
  }
  {
    util::MutexLock l(&write_mu_);
    last_seq_ = max_seq;
  }
  written_seq_.store(max_seq);
  synced_seq_ = max_seq;

  if (!options_.read_only) {
    util::MutexLock l(&write_mu_);
    DataFile* newest = ids.empty() ? nullptr : files_.Get(ids.back());
    // Not one with a page that could not be read (a salvage open skipped it): writes through
    // its mapping would go to the page of zeros that stands for it, and fail.
    if (newest != nullptr && newest->writable() && newest->size() < options_.max_file_size &&
        !newest->faulted()) {
      active_ = newest;
      // Only records written from now on call for a new sync mark (an open and close with no
      // writes leaves the file as it was).
      sync_mark_file_ = newest->id();
      sync_mark_end_ = newest->size();
    } else {
      if (newest != nullptr && newest->writable()) {
        if (s = newest->Seal(/*sync=*/false); !s.ok()) return s;
      }
      if (s = RotateLocked(0); !s.ok()) return s;
    }
    // A process killed before flushing (or whose flush failed) can leave pages of older
    // files, and the names of new ones, only in the page cache. The first flush from here on
    // covers them too, before a sync mark vouches for them. A file with a complete hint was
    // flushed before its hint was written.
    for (const LoadPlan& p : plans) {
      const bool flushed = p.hint && p.hint->data_size() == p.file->size();
      if (p.file != active_ && !flushed) unsynced_sealed_.push_back(p.file->id());
    }
    dir_dirty_ = true;
    if (options_.sync_mode == SyncMode::kInterval)
      sync_thread_ = std::thread([this] { SyncLoop(); });
    maintenance_thread_ = std::thread([this] { MaintenanceLoop(); });
  }
  open_micros_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - start)
                                           .count());
  return Status::OK();
}

bool DBImpl::MappingFaulted() const {
  const std::vector<DataFile*> files = files_.List();
  return std::any_of(files.begin(), files.end(), [](const DataFile* f) { return f->faulted(); });
}

bool DBImpl::ChangedSinceListed() const {
  std::vector<std::string> names;
  if (!env_->ListDir(dir_, &names).ok()) return false;
  if (DataFileIds(names) != listed_) return true;
  // A read-only file is mapped as long as the file was when opened.
  for (uint32_t id : listed_) {
    const DataFile* f = files_.Get(id);
    if (f == nullptr) continue;
    FileDescriptor fd;
    uint64_t size = 0;
    if (!OpenExisting(env_, f->path(), O_RDONLY, &fd).ok() ||
        !env_->FileSize(fd.get(), f->path(), &size).ok() || size != f->capacity()) {
      return true;
    }
  }
  return false;
}

namespace {
std::function<void(std::string_view)>& OpenTestHook() {
  static std::function<void(std::string_view)> hook;
  return hook;
}
}  // namespace

void DBImpl::TEST_SetOpenHook(std::function<void(std::string_view)> hook) {
  OpenTestHook() = std::move(hook);
}

void DBImpl::OpenHook(std::string_view point) {
  if (OpenTestHook()) OpenTestHook()(point);
}

Status DBImpl::DropUnwrittenNewest(std::vector<uint32_t>* ids) {
  while (!ids->empty()) {
    const uint32_t id = ids->back();
    std::unique_ptr<DataFile> f;
    if (Status s = DataFile::Open(env_, dir_, id, /*writable=*/false, 0, &f); !s.ok()) return s;
    const uint64_t size = f->size();
    if (FindNextNonZero(f->base(), 0, size) != size) return Status::OK();
    // Not even a header: a crash right after the file was made, before its header reached
    // the disk (no record was ever acknowledged in it). The file before it is the newest
    // again, to append to: a store on a full disk opens without asking for a new file.
    tail_bytes_truncated_ += size;
    f.reset();
    if (!options_.read_only) {
      if (Status s = env_->RemoveFile(DataFileName(dir_, id)); !s.ok()) return s;
    }
    ids->pop_back();
  }
  return Status::OK();
}

Status DBImpl::DropUnwrittenOlder(std::vector<LoadPlan>* plans) {
  for (size_t i = plans->size(); i-- > 0;) {
    LoadPlan& p = (*plans)[i];
    if (!p.unwritten) continue;
    const bool marked_later = std::any_of(
        plans->begin() + static_cast<std::ptrdiff_t>(i) + 1, plans->end(),
        [](const LoadPlan& later) { return !later.unwritten && later.file->HasSyncMark(); });
    if (marked_later) {
      // A flush covered this file: its header was written and is lost. Damage.
      if (options_.recovery_mode != RecoveryMode::kSkipCorrupt) return p.header_status;
      corrupt_bytes_skipped_ += std::min<uint64_t>(p.file->size(), format::kFileHeaderSize);
      p.file->set_format_version(0);
      p.header_ok = false;
      files_.Add(std::move(p.unwritten));
      continue;
    }
    tail_bytes_truncated_ += p.file->size();
    const std::string path = p.file->path();
    p.unwritten.reset();
    if (!options_.read_only) {
      if (Status s = env_->RemoveFile(path); !s.ok()) return s;
    }
    plans->erase(plans->begin() + static_cast<std::ptrdiff_t>(i));
  }
  return Status::OK();
}

Status DBImpl::PlanDataFile(uint32_t id, bool newest, LoadPlan* plan) {
  const bool writable = newest && !options_.read_only;
  std::unique_ptr<DataFile> owned;
  Status s =
      DataFile::Open(env_, dir_, id, writable, options_.max_file_size, &owned, HugePagesAtOpen());
  if (!s.ok()) return s;
  DataFile* f = owned.get();
  const uint64_t size = f->size();
  if (size >= (uint64_t{1} << 32)) {
    return Status::NotSupported(f->path() + " is " + std::to_string(size) +
                                " bytes; data files are limited to 4 GiB");
  }
  uint16_t version = 0;
  s = format::DecodeFileHeader(std::string_view(f->base(), size), format::kDataMagic, id, f->path(),
                               &version);
  const bool header_ok = s.ok();
  // Shorter than a header, or zeros from end to end: not a byte of it was ever flushed.
  if (!header_ok && !newest &&
      (size < format::kFileHeaderSize || FindNextNonZero(f->base(), 0, size) == size)) {
    plan->unwritten = std::move(owned);
    plan->file = f;
    plan->header_status = s;
    return Status::OK();  // DropUnwrittenOlder decides, once every file is planned
  }
  if (!header_ok) {
    // A file of a newer format is not ours to salvage. A damaged header is 16 bytes of
    // damage: salvage reads the records after it, each with its own checksum, from a file it
    // will not append to (a merge rewrites them under a good header). Check reports it.
    if (options_.recovery_mode != RecoveryMode::kSkipCorrupt || s.IsNotSupported()) return s;
    corrupt_bytes_skipped_ += std::min<uint64_t>(size, format::kFileHeaderSize);
    if (writable) {
      owned.reset();
      if (s = DataFile::Open(env_, dir_, id, /*writable=*/false, 0, &owned); !s.ok()) return s;
      f = owned.get();
    }
  }
  f->set_format_version(version);  // 0 for a damaged header: read without sync marks
  files_.Add(std::move(owned));
  plan->file = f;
  plan->newest = newest;
  plan->header_ok = header_ok;
  // A hint file, where there is a good one, stands for the records it covers; whatever the
  // data file holds past that (appends after the hint was written) is scanned.
  auto hint = std::make_unique<HintReader>();
  if (header_ok && hint->Open(env_, HintFileName(dir_, id), id, size).ok())
    plan->hint = std::move(hint);
  return Status::OK();
}

void DBImpl::ApplyFiles(const std::vector<LoadPlan>& plans, unsigned part, unsigned parts,
                        LoadResult* out) {
  auto mine = [&](uint64_t hash) { return Keydir::ShardIndex(hash) % parts == part; };
  out->summaries.resize(plans.size());
  for (size_t i = 0; i < plans.size(); i++) {
    const LoadPlan& plan = plans[i];
    const DataFile* f = plan.file;
    const uint32_t id = f->id();
    uint64_t start = format::kFileHeaderSize;
    if (plan.hint) {
      // Keydir inserts are cache misses on random slots; keep several in flight by
      // prefetching each entry's slot a few entries before applying it (in order).
      constexpr size_t kAhead = 16;
      struct Pending {
        HintEntry e;
        uint64_t hash;
      };
      std::array<Pending, kAhead> ring;
      size_t head = 0, count = 0;
      auto apply = [&](const Pending& p) {
        ApplyRecovered(p.e.key, p.hash,
                       KeyLocation{id, p.e.offset, p.e.size, p.e.expire_at_ms != 0}, p.e.tombstone,
                       p.e.expire_at_ms);
      };
      plan.hint->ForEach([&](const HintEntry& e) {
        const uint64_t hash = util::HashKey(e.key);
        if (!mine(hash)) return;
        keydir_.ShardFor(hash).Prefetch(hash);
        ring[(head + count) % kAhead] = Pending{e, hash};
        if (++count == kAhead) {
          apply(ring[head]);
          head = (head + 1) % kAhead;
          count--;
        }
      });
      for (; count > 0; count--, head = (head + 1) % kAhead) apply(ring[head]);
      start = plan.hint->data_size();
      out->max_seq = std::max(out->max_seq, plan.hint->max_seq());
    }
    // A newer file's sync mark vouches for this one (only asked when damage is found).
    auto marked_later = [&plans, i] {
      return std::any_of(plans.begin() + static_cast<std::ptrdiff_t>(i) + 1, plans.end(),
                         [](const LoadPlan& p) { return p.file->HasSyncMark(); });
    };
    Status s = ScanRecords(
        f->base(), start, f->size(), f->path(),
        TailRule::For(plan.newest, f->format_version(), marked_later), options_.recovery_mode,
        [&](const format::RecordView& rec, uint64_t offset) {
          out->max_seq = std::max(out->max_seq, rec.seq);
          const uint64_t hash = util::HashKey(rec.key);
          if (!mine(hash)) return;
          ApplyRecovered(rec.key, hash,
                         KeyLocation{id, static_cast<uint32_t>(offset),
                                     static_cast<uint32_t>(rec.size), rec.expire_at_ms != 0},
                         rec.tombstone(), rec.expire_at_ms);
        },
        [](uint64_t, uint64_t, const std::string&) {}, &out->summaries[i]);
    if (!s.ok()) {
      out->status = s;
      return;
    }
  }
}

void DBImpl::ApplyRecovered(std::string_view key, uint64_t hash, const KeyLocation& loc,
                            bool tombstone, uint64_t expire_at_ms) {
  // No shard lock: the DB is not published yet, and each recovery thread has shards of its
  // own. Dead bytes are atomic counters on the files.
  KeydirShard& shard = keydir_.ShardFor(hash);
  KeyLocation old;
  if (tombstone || Expired(expire_at_ms)) {
    // A tombstone, or an expired record, ends every older version of the key.
    AddDeadBytes(loc);
    if (shard.Remove(key, hash, &old)) AddDeadBytes(old);
  } else if (shard.Upsert(key, hash, loc, &old)) {
    AddDeadBytes(old);
  }
}

}  // namespace bitcask::engine
