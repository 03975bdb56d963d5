// Merge (compaction): rewriting the live records of immutable files into new ones.
//
// Why a merge keeps the store correct. Recovery applies files in id order and lets later
// records win, so the store relies on one invariant:
//
//   (I) for any key, a record in a file with a higher id is newer than one in a lower id.
//
// A merge copies only records the keydir points at: the newest version of their key at the
// moment of the copy. Every other record of that key then lies in a file with a lower id
// (by I), and every newer one is written after the copy, to the active file. So the outputs
// may take any ids above all existing files as long as the active file's id is higher still:
// the merge seals the active file, reserves a range of ids and gives the new active file an
// id above that range. (I) holds after the merge, whatever subset of files it rewrote, and
// also if it stops half way: an input not yet processed keeps its records, all older than
// the copies of the same keys.
//
// Deletes need care: a tombstone (or an expired record, which recovery treats as one)
// shadows older versions of its key. Dropping it is safe only if every file older than it is
// deleted too. A merge therefore drops such a record only when no file older than it stays
// outside the merge, and otherwise copies it (an expired record as a tombstone). Inputs are
// deleted in ascending id order, so a crash half way through the deletions never leaves an
// older version without the tombstone that hid it.
//
// Crash safety: outputs are written as .tmp files (deleted by Open) and published (fsync,
// rename, hint, directory fsync) before any input is deleted. Until then the inputs hold
// everything; after it, (I) makes outputs and leftover inputs agree.

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

// One output file being written: its data file (in the FileTable from creation on, since
// keydir entries point into it as soon as records are copied) and its hint.
struct MergeOutput {
  DataFile* file = nullptr;
  std::unique_ptr<HintWriter> hint;
  uint64_t max_seq = 0;
};

}  // namespace

uint64_t DBImpl::DropKeysPointingInto(uint32_t file_id) {
  uint64_t dropped = 0;
  std::vector<std::pair<std::string, KeyLocation>> found;
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    KeydirShard& shard = keydir_.shard(i);
    std::unique_lock l(shard.mu);
    found.clear();
    shard.ForEach([&](std::string_view key, const KeyLocation& loc) {
      if (loc.file_id == file_id) found.emplace_back(key, loc);
    });
    for (const auto& [key, loc] : found) dropped += shard.RemoveIf(key, util::HashKey(key), loc);
  }
  keys_dropped_unreadable_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

Status DBImpl::Merge() {
  // Everything written so far, the active file included (it is sealed first).
  return MergeFiles([](const FileStats&) { return true; });
}

Status DBImpl::MergeFiles(const std::function<bool(const FileStats&)>& select) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  std::lock_guard merge_lock(merge_mu_);
  Status s = MergeFilesLocked(select);
  // A closed or read-only store refuses to merge: that is no failed merge.
  if (!s.IsClosed() && !options_.read_only) {
    std::lock_guard l(merge_status_mu_);
    if (s.ok()) {
      last_merge_error_.clear();
    } else {
      merge_failures_++;
      last_merge_error_ = s.ToString();
    }
  }
  return s;
}

