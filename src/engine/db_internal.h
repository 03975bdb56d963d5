// What the parts of DBImpl (db_impl.cc, db_read.cc, db_write.cc, group_commit.cc,
// db_open.cc, merge.cc, maintenance.cc, check.cc) share beyond db_impl.h: counters, limits,
// data file names, and the lock over several keydir shards.

#ifndef BITCASK_ENGINE_DB_INTERNAL_H_
#define BITCASK_ENGINE_DB_INTERNAL_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/db_impl.h"

namespace bitcask::engine {

// Counters changed only under write_mu_ and read by GetStats without it: a relaxed load and
// store, no locked instruction on the write path.
inline void AddToCounter(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Pieces per pwritev call (IOV_MAX is 1024 on Linux).
constexpr size_t kMaxIovecs = 1020;

// Batches are written to one file with 32-bit offsets; keep them well inside that.
constexpr uint64_t kMaxBatchBytes = uint64_t{2} << 30;

// The largest buffer a thread keeps between reads that decompress into one (GetView).
constexpr size_t kKeptBufferBytes = size_t{1} << 20;

// "00000012.data" -> 12.
inline bool ParseDataFileName(const std::string& name, uint32_t* id) {
  static constexpr std::string_view kSuffix = ".data";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return false;
  const char* end = name.data() + name.size() - kSuffix.size();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(name.data(), end, value);
  if (ec != std::errc() || ptr != end || value == 0 || value > kMaxFileId) return false;
  *id = static_cast<uint32_t>(value);
  return true;
}

// The ids of the data files among a directory's names, ascending.
inline std::vector<uint32_t> DataFileIds(const std::vector<std::string>& names) {
  std::vector<uint32_t> ids;
  for (const std::string& name : names) {
    uint32_t id;
    if (ParseDataFileName(name, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Locks a set of keydir shards in index order, the only order anyone locks more than one:
// exclusively to publish a batch, shared for a MultiGet. So none of them can deadlock.
class ShardSetLock {
 public:
  enum Mode { kExclusive, kShared };
  ShardSetLock(const Keydir* keydir, uint64_t mask, Mode mode = kExclusive)
      : keydir_(keydir), mask_(mask), mode_(mode) {
    for (uint64_t m = mask_; m != 0; m &= m - 1) {
      util::SharedMutex& mu = keydir_->shard(std::countr_zero(m)).mu;
      mode_ == kShared ? mu.lock_shared() : mu.lock();
    }
  }
  ~ShardSetLock() {
    for (uint64_t m = mask_; m != 0; m &= m - 1) {
      util::SharedMutex& mu = keydir_->shard(std::countr_zero(m)).mu;
      mode_ == kShared ? mu.unlock_shared() : mu.unlock();
    }
  }
  ShardSetLock(const ShardSetLock&) = delete;
  ShardSetLock& operator=(const ShardSetLock&) = delete;

 private:
  const Keydir* keydir_;
  uint64_t mask_;
  Mode mode_;
};

static_assert(Keydir::kNumShards <= 64, "ShardSetLock keeps one bit per shard in a uint64_t");
constexpr uint64_t kAllShards =
    Keydir::kNumShards == 64 ? ~uint64_t{0} : (uint64_t{1} << Keydir::kNumShards) - 1;

// On every write (and merge), under write_mu_: inline, as the write path's other steps.
inline Status DBImpl::CheckWritable() const {
  if (closed_) [[unlikely]]
    return Status::Closed();
  if (options_.read_only) [[unlikely]] {
    return Status::InvalidArgument(dir_ + " is open read-only; writes are refused");
  }
  if (!bg_error_.ok()) [[unlikely]]
    return bg_error_;
  return Status::OK();  // not a copy of bg_error_: Status's copy is a call
}

// On every write: an inline member, for the write path and the sync marks alike.
inline void DBImpl::CountAppendedLocked(uint64_t bytes, uint64_t puts, uint64_t deletes) {
  appended_ += bytes;
  AddToCounter(bytes_written_, bytes);
  if (puts != 0) AddToCounter(puts_, puts);
  if (deletes != 0) AddToCounter(deletes_, deletes);
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_DB_INTERNAL_H_
