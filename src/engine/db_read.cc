// DBImpl's read path: Get, GetView, MultiGet, Prefetch, Contains, Keys, Count. Readers take
// the read lock of one keydir shard (or of a set, in index order), never the writer's.

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

// Reads

Status DBImpl::ReadRecordLocked(const KeyLocation& loc, std::string_view key,
                                format::RecordView* rec) const {
  const DataFile* f = files_.Get(loc.file_id);
  if (f == nullptr || uint64_t{loc.offset} + loc.size > f->size()) {
    return Status::Corruption(DataFileName(dir_, loc.file_id) + " offset " +
                              std::to_string(loc.offset) + ": key " + Printable(key) +
                              " points at a record there, but " +
                              (f == nullptr ? "the file" : "the record") + " does not exist");
  }
  const format::DecodeResult r = format::DecodeRecord(f->base() + loc.offset, loc.size, rec);
  if (r != format::DecodeResult::kOk) [[unlikely]] {
    if (f->faulted()) return f->Unreadable(loc.offset);
    return Status::Corruption(DescribeBadRecord(f->path(), loc.offset, r));
  }
  if (rec->size != loc.size || rec->key != key || rec->tombstone()) {
    return Status::Corruption(f->path() + " offset " + std::to_string(loc.offset) +
                              ": record does not hold key " + Printable(key));
  }
  return Status::OK();
}

inline Status DBImpl::CheckCopiedLocked(const KeyLocation& loc, uint64_t faults) const {
  // A page of the record that passed its checksum and then failed (evicted, and unreadable
  // when read again) would have handed out zeros.
  if (map_faults::Count() == faults) [[likely]]
    return Status::OK();
  return CopyFaultedLocked(loc);
}

Status DBImpl::CopyFaultedLocked(const KeyLocation& loc) const {
  const DataFile* f = files_.Get(loc.file_id);
  return f->faulted() ? f->Unreadable(loc.offset) : Status::OK();
}

inline Status DBImpl::ReadLiveRecordLocked(const KeyLocation& loc, std::string_view key,
                                           format::RecordView* rec) const {
  if (Status s = ReadRecordLocked(loc, key, rec); !s.ok()) return s;
  if (loc.has_expiry && Expired(rec->expire_at_ms)) return Status::NotFound();
  return Status::OK();
}

bool DBImpl::SampleThisOp() const {
  const uint32_t every = options_.latency_sample_every;
  if (every == 0) return false;
  thread_local uint32_t count = 0;
  if (++count < every) return false;
  count = 0;
  return true;
}

Status DBImpl::Get(std::string_view key, std::string* value) {
  return Timed(get_latency_, [&] { return GetImpl(key, value, nullptr); });
}

Status DBImpl::GetWithExpiry(std::string_view key, std::string* value, uint64_t* expire_at_ms) {
  return Timed(get_latency_, [&] { return GetImpl(key, value, expire_at_ms); });
}

template <typename F>
Status DBImpl::ReadKeyLocked(std::string_view key, F&& read) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  if (Status s = ValidateKey(key); !s.ok()) return s;
  const uint64_t hash = util::HashKey(key);
  const KeydirShard& shard = keydir_.ShardFor(hash);
  std::shared_lock l(shard.mu);
  return FindLocked(shard, key, hash, std::forward<F>(read));
}

template <typename F>
Status DBImpl::FindLocked(const KeydirShard& shard, std::string_view key, uint64_t hash,
                          F&& read) const {
  if (shard.closed) return Status::Closed();
  shard.gets.fetch_add(1, std::memory_order_relaxed);
  KeyLocation loc;
  if (!shard.Find(key, hash, &loc)) return Status::NotFound();
  return read(loc);
}

Status DBImpl::GetImpl(std::string_view key, std::string* value, uint64_t* expire_at_ms) {
  return ReadKeyLocked(
      key, [&](const KeyLocation& loc) { return ReadValueLocked(loc, key, value, expire_at_ms); });
}

Status DBImpl::GetView(std::string_view key, ValueReader read, void* arg) {
  return Timed(get_latency_, [&] {
    return ReadKeyLocked(key, [&](const KeyLocation& loc) {
      const uint64_t faults = map_faults::Count();
      format::RecordView rec;
      if (Status s = ReadLiveRecordLocked(loc, key, &rec); !s.ok()) return s;
      if (rec.codec() == format::kCodecNone) {
        read(arg, rec.value);
        return CheckCopiedLocked(loc, faults);
      }
      thread_local std::string plain;
      Status s = DecompressLocked(loc, rec, &plain);
      if (Status f = CheckCopiedLocked(loc, faults); !f.ok()) s = std::move(f);
      if (s.ok()) read(arg, plain);
      if (plain.capacity() > kKeptBufferBytes) std::string().swap(plain);
      return s;
    });
  });
}

