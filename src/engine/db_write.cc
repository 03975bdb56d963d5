// DBImpl's write path: Put, Delete, Write (batches), Update; appending records to the active
// file, publishing them in the keydir, rotating to a new file.

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

// Writes

namespace {
// Record flags of an op: a tombstone, the codec, and whether more records of the
// same batch follow (the last record of a batch is its commit mark).
uint8_t RecordFlags(bool is_delete, uint8_t codec, bool more_follow) {
  return static_cast<uint8_t>((is_delete ? format::kTombstone : 0) |
                              (more_follow ? format::kBatchContinues : 0) |
                              (codec << format::kCodecShift));
}

// Out of line: the message's strings would cost every put registers otherwise.
[[gnu::cold, gnu::noinline]] Status TtlTooLarge(uint64_t ttl_ms) {
  return Status::InvalidArgument("ttl_ms " + std::to_string(ttl_ms) +
                                 " is too large: now plus it overflows 64-bit milliseconds");
}
}  // namespace

Status DBImpl::Put(std::string_view key, std::string_view value, const WriteOptions& options) {
  uint64_t expire = options.expire_at_ms;
  if (expire == 0 && options.ttl_ms != 0) [[unlikely]] {
    const uint64_t now = NowMillis();
    // It would wrap around to a time long past: the key would vanish at once.
    if (options.ttl_ms > UINT64_MAX - now) return TtlTooLarge(options.ttl_ms);
    expire = now + options.ttl_ms;
  }
  Op op{false, key, value, expire};
  return Timed(put_latency_, [&] { return ApplyOne(op, options.sync); });
}

Status DBImpl::Write(const WriteBatch& batch, const WriteOptions& options) {
  std::vector<Op> ops;
  ops.reserve(batch.Count());
  WriteBatchInternal::ForEach(
      batch,
      [&ops](std::string_view k, std::string_view v, uint64_t expire) {
        ops.push_back(Op{false, k, v, expire});
      },
      [&ops](std::string_view k) {
        ops.push_back(Op{true, k, {}, 0});
      });
  if (ops.empty()) return Status::OK();
  return Timed(batch_latency_, [&] { return Apply(ops, options.sync); });
}

Status DBImpl::Delete(std::string_view key, const WriteOptions& options) {
  Op op{true, key, {}, 0};
  return Timed(delete_latency_, [&] { return ApplyOne(op, options.sync); });
}

Status DBImpl::PrepareOps(std::span<Op> ops, std::vector<std::string>* compressed) const {
  // Validate everything before touching the file: a batch fails whole or not at all.
  uint64_t total = 0;
  for (const Op& op : ops) {
    if (Status s = ValidateKey(op.key); !s.ok()) return s;
    if (Status s = ValidateValue(op.key, op.value); !s.ok()) return s;
    total += format::RecordSize(op.key.size(), op.value.size());
  }
  if (total > kMaxBatchBytes) {
    return Status::InvalidArgument("batch of " + std::to_string(total) +
                                   " bytes; a batch is limited to 2 GiB");
  }
  if (options_.compression != Compression::kNone) compressed->resize(ops.size());
  for (size_t i = 0; i < ops.size(); i++) {
    HashAndCompress(ops[i], compressed->empty() ? nullptr : &(*compressed)[i]);
  }
  return Status::OK();
}

inline Status DBImpl::PrepareOp(Op& op, std::string* compressed) const {
  if (Status s = ValidateKey(op.key); !s.ok()) return s;
  if (Status s = ValidateValue(op.key, op.value); !s.ok()) return s;
  HashAndCompress(op, compressed);
  return Status::OK();
}

[[gnu::always_inline]] inline void DBImpl::HashAndCompress(Op& op, std::string* compressed) const {
  op.hash = util::HashKey(op.key);
  // The op then points at the stored form.
  if (options_.compression != Compression::kNone && !op.is_delete &&
      op.value.size() >= options_.compression_min_bytes) {
    op.codec =
        CompressValue(options_.compression, options_.compression_level, op.value, compressed);
    if (op.codec != format::kCodecNone) {
      op.uncompressed = op.value;
      op.value = *compressed;
    }
  }
}

Status DBImpl::Apply(std::span<Op> ops, bool sync) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  std::vector<std::string> compressed;
  if (Status s = PrepareOps(ops, &compressed); !s.ok()) return s;  // outside the lock
  uint64_t seq;
  {
    util::MutexLock l(&write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    if (Status s = CommitLocked(ops, sync, &seq); !s.ok()) return s;
  }
  return FinishWrite(seq, sync);
}

