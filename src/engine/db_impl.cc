#include "engine/db_impl.h"

#include <fcntl.h>
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

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/compression.h"
#include "util/hash.h"
#include "engine/hint.h"
#include "engine/limits.h"
#include "engine/map_faults.h"
#include "engine/recovery.h"
#include "engine/write_batch_internal.h"

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
    const bool changed = options.read_only && (!s.ok() || impl->MappingFaulted()) &&
                         impl->ChangedSinceListed();
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

// Counters changed only under write_mu_ and read by GetStats without it: a relaxed load and
// store, no locked instruction on the write path.
void AddToCounter(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Pieces per pwritev call (IOV_MAX is 1024 on Linux).
constexpr size_t kMaxIovecs = 1020;

// Batches are written to one file with 32-bit offsets; keep them well inside that.
constexpr uint64_t kMaxBatchBytes = uint64_t{2} << 30;

// The largest buffer a thread keeps between reads that decompress into one (GetView).
constexpr size_t kKeptBufferBytes = size_t{1} << 20;

// "00000012.data" -> 12.
bool ParseDataFileName(const std::string& name, uint32_t* id) {
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
std::vector<uint32_t> DataFileIds(const std::vector<std::string>& names) {
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

}  // namespace

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
    pthread_atfork(nullptr, nullptr,
                   [] { forks_counted.fetch_add(1, std::memory_order_relaxed); });
  });
  return forks_counted.load(std::memory_order_relaxed);
}
}  // namespace

DBImpl::DBImpl(const Options& options, std::string dir)
    : options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      dir_(WithoutTrailingSlashes(std::move(dir))),
      forks_at_open_(ForksSoFar()),
      opener_pid_(::getpid()) {}

DBImpl::~DBImpl() { Close(); }

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

uint64_t DBImpl::NowMillis() const {
  return env_->NowUnixMillis();
}

Status DBImpl::CheckWritable() const {
  if (closed_) return Status::Closed();
  if (options_.read_only) {
    return Status::InvalidArgument(dir_ + " is open read-only; writes are refused");
  }
  if (!bg_error_.ok()) [[unlikely]] return bg_error_;
  return Status::OK();  // not a copy of bg_error_: Status's copy is a call
}

// ---------------------------------------------------------------------------------------
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
  if (map_faults::Count() == faults) [[likely]] return Status::OK();
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
  if (Forked()) [[unlikely]] return ForkedChildError();
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
  return ReadKeyLocked(key, [&](const KeyLocation& loc) {
    return ReadValueLocked(loc, key, value, expire_at_ms);
  });
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
  if (Forked()) [[unlikely]] return;
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
  if (Forked()) [[unlikely]] return ForkedChildError();
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
  if (Forked()) [[unlikely]] return ForkedChildError();
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
  if (Forked()) [[unlikely]] return ForkedChildError();
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
    std::unique_lock l(shard.mu);
    for (const auto& [key, loc] : expired) {
      // Only if unchanged since: a write may have given the key a new value meanwhile.
      if (shard.RemoveIf(key, util::HashKey(key), loc)) AddDeadBytes(loc);
    }
  }
}

// ---------------------------------------------------------------------------------------
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
      [&ops](std::string_view k) { ops.push_back(Op{true, k, {}, 0}); });
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

inline void DBImpl::HashAndCompress(Op& op, std::string* compressed) const {
  op.hash = util::HashKey(op.key);
  // The op then points at the stored form.
  if (options_.compression != Compression::kNone && !op.is_delete &&
      op.value.size() >= options_.compression_min_bytes) {
    op.codec = CompressValue(options_.compression, options_.compression_level, op.value,
                             compressed);
    if (op.codec != format::kCodecNone) op.value = *compressed;
  }
}