Status DBImpl::MergeFilesLocked(const std::function<bool(const FileStats&)>& select) {
  const auto started = std::chrono::steady_clock::now();

  // 1. Pick the inputs, reserve output ids, seal the active file.
  std::vector<uint32_t> inputs;
  uint32_t next_output = 0, output_limit = 0;
  uint32_t oldest_kept = UINT32_MAX;  // oldest immutable file that stays outside the merge
  uint64_t input_bytes = 0;
  {
    util::MutexLock l(&write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    uint64_t immutable_bytes = 0;
    for (const DataFile* f : files_.List()) {
      if (!f->published()) {
        return Status::IOError(f->disk_path() + ": an earlier merge failed and could not take " +
                               "back this output of it; reopen the store to merge again");
      }
      immutable_bytes += f->size();
    }
    // The inputs, picked before the active file is sealed below (it is a candidate like any
    // other file then; the new active file is not).
    uint64_t live = 0;
    for (FileStats fs : FileStatsList()) {
      fs.active = false;
      if (select(fs)) {
        inputs.push_back(fs.file_id);
        input_bytes += fs.total_bytes;
        live += fs.total_bytes - std::min(fs.dead_bytes, fs.total_bytes);
      } else {
        oldest_kept = std::min(oldest_kept, fs.file_id);
      }
    }
    // A merge writes the live records of its inputs before it deletes any of them: without
    // room for them it would fail half way, having taken the last of the disk from writers.
    uint64_t free_bytes = 0;
    if (env_->FreeSpace(dir_, &free_bytes).ok() && free_bytes < live) {
      return Status::FromErrno(dir_ + ": a merge needs about " + std::to_string(live >> 20) +
                                   " MiB free to write what it keeps, and " +
                                   std::to_string(free_bytes >> 20) + " MiB are",
                               ENOSPC);
    }
    // Outputs hold at most what the inputs hold; one file per max_file_size, plus slack for
    // records that do not fill a file. A merge that runs out stops early (see above).
    const uint64_t reserve = immutable_bytes / options_.max_file_size + 2;
    if (uint64_t{next_file_id_} + reserve + 1 > kMaxFileId) {
      return Status::NotSupported(dir_ + ": data file ids are exhausted");
    }
    next_output = next_file_id_;
    output_limit = next_file_id_ + static_cast<uint32_t>(reserve);
    next_file_id_ = output_limit;
    if (Status s = RotateLocked(0); !s.ok()) return s;
  }
  if (inputs.empty()) return Status::OK();

  // 2. Copy the live records of each input, oldest first.
  std::vector<uint32_t> done;  // inputs whose every record was dealt with
  std::vector<DataFile*> outputs;
  MergeOutput out;
  Status status;

  auto finish_output = [&]() -> Status {
    if (out.file == nullptr) return Status::OK();
    DataFile* f = out.file;
    out.file = nullptr;
    // A sync mark covering the whole output: it is published only once flushed, so the mark
    // is true by the time anyone reads it, and damage anywhere in it is corruption.
    Status s;
    if (out.max_seq != 0 && f->size() + format::kSyncMarkSize <= f->capacity()) {
      char mark[format::kSyncMarkSize];
      format::EncodeSyncMark(mark, out.max_seq, f->size());
      s = f->Append({std::string_view(mark, sizeof mark)});
    }
    Hook("merge:output-written");
    if (s.ok()) s = f->Seal(/*sync=*/true);
    if (s.ok()) s = f->Publish();
    if (s.ok()) s = out.hint->Finish(f->size(), out.max_seq);
    out.hint.reset();
    if (s.ok()) s = env_->SyncDir(dir_);
    return s;
  };
  auto start_output = [&](uint64_t record_size) -> Status {
    if (next_output >= output_limit) return Status::Busy("merge ran out of reserved file ids");
    std::unique_ptr<DataFile> file;
    const uint64_t capacity =
        std::max<uint64_t>(options_.max_file_size, format::kFileHeaderSize + record_size);
    // The hint first: a writer that fails removes its file, as Create does.
    auto hint = std::make_unique<HintWriter>(env_, dir_, next_output);
    if (Status s = hint->Open(); !s.ok()) return s;
    // Written start to end and flushed once: huge pages cost no extra write-back here.
    Status s = DataFile::Create(env_, dir_, next_output, capacity, &file, /*temporary=*/true,
                                /*huge_pages=*/true);
    if (!s.ok()) return s;
    out.hint = std::move(hint);
    next_output++;
    out.file = file.get();
    out.max_seq = 0;
    outputs.push_back(file.get());
    files_.Add(std::move(file));
    return Status::OK();
  };
  // Appends a record to the current output (starting a new one when full) and returns where
  // it went. The copy is committed on its own: a record that was part of a batch loses its
  // "batch continues" flag (and gets a new header checksum), or a scan of the output would
  // wait for a last record that may not have been copied.
  auto copy = [&](const format::RecordView& rec, std::string_view header, bool tombstone,
                  KeyLocation* where) -> Status {
    if (out.file == nullptr || out.file->size() + rec.size > options_.max_file_size) {
      if (Status s = finish_output(); !s.ok()) return s;
      if (Status s = start_output(rec.size); !s.ok()) return s;
    }
    char patched[format::kRecordHeaderSize];
    if (rec.batch_continues()) {
      format::EncodeRecordHeader(patched, rec.seq, rec.expire_at_ms,
                                 rec.flags & ~format::kBatchContinues, rec.key, rec.value);
      header = std::string_view(patched, sizeof patched);
    }
    const uint64_t offset = out.file->size();
    if (Status s = out.file->Append({header, rec.key, rec.value}); !s.ok()) return s;
    *where = KeyLocation{out.file->id(), static_cast<uint32_t>(offset),
                         static_cast<uint32_t>(rec.size), rec.expire_at_ms != 0 && !tombstone};
    out.max_seq = std::max(out.max_seq, rec.seq);
    return out.hint->Add(HintEntry{rec.key, where->offset, where->size,
                                   tombstone ? 0 : rec.expire_at_ms, tombstone});
  };

  std::vector<uint32_t> scanned;  // inputs whose records were read, done or not
  for (uint32_t id : inputs) {
    if (closing_) break;
    scanned.push_back(id);
    DataFile* in = files_.Get(id);
    // Records that hide older versions of their key must stay if an older file stays.
    const bool keep_deletes = oldest_kept < id;
    ScanSummary summary;
    uint64_t skipped_to = 0;  // the end of the last damaged region skipped
    // In the store's recovery mode: a store opened to salvage it merges what still verifies
    // into sound files (damage there fails a strict open, and a strict merge, forever).
    Status s = ScanRecords(
        in->base(), format::kFileHeaderSize, in->size(), in->path(), TailRule{},
        options_.recovery_mode,
        [&](const format::RecordView& rec, uint64_t offset) {
          if (!status.ok()) return;
          const uint64_t hash = util::HashKey(rec.key);
          KeydirShard& shard = keydir_.ShardFor(hash);
          const KeyLocation here{id, static_cast<uint32_t>(offset), static_cast<uint32_t>(rec.size),
                                 rec.expire_at_ms != 0};
          KeyLocation current;
          bool present;
          {
            std::shared_lock sl(shard.mu);
            present = shard.Find(rec.key, hash, &current);
          }
          const bool live = present && !rec.tombstone() && current == here;
          if (live && !Expired(rec.expire_at_ms)) {
            KeyLocation moved;
            status = copy(rec, std::string_view(in->base() + offset, format::kRecordHeaderSize),
                          false, &moved);
            if (!status.ok()) return;
            std::unique_lock xl(shard.mu);
            if (!shard.ReplaceIf(rec.key, hash, here, moved)) AddDeadBytes(moved);  // raced a write
            return;
          }
          if (live) {  // expired: out of the keydir, and from now on it reads as a delete
            std::unique_lock xl(shard.mu);
            shard.RemoveIf(rec.key, hash, here);
          } else if (present) {
            return;  // a newer record of the key hides this one
          }
          // The key is absent: this record is a delete (a tombstone or an expired value) or
          // a value some later delete removed. Only deletes matter, and only if older files
          // stay behind.
          if (!keep_deletes || (!rec.tombstone() && !Expired(rec.expire_at_ms))) return;
          KeyLocation kept;
          if (rec.tombstone()) {
            status = copy(rec, std::string_view(in->base() + offset, format::kRecordHeaderSize),
                          true, &kept);
          } else {
            // An expired value becomes a tombstone: same key and sequence, no value.
            format::RecordView t = rec;
            t.expire_at_ms = 0;
            t.flags = format::kTombstone;
            t.value = {};
            t.size = format::RecordSize(rec.key.size(), 0);
            char header[format::kRecordHeaderSize];
            format::EncodeRecordHeader(header, t.seq, 0, t.flags, t.key, {});
            status = copy(t, std::string_view(header, sizeof header), true, &kept);
          }
          if (status.ok()) AddDeadBytes(kept);  // a tombstone is never live data
        },
        [&](uint64_t offset, uint64_t length, const std::string&) {
          skipped_to = std::max(skipped_to, offset + length);
        },
        &summary);
    // Every byte below size() was read as records (or, in salvage mode, as damage) when the
    // file was written or opened, or a hint vouched for them: a scan that ends before it met
    // zeros where another program cut or cleared the file. A strict merge must not delete
    // the records it did not find; a salvage merge takes the zeros for damage.
    bool damaged = summary.corrupt_regions > 0;
    if (s.ok() && std::max(summary.valid_end, skipped_to) < in->size()) {
      if (options_.recovery_mode == RecoveryMode::kSkipCorrupt) {
        damaged = true;
      } else {
        s = Status::Corruption(in->path() + " offset " + std::to_string(summary.valid_end) +
                               ": the records end here now, but went on to offset " +
                               std::to_string(in->size()) +
                               " when the store read them; the file changed under the store");
      }
    }
    if (status.ok()) status = s;
    if (!status.ok()) break;
    // Every record the scan delivered was copied or let go; a key that still points into
    // a damaged input points at a record that did not verify (known from a hint file, which
    // is trusted without reading the records): it read as Corruption, and goes with the file.
    if (damaged) DropKeysPointingInto(id);
    done.push_back(id);
  }
  // Out of reserved ids is not an error: the inputs not reached stay as they are.
  if (status.IsBusy()) status = Status::OK();

  // 3. Publish the outputs. Keydir entries already point into them, so this happens even if
  // the merge failed; the inputs are deleted only if it all succeeded.
  Status s = finish_output();
  if (status.ok()) status = s;
  if (!status.ok()) {
    // An output that could not be published (a full disk, most often) would be deleted by
    // the next Open, and the keydir points into it: take it back.
    AbandonOutputs(scanned, outputs);
    return status;
  }
  Hook("merge:outputs-published");

  // 4. Delete the inputs, oldest first. No keydir entry points into them any more.
  std::vector<std::unique_ptr<DataFile>> removed = DetachFiles(done);
  uint64_t output_bytes = 0;
  for (const DataFile* f : outputs) output_bytes += f->size();
  for (const auto& f : removed) {
    // The hint goes first: a hint without its data file would be meaningless.
    const std::string hint = HintFileName(dir_, f->id());
    if (PathExists(env_, hint)) status = env_->RemoveFile(hint);
    if (status.ok()) status = env_->RemoveFile(f->path());
    if (!status.ok()) break;
    Hook("merge:input-deleted");
  }
  if (status.ok()) status = env_->SyncDir(dir_);
  removed.clear();  // unmaps

  merges_.fetch_add(1, std::memory_order_relaxed);
  merge_micros_.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count()),
      std::memory_order_relaxed);
  if (input_bytes > output_bytes) {
    merge_reclaimed_.fetch_add(input_bytes - output_bytes, std::memory_order_relaxed);
  }
  Hook("merge:done");
  return status;
}