Status DBImpl::ApplyOne(Op& op, bool sync) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  std::string compressed;
  if (Status s = PrepareOp(op, &compressed); !s.ok()) return s;  // outside the lock
  // The key's slot is a cache miss in a large keydir: it loads while the write lock is taken
  // and the record encoded.
  keydir_.ShardFor(op.hash).PrefetchUnlocked(op.hash);
  uint64_t seq;
  {
    util::MutexLock l(&write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    if (Status s = CommitOneLocked(op, sync, &seq); !s.ok()) return s;
  }
  return FinishWrite(seq, sync);
}

Status DBImpl::CommitLocked(std::span<const Op> ops, bool sync, uint64_t* seq) {
  std::vector<KeyLocation> locs(ops.size());
  if (sync) NoteSyncRequestLocked();
  if (Status s = AppendLocked(ops, locs.data()); !s.ok()) return s;
  if (options_.commit_listener != nullptr) NotifyCommitLocked(ops);
  PublishLocked(ops, locs.data());
  *seq = last_seq_;
  written_seq_.store(last_seq_, std::memory_order_release);
  AddToCounter(batches_, 1);
  return Status::OK();
}

Status DBImpl::CommitOneLocked(const Op& op, bool sync, uint64_t* seq) {
  KeydirShard& shard = keydir_.ShardFor(op.hash);
  if (sync) NoteSyncRequestLocked();
  const uint64_t n = format::RecordSize(op.key.size(), op.value.size());
  if (Status s = MakeRoomLocked(n); !s.ok()) return s;
  const std::span<const Op> one(&op, 1);
  // A small record is encoded here and copied into the mapping under the shard lock; a large
  // one goes out with pwritev: a put's before the lock, a delete's under it, once the key is
  // known to be there. Either way the new end is published under the lock.
  const bool mapped = n < active_->mapped_write_max();
  char record[DataFile::kHugeMappedWriteMax];
  char* dst = nullptr;
  KeyLocation loc;
  if (mapped) {
    format::EncodeRecord(record, last_seq_ + 1, op.expire_at_ms,
                         RecordFlags(op.is_delete, op.codec, /*more_follow=*/false), op.key,
                         op.value);
    loc = LocationLocked(op, active_->size(), n);
    dst = active_->MappedForWrite(loc.offset, n);
  } else if (!op.is_delete) {
    if (Status s = AppendVectoredLocked(one, &loc); !s.ok()) return DiscardLocked(std::move(s));
  }
  {
    std::unique_lock l(shard.mu);
    KeydirShard::Position pos;
    if (op.is_delete) {
      // A delete of an absent (or expired) key writes nothing and says so.
      KeyLocation old;
      if (!shard.Locate(op.key, op.hash, &old, &pos)) return Status::NotFound();
      if (old.has_expiry) {
        const Status s = ReadValueLocked(old, op.key, nullptr, nullptr);
        if (s.IsNotFound()) {
          // The record carries its own expiry, so dropping it needs no tombstone.
          if (shard.RemoveAt(pos, op.key, op.hash, &old)) AddDeadBytes(old);
        }
        if (!s.ok()) return s;
      }
      if (!mapped) {
        if (Status s = AppendVectoredLocked(one, &loc); !s.ok()) return DiscardLocked(std::move(s));
      }
    }
    if (mapped) {
      std::memcpy(dst, record, n);
      if (active_->faulted()) [[unlikely]]
        return MappedWriteFailedLocked(loc.offset);
      ++last_seq_;
    }
    if (options_.commit_listener != nullptr) NotifyCommitLocked(one);
    active_->Commit(n);
    PublishOneLocked(shard, op, loc, op.is_delete ? &pos : nullptr);
  }
  CountAppendedLocked(n, !op.is_delete, op.is_delete);
  *seq = last_seq_;
  written_seq_.store(last_seq_, std::memory_order_release);
  return Status::OK();
}

void DBImpl::NotifyCommitLocked(std::span<const Op> ops) {
  auto written = [](const Op& op) {
    using Kind = CommittedWrite::Kind;
    return CommittedWrite{op.is_delete ? Kind::kDelete : Kind::kPut, op.key,
                          op.codec != format::kCodecNone ? op.uncompressed : op.value,
                          op.expire_at_ms};
  };
  if (ops.size() == 1) {
    const CommittedWrite w = written(ops[0]);
    return options_.commit_listener->OnCommit(std::span(&w, 1));
  }
  std::vector<CommittedWrite> writes;
  writes.reserve(ops.size());
  for (const Op& op : ops) writes.push_back(written(op));
  options_.commit_listener->OnCommit(writes);
}

Status DBImpl::FinishWrite(uint64_t seq, bool sync) {
  if (sync || options_.sync_mode == SyncMode::kAlways) return SyncUpTo(seq);
  return Status::OK();
}