Status DBImpl::ReadValueLocked(const KeyLocation& loc, std::string_view key, std::string* value,
                               uint64_t* expire_at_ms) const {
  const uint64_t faults = map_faults::Count();
  format::RecordView rec;
  if (Status s = ReadLiveRecordLocked(loc, key, &rec); !s.ok()) return s;
  if (expire_at_ms != nullptr) *expire_at_ms = rec.expire_at_ms;
  if (value == nullptr) return Status::OK();
  if (rec.codec() == format::kCodecNone) {
    value->assign(rec.value);
    return CheckCopiedLocked(loc, faults);
  }
  Status s = DecompressLocked(loc, rec, value);
  if (Status f = CheckCopiedLocked(loc, faults); !f.ok()) return f;
  return s;
}

Status DBImpl::DecompressLocked(const KeyLocation& loc, const format::RecordView& rec,
                                std::string* value) const {
  const std::string where =
      files_.Get(loc.file_id)->path() + " offset " + std::to_string(loc.offset);
  return DecompressValue(rec.codec(), rec.value, value, where);
}

void DBImpl::PrefetchGroupLocked(std::span<const std::string_view> keys,
                                 const uint64_t* hashes) const {
  // A lookup is three dependent cache misses: the hash slot, the key entry it points at, and
  // the record in the data file. Done one key at a time they are paid in series; here the
  // keys move through them together, each pass prefetching what the next one reads.
  const size_t m = keys.size();
  for (size_t i = 0; i < m; i++) {
    const KeydirShard& shard = keydir_.ShardFor(hashes[i]);
    if (!shard.closed) shard.Prefetch(hashes[i]);
  }
  for (size_t i = 0; i < m; i++) {
    const KeydirShard& shard = keydir_.ShardFor(hashes[i]);
    if (!shard.closed) shard.PrefetchEntry(hashes[i]);
  }
  for (size_t i = 0; i < m; i++) {
    const KeydirShard& shard = keydir_.ShardFor(hashes[i]);
    KeyLocation loc;
    if (shard.closed || !shard.Find(keys[i], hashes[i], &loc)) continue;
    const DataFile* f = files_.Get(loc.file_id);
    if (f == nullptr || uint64_t{loc.offset} + loc.size > f->size()) continue;
    // The header, key and (small) value: the checksum reads all of them.
    const char* rec = f->base() + loc.offset;
    const size_t span = std::min<size_t>(loc.size, 256);
    for (size_t at = 0; at < span + 63; at += 64) __builtin_prefetch(rec + std::min(at, span - 1));
  }
}

uint64_t DBImpl::ShardMask(const uint64_t* hashes, size_t n) {
  uint64_t mask = 0;
  for (size_t i = 0; i < n; i++) mask |= uint64_t{1} << Keydir::ShardIndex(hashes[i]);
  return mask;
}

void DBImpl::Prefetch(std::span<const std::string_view> keys) {
  if (Forked()) [[unlikely]]
    return;
  for (size_t base = 0; base < keys.size(); base += kPrefetchGroup) {
    const auto group = keys.subspan(base, std::min(kPrefetchGroup, keys.size() - base));
    uint64_t hashes[kPrefetchGroup];
    for (size_t i = 0; i < group.size(); i++) hashes[i] = util::HashKey(group[i]);
    // Under the read locks of the shards: a concurrent write or merge only makes a prefetch
    // useless, never wrong.
    ShardSetLock lock(&keydir_, ShardMask(hashes, group.size()), ShardSetLock::kShared);
    PrefetchGroupLocked(group, hashes);
  }
}

void DBImpl::MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                      std::span<Status> statuses) {
  const size_t n = std::min({keys.size(), values.size(), statuses.size()});
  if (Forked()) [[unlikely]] {
    for (size_t i = 0; i < n; i++) statuses[i] = ForkedChildError();
    return;
  }
  thread_local std::vector<uint64_t> hashes;
  hashes.resize(n);
  for (size_t i = 0; i < n; i++) hashes[i] = util::HashKey(keys[i]);
  // Every key is read under the read locks of all their shards, taken together: no write
  // (one Put, or a batch, which publishes under the write locks of all its shards) is seen
  // half way. Each group of keys is prefetched level by level, then read.
  ShardSetLock lock(&keydir_, ShardMask(hashes.data(), n), ShardSetLock::kShared);
  for (size_t base = 0; base < n; base += kPrefetchGroup) {
    const size_t m = std::min(kPrefetchGroup, n - base);
    PrefetchGroupLocked(keys.subspan(base, m), hashes.data() + base);
    for (size_t i = base; i < base + m; i++) {
      statuses[i] = Timed(get_latency_, [&] {
        if (Status s = ValidateKey(keys[i]); !s.ok()) return s;
        const KeydirShard& shard = keydir_.ShardFor(hashes[i]);
        return FindLocked(shard, keys[i], hashes[i], [&](const KeyLocation& loc) {
          return ReadValueLocked(loc, keys[i], &values[i], nullptr);
        });
      });
    }
  }
  if (hashes.capacity() > 4096) std::vector<uint64_t>().swap(hashes);  // keep no large array
}