Status DBImpl::Apply(std::span<Op> ops, bool sync) {
  if (Forked()) [[unlikely]] return ForkedChildError();
  std::vector<std::string> compressed;
  if (Status s = PrepareOps(ops, &compressed); !s.ok()) return s;  // outside the lock
  uint64_t seq;
  {
    std::lock_guard l(write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    if (Status s = CommitLocked(ops, sync, &seq); !s.ok()) return s;
  }
  return FinishWrite(seq, sync);
}

Status DBImpl::ApplyOne(Op& op, bool sync) {
  if (Forked()) [[unlikely]] return ForkedChildError();
  std::string compressed;
  if (Status s = PrepareOp(op, &compressed); !s.ok()) return s;  // outside the lock
  // The key's slot is a cache miss in a large keydir: it loads while the write lock is taken
  // and the record encoded.
  keydir_.ShardFor(op.hash).PrefetchUnlocked(op.hash);
  uint64_t seq;
  {
    std::lock_guard l(write_mu_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    if (Status s = CommitOneLocked(op, sync, &seq); !s.ok()) return s;
  }
  return FinishWrite(seq, sync);
}

Status DBImpl::CommitLocked(std::span<const Op> ops, bool sync, uint64_t* seq) {
  std::vector<KeyLocation> locs(ops.size());
  if (sync) NoteSyncRequestLocked();
  if (Status s = AppendLocked(ops, locs.data()); !s.ok()) return s;
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
      if (active_->faulted()) [[unlikely]] return MappedWriteFailedLocked(loc.offset);
      ++last_seq_;
    }
    active_->Commit(n);
    PublishOneLocked(shard, op, loc, op.is_delete ? &pos : nullptr);
  }
  CountAppendedLocked(n, !op.is_delete, op.is_delete);
  *seq = last_seq_;
  written_seq_.store(last_seq_, std::memory_order_release);
  return Status::OK();
}

Status DBImpl::FinishWrite(uint64_t seq, bool sync) {
  if (sync || options_.sync_mode == SyncMode::kAlways) return SyncUpTo(seq);
  return Status::OK();
}