std::vector<std::unique_ptr<DataFile>> DBImpl::DetachFiles(std::span<const uint32_t> ids) {
  // One pass over every shard lock waits out readers that found a location in them just
  // before the keydir stopped pointing there.
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    std::unique_lock sl(keydir_.shard(i).mu);
  }
  std::vector<std::unique_ptr<DataFile>> removed;
  // No flush may be running on a file we are about to destroy.
  std::unique_lock sl(sync_mu_);
  sync_cv_.wait(sl, [this] { return !sync_running_; });
  util::MutexLock l(&write_mu_);
  for (uint32_t id : ids) {
    std::erase(unsynced_sealed_, id);
    removed.push_back(files_.Remove(id));
  }
  return removed;
}

void DBImpl::AbandonOutputs(std::span<const uint32_t> inputs, std::span<DataFile* const> outputs) {
  std::vector<uint32_t> abandoned;
  for (const DataFile* f : outputs) {
    if (!f->published()) abandoned.push_back(f->id());
  }
  if (abandoned.empty()) return;
  auto abandoned_file = [&](uint32_t id) -> const DataFile* {
    return std::find(abandoned.begin(), abandoned.end(), id) != abandoned.end() ? files_.Get(id)
                                                                                : nullptr;
  };
  // A copied record has its key and sequence number in the output and in an input, which
  // is still here (the inputs go only after a merge succeeds): point the key back at it,
  // unless a write replaced it since.
  for (uint32_t id : inputs) {
    const DataFile* in = files_.Get(id);
    if (in == nullptr) continue;
    ScanSummary summary;
    // In the mode the merge read it in: a salvage merge copied records past damage, and
    // their keys must come back too (or the output stays, and no merge runs until a reopen).
    // A scan that stops at damage gives back what it read: Referenced then keeps the output.
    (void)ScanRecords(
        in->base(), format::kFileHeaderSize, in->size(), in->path(), TailRule{},
        options_.recovery_mode,
        [&](const format::RecordView& rec, uint64_t offset) {
          if (rec.tombstone()) return;
          const uint64_t hash = util::HashKey(rec.key);
          KeydirShard& shard = keydir_.ShardFor(hash);
          std::unique_lock xl(shard.mu);
          KeyLocation current;
          if (!shard.Find(rec.key, hash, &current)) return;
          const DataFile* out = abandoned_file(current.file_id);
          format::RecordView copy;
          if (out == nullptr ||
              format::DecodeRecord(out->base() + current.offset, current.size, &copy) !=
                  format::DecodeResult::kOk ||
              copy.seq != rec.seq) {
            return;
          }
          shard.ReplaceIf(rec.key, hash, current,
                          KeyLocation{id, static_cast<uint32_t>(offset),
                                      static_cast<uint32_t>(rec.size), rec.expire_at_ms != 0});
        },
        [](uint64_t, uint64_t, const std::string&) {}, &summary);
  }
  // Only what nothing points into any more can go. Anything else stays, unpublished: Open
  // deletes it (its records are in the inputs), and no merge runs until then (MergeFiles
  // refuses while a file is unpublished).
  std::erase_if(abandoned, [&](uint32_t id) { return Referenced(*files_.Get(id)); });
  for (const auto& f : DetachFiles(abandoned)) (void)env_->RemoveFile(f->disk_path());
}