Status DBImpl::Contains(std::string_view key) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  if (Status s = ValidateKey(key); !s.ok()) return s;
  const uint64_t hash = util::HashKey(key);
  const KeydirShard& shard = keydir_.ShardFor(hash);
  std::shared_lock l(shard.mu);
  if (shard.closed) return Status::Closed();
  KeyLocation loc;
  if (!shard.Find(key, hash, &loc)) return Status::NotFound();
  if (!loc.has_expiry) return Status::OK();
  return ReadValueLocked(loc, key, /*value=*/nullptr, /*expire_at_ms=*/nullptr);
}

Status DBImpl::Keys(std::vector<std::string>* keys, std::string_view prefix) {
  keys->clear();
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  // A prefix is found through the ordered indexes, brought up to date one shard at a time
  // first (as an iterator does); a shard written to since is walked whole below.
  std::string upper;
  const bool bounded = PrefixSuccessor(std::string(prefix), &upper);
  if (!prefix.empty()) {
    for (unsigned i = 0; i < Keydir::kNumShards; i++) {
      KeydirShard& shard = keydir_.shard(i);
      std::unique_lock l(shard.mu);
      if (!shard.closed && !shard.OrderedReady()) shard.PrepareOrdered();
    }
  }
  const std::string_view upper_view(upper);
  Status s;
  {
    // Every shard at once: one moment, so a batch is seen whole or not at all (a batch
    // takes the locks of all its shards together). Writers wait meanwhile; readers do not.
    ShardSetLock lock(&keydir_, kAllShards, ShardSetLock::kShared);
    auto add = [&](std::string_view key, const KeyLocation& loc) {
      if (loc.has_expiry) {
        format::RecordView rec;
        s = ReadRecordLocked(loc, key, &rec);
        if (!s.ok() || Expired(rec.expire_at_ms)) return;
      }
      keys->emplace_back(key);
    };
    std::vector<std::string> found;
    for (unsigned i = 0; i < Keydir::kNumShards && s.ok(); i++) {
      const KeydirShard& shard = keydir_.shard(i);
      if (shard.closed) {
        keys->clear();
        return Status::Closed();
      }
      if (!prefix.empty() && shard.OrderedReady()) {
        found.clear();
        shard.CollectAscending(&prefix, /*inclusive=*/true, bounded ? &upper_view : nullptr,
                               SIZE_MAX, &found);
        for (const std::string& key : found) {
          if (!s.ok()) break;
          KeyLocation loc;
          if (shard.expiring() == 0) {
            keys->push_back(key);
          } else if (shard.Find(key, util::HashKey(key), &loc)) {
            add(key, loc);
          }
        }
      } else {
        shard.ForEach([&](std::string_view key, const KeyLocation& loc) {
          if (s.ok() && key.starts_with(prefix)) add(key, loc);
        });
      }
    }
  }
  if (!s.ok()) {
    keys->clear();
    return s;
  }
  std::sort(keys->begin(), keys->end());
  return Status::OK();
}

Status DBImpl::CountLive(uint64_t* n, uint64_t* expiring, double* ttl_sum_ms) {
  *n = 0;
  if (expiring != nullptr) {
    *expiring = 0;
    *ttl_sum_ms = 0;
  }
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  const uint64_t now = NowMillis();
  ShardSetLock lock(&keydir_, kAllShards, ShardSetLock::kShared);  // one moment, as Keys
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    const KeydirShard& shard = keydir_.shard(i);
    if (shard.closed) return Status::Closed();
    *n += shard.size();
    if (shard.expiring() == 0) continue;  // the common case: nothing to look at
    Status s;
    shard.ForEach([&](std::string_view key, const KeyLocation& loc) {
      if (!loc.has_expiry || !s.ok()) return;
      format::RecordView rec;
      s = ReadRecordLocked(loc, key, &rec);
      if (!s.ok()) return;
      if (rec.expire_at_ms <= now) {
        --*n;
      } else if (expiring != nullptr) {
        ++*expiring;
        *ttl_sum_ms += double(rec.expire_at_ms - now);
      }
    });
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace bitcask::engine