Status DBImpl::Update(std::string_view key, const UpdateFn& update, const WriteOptions& options) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  if (Status s = ValidateKey(key); !s.ok()) return s;
  Op op{false, key, {}, 0};
  op.hash = util::HashKey(key);
  KeydirShard& shard = keydir_.ShardFor(op.hash);
  std::string current, next;
  std::string compressed;
  uint64_t seq;
  {
    util::MutexLock l(&write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    bool present = false;
    uint64_t expiry = 0;
    {
      std::shared_lock sl(shard.mu);
      KeyLocation loc;
      if (shard.Find(key, op.hash, &loc)) {
        // An expired key reads as NotFound, leaving expiry at 0: as if absent.
        Status s = ReadValueLocked(loc, key, &current, &expiry);
        if (!s.ok() && !s.IsNotFound()) return s;
        present = s.ok();
      }
    }
    switch (update(present ? &current : nullptr, &expiry, &next)) {
      case UpdateAction::kKeep:
        return Status::OK();
      case UpdateAction::kDelete:
        if (!present) return Status::OK();
        op.is_delete = true;
        break;
      case UpdateAction::kPut:
        op.value = next;
        op.expire_at_ms = expiry;
        break;
    }
    // Under the lock this time: the value exists only now. (The hash is computed again.)
    if (Status s = PrepareOp(op, &compressed); !s.ok()) return s;
    Status s = CommitOneLocked(op, options.sync, &seq);
    // Only a delete can find the key gone: it expired since it was read. Gone is what it asked.
    if (s.IsNotFound()) return Status::OK();
    if (!s.ok()) return s;
  }
  return FinishWrite(seq, options.sync);
}

Status DBImpl::MakeRoomLocked(uint64_t bytes) {
  if (active_->size() + bytes > options_.max_file_size ||
      active_->size() + bytes > active_->capacity()) {
    if (Status s = RotateLocked(bytes); !s.ok()) return s;
  }
  return active_->Reserve(bytes);
}

Status DBImpl::DiscardLocked(Status s) {
  // Records already written are past the published end; cut them off so that no complete
  // record of a failed write lingers there.
  (void)active_->DiscardUncommitted();
  return s;
}

void DBImpl::CountAppendedLocked(uint64_t bytes, std::span<const Op> ops) {
  uint64_t deletes = 0;
  for (const Op& op : ops) deletes += op.is_delete;
  CountAppendedLocked(bytes, ops.size() - deletes, deletes);
}

Status DBImpl::AppendLocked(std::span<const Op> ops, KeyLocation* locs) {
  uint64_t total = 0, largest = 0;
  for (const Op& op : ops) {
    const uint64_t n = format::RecordSize(op.key.size(), op.value.size());
    total += n;
    largest = std::max(largest, n);
  }
  if (Status s = MakeRoomLocked(total); !s.ok()) return s;
  // Records are copied into the mapping: no system call. On 4 KiB pages that costs a page
  // fault per 4 KiB (batched ahead by MappedForWrite, still dear: measured 7 us a page on the
  // development VM), so there only a lone small record takes that way (CommitOneLocked) and
  // batches and large records go out with pwritev, many records per call. On huge pages the
  // fault comes once per 2 MiB, and only records of a page and more are better off with the
  // kernel's copy, which skips zeroing the fresh pages first (measured: 10 KB values wrote 3x
  // slower through the mapping once the run exceeded 1 GB).
  const bool use_mapping = largest < active_->mapped_write_max() && active_->huge_pages();
  Status s = use_mapping ? AppendMappedLocked(ops, locs) : AppendVectoredLocked(ops, locs);
  if (!s.ok()) return DiscardLocked(std::move(s));
  active_->Commit(total);
  CountAppendedLocked(total, ops);
  return Status::OK();
}

Status DBImpl::AppendMappedLocked(std::span<const Op> ops, KeyLocation* locs) {
  uint64_t offset = active_->size();
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    const uint8_t flags = RecordFlags(op.is_delete, op.codec, i + 1 < ops.size());
    const size_t n = format::RecordSize(op.key.size(), op.value.size());
    // Encoded and checksummed in a local buffer, then stored in one copy: checksumming the
    // record in place would read back lines whose stores still wait for their cache miss.
    char* dst = active_->MappedForWrite(offset, n);
    if (n < DataFile::kMappedWriteMax) {
      char record[DataFile::kMappedWriteMax];
      format::EncodeRecord(record, ++last_seq_, op.expire_at_ms, flags, op.key, op.value);
      std::memcpy(dst, record, n);
    } else {
      format::EncodeRecord(dst, ++last_seq_, op.expire_at_ms, flags, op.key, op.value);
    }
    locs[i] = LocationLocked(op, offset, n);
    offset += n;
  }
  if (active_->faulted()) [[unlikely]]
    return MappedWriteFailedLocked(active_->size());
  return Status::OK();
}