bool DBImpl::Referenced(const DataFile& f) {
  bool referenced = false;
  ScanSummary summary;
  const Status scanned = ScanRecords(
      f.base(), format::kFileHeaderSize, f.size(), f.path(), TailRule{}, RecoveryMode::kStrict,
      [&](const format::RecordView& rec, uint64_t offset) {
        if (referenced || rec.tombstone()) return;
        const uint64_t hash = util::HashKey(rec.key);
        const KeydirShard& shard = keydir_.ShardFor(hash);
        std::shared_lock sl(shard.mu);
        KeyLocation current;
        referenced = shard.Find(rec.key, hash, &current) && current.file_id == f.id() &&
                     current.offset == offset;
      },
      [](uint64_t, uint64_t, const std::string&) {}, &summary);
  // Records past damage could not be looked at: one of them may be the newest of its key.
  return referenced || !scanned.ok();
}

std::vector<FileStats> DBImpl::FileStatsList() const {
  std::vector<FileStats> out;
  for (const DataFile* f : files_.List()) {
    FileStats fs;
    fs.file_id = f->id();
    fs.total_bytes = f->size();
    fs.dead_bytes = f->dead_bytes.load(std::memory_order_relaxed);
    fs.active = f == active_;
    out.push_back(fs);
  }
  return out;
}

}  // namespace bitcask::engine