Status DBImpl::Update(std::string_view key, const UpdateFn& update, const WriteOptions& options) {
  if (Forked()) [[unlikely]] return ForkedChildError();
  if (Status s = ValidateKey(key); !s.ok()) return s;
  Op op{false, key, {}, 0};
  op.hash = util::HashKey(key);
  KeydirShard& shard = keydir_.ShardFor(op.hash);
  std::string current, next;
  std::string compressed;
  uint64_t seq;
  {
    std::lock_guard l(write_mu_);
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
  active_->DiscardUncommitted();
  return s;
}

inline void DBImpl::CountAppendedLocked(uint64_t bytes, uint64_t puts, uint64_t deletes) {
  appended_ += bytes;
  AddToCounter(bytes_written_, bytes);
  if (puts != 0) AddToCounter(puts_, puts);
  if (deletes != 0) AddToCounter(deletes_, deletes);
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
  if (active_->faulted()) [[unlikely]] return MappedWriteFailedLocked(active_->size());
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

// ---------------------------------------------------------------------------------------
// Durability

Status DBImpl::SyncUpTo(uint64_t seq) {
  std::unique_lock l(sync_mu_);
  while (synced_seq_ < seq) {
    if (!sync_error_.ok()) return sync_error_;
    if (sync_running_) {
      sync_cv_.wait(l);
      continue;
    }
    // Become the leader: flush everything written so far, for us and for all who wait.
    sync_running_ = true;
    l.unlock();
    uint64_t target;
    std::vector<DataFile*> files;
    bool sync_dir;
    DataFile* active = nullptr;
    uint64_t active_end = 0;
    {
      std::lock_guard wl(write_mu_);
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
      std::lock_guard wl(write_mu_);
      if (!closed_) AppendSyncMarkLocked(active, active_end);
    }
    syncs_.fetch_add(1, std::memory_order_relaxed);
    l.lock();
    sync_running_ = false;
    if (s.ok()) {
      synced_seq_ = std::max(synced_seq_, target);
    } else {
      // After a failed flush the kernel may have dropped the dirty pages; a retry could
      // report success for data that is gone. Refuse further writes instead.
      sync_error_ = s;
      l.unlock();
      {
        std::lock_guard wl(write_mu_);
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
  if (options_.sync_mode == SyncMode::kAlways) return;  // never on huge pages
  huge_pages_ = far_apart;
  if (active_ != nullptr) active_->SetHugePages(far_apart);
}

bool DBImpl::NeedsSyncMarkLocked(uint64_t synced_end) const {
  return active_->format_version() >= 2 && last_seq_ != 0 &&
         synced_end > (sync_mark_file_ == active_->id() ? sync_mark_end_ : format::kFileHeaderSize);
}

void DBImpl::AppendSyncMarkLocked(const DataFile* file, uint64_t synced_end) {
  // A file sealed meanwhile takes no more bytes (and the next flush covers the new one).
  if (file == nullptr || file != active_ || !active_->writable() || !NeedsSyncMarkLocked(synced_end)) {
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
  if (Forked()) [[unlikely]] return ForkedChildError();
  uint64_t seq;
  {
    std::lock_guard l(write_mu_);
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
        std::lock_guard wl(write_mu_);
        NoteSyncRequestLocked();
      }
      SyncUpTo(target);  // a failure is recorded in sync_error_ and bg_error_
      l.lock();
    }
  }
}

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

  std::unique_lock l(write_mu_);
  if (closed_) return Status::OK();
  closed_ = true;
  // After this no reader is inside a file, and none will enter one.
  for (unsigned i = 0; i < Keydir::kNumShards; i++) {
    KeydirShard& shard = keydir_.shard(i);
    std::unique_lock sl(shard.mu);
    shard.closed = true;
  }
  Status s;
  if (!options_.read_only) {
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
    l.unlock();
    // Hints for the active file and any sealed file still without one: the next Open reads
    // them instead of the data. Only time is lost if this fails, so its status is dropped.
    std::deque<uint32_t> pending;
    {
      std::lock_guard ml(maintenance_mu_);
      pending.swap(hints_pending_);
    }
    if (active_ != nullptr) pending.push_back(active_->id());
    if (s.ok()) {
      for (uint32_t id : pending) WriteHint(id);
    }
    lock_.Release();
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Stats

Status DBImpl::GetStats(Stats* stats) {
  *stats = Stats();
  if (Forked()) [[unlikely]] return ForkedChildError();
  {
    std::lock_guard l(write_mu_);
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

// ---------------------------------------------------------------------------------------
// Recovery

Status DBImpl::Recover() {
  const auto start = std::chrono::steady_clock::now();
  Status s;
  huge_pages_ = options_.sync_mode != SyncMode::kAlways;
  if (options_.read_only) {
    if (!PathExists(env_, dir_)) {
      return Status::InvalidArgument(dir_ + ": no such store (a read-only open does not create one)");
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

  next_file_id_ = ids.empty() ? 1 : ids.back() + 1;
  if (s = DropUnwrittenNewest(&ids); !s.ok()) return s;

  std::vector<LoadPlan> plans;
  for (size_t i = 0; i < ids.size(); i++) {
    LoadPlan plan;
    if (s = PlanDataFile(ids[i], i + 1 == ids.size(), &plan); !s.ok()) return s;
    plans.push_back(std::move(plan));
  }
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
  const unsigned parts =
      announced + to_scan / 64 < 200000 ? 1u
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
  last_seq_ = max_seq;
  written_seq_.store(max_seq);
  synced_seq_ = max_seq;

  if (!options_.read_only) {
    std::lock_guard l(write_mu_);
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
    if (options_.sync_mode == SyncMode::kInterval) sync_thread_ = std::thread([this] { SyncLoop(); });
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

void DBImpl::SetOpenTestHook(std::function<void(std::string_view)> hook) {
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

Status DBImpl::PlanDataFile(uint32_t id, bool newest, LoadPlan* plan) {
  const bool writable = newest && !options_.read_only;
  std::unique_ptr<DataFile> owned;
  Status s = DataFile::Open(env_, dir_, id, writable, options_.max_file_size, &owned, huge_pages_);
  if (!s.ok()) return s;
  DataFile* f = owned.get();
  const uint64_t size = f->size();
  if (size >= (uint64_t{1} << 32)) {
    return Status::NotSupported(f->path() + " is " + std::to_string(size) +
                                " bytes; data files are limited to 4 GiB");
  }
  uint16_t version = 0;
  s = format::DecodeFileHeader(std::string_view(f->base(), size), format::kDataMagic, id,
                               f->path(), &version);
  const bool header_ok = s.ok();
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
  if (header_ok && hint->Open(env_, HintFileName(dir_, id), id, size).ok()) plan->hint = std::move(hint);
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
                       KeyLocation{id, p.e.offset, p.e.size, p.e.expire_at_ms != 0},
                       p.e.tombstone, p.e.expire_at_ms);
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

}  // namespace engine
}  // namespace bitcask