Status DBImpl::MappedWriteFailedLocked(uint64_t offset) {
  // What went to the page of zeros is not in the file, and later copies to that page would
  // not fault again: no write may be acknowledged until the file is mapped anew.
  Status s = active_->Unreadable(offset);
  if (bg_error_.ok()) bg_error_ = s;
  return s;
}

Status DBImpl::AppendVectoredLocked(std::span<const Op> ops, KeyLocation* locs) {
  std::vector<std::array<char, format::kRecordHeaderSize>> headers(ops.size());
  std::vector<std::string_view> pieces;
  pieces.reserve(std::min<size_t>(3 * ops.size(), kMaxIovecs));
  uint64_t offset = active_->size();
  uint64_t run_offset = offset;  // file offset of pieces[0]
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    const uint8_t flags = RecordFlags(op.is_delete, op.codec, i + 1 < ops.size());
    const size_t n = format::RecordSize(op.key.size(), op.value.size());
    char* header = headers[i].data();
    format::EncodeRecordHeader(header, ++last_seq_, op.expire_at_ms, flags, op.key, op.value);
    pieces.emplace_back(header, format::kRecordHeaderSize);
    if (!op.key.empty()) pieces.push_back(op.key);
    if (!op.value.empty()) pieces.push_back(op.value);
    locs[i] = LocationLocked(op, offset, n);
    offset += n;
    if (pieces.size() + 3 > kMaxIovecs || i + 1 == ops.size()) {
      Status s = active_->WriteVectored(run_offset, pieces);
      if (!s.ok()) return s;
      pieces.clear();
      run_offset = offset;
    }
  }
  return Status::OK();
}

inline void DBImpl::PublishOneLocked(KeydirShard& shard, const Op& op, const KeyLocation& loc,
                                     const KeydirShard::Position* found) {
  KeyLocation old;
  if (op.is_delete) {
    // A tombstone only shadows older records. It was written to the active file (a batch too:
    // the room for all of it was made before the first record).
    assert(loc.file_id == active_->id());
    active_->dead_bytes.fetch_add(loc.size, std::memory_order_relaxed);
    const bool removed = found != nullptr ? shard.RemoveAt(*found, op.key, op.hash, &old)
                                          : shard.Remove(op.key, op.hash, &old);
    if (removed) AddDeadBytes(old);
  } else if (shard.Upsert(op.key, op.hash, loc, &old)) {
    AddDeadBytes(old);
  }
}

void DBImpl::PublishLocked(std::span<const Op> ops, const KeyLocation* locs) {
  uint64_t mask = 0;
  for (const Op& op : ops) mask |= uint64_t{1} << Keydir::ShardIndex(op.hash);
  ShardSetLock lock(&keydir_, mask);
  constexpr size_t kLookahead = 8;  // slots in flight while earlier keys are applied
  for (size_t i = 0; i < std::min(kLookahead, ops.size()); i++) {
    keydir_.ShardFor(ops[i].hash).Prefetch(ops[i].hash);
  }
  for (size_t i = 0; i < ops.size(); i++) {
    if (i + kLookahead < ops.size()) {
      keydir_.ShardFor(ops[i + kLookahead].hash).Prefetch(ops[i + kLookahead].hash);
    }
    PublishOneLocked(keydir_.ShardFor(ops[i].hash), ops[i], locs[i], nullptr);
  }
}

void DBImpl::AddDeadBytes(const KeyLocation& loc) {
  if (DataFile* f = files_.Get(loc.file_id)) {
    f->dead_bytes.fetch_add(loc.size, std::memory_order_relaxed);
  }
}

Status DBImpl::RotateLocked(uint64_t record_bytes) {
  if (next_file_id_ > kMaxFileId) {
    return Status::NotSupported(dir_ + ": all " + std::to_string(kMaxFileId) +
                                " data file ids are used");
  }
  // The new file first: if the disk cannot hold it, the active file stays as it is, and
  // takes the writes that still fit.
  const uint64_t capacity =
      std::max<uint64_t>(options_.max_file_size, format::kFileHeaderSize + record_bytes);
  std::unique_ptr<DataFile> file;
  if (Status s = DataFile::Create(env_, dir_, next_file_id_, capacity, &file, /*temporary=*/false,
                                  huge_pages_);
      !s.ok()) {
    return s;
  }
  if (active_ != nullptr) {
    if (Status s = active_->Seal(/*sync=*/false); !s.ok()) {
      const std::string path = file->path();
      file.reset();
      (void)env_->RemoveFile(path);  // best effort: a file of just a header holds nothing
      return s;
    }
    // Records in it may still wait for a flush; the next sync leader takes care of them.
    unsynced_sealed_.push_back(active_->id());
    QueueHint(active_->id());
  }
  next_file_id_++;
  dir_dirty_ = true;
  active_ = file.get();
  files_.Add(std::move(file));
  return Status::OK();
}

}  // namespace bitcask::engine
