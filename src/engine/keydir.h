// Keydir: the in-memory map from every live key to the location of its newest record.
//
// It is the dominant memory cost of a Bitcask store, so it is built for size. Each key has
// one arena entry: its 12-byte location, a 1-3 byte length and the key bytes. The hash table
// holds 8-byte slots (arena reference, 32 bits of the key's hash); it grows by half when 80%
// full, so it stays between 53% and 80% full: 10-15 bytes of slot per key. A lookup touches
// one slot and one arena entry, where the key and its location sit side by side.
//
// Concurrency: the table is split into 32 shards by the top bits of the key's hash, each with
// its own reader-writer lock, so readers of different keys rarely share a cache line and a
// table resize stalls 1/32 of the keys. (A batch locks every shard it touches: 32 shards keep
// that within what ThreadSanitizer's deadlock detector can follow, 64 locks.) Callers take the
// shard lock themselves (shared to read, exclusive to change); the DB holds it while it copies a
// value out of a data file, which is what makes it safe to unmap a file once no slot points into
// it.

#ifndef BITCASK_ENGINE_KEYDIR_H_
#define BITCASK_ENGINE_KEYDIR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <shared_mutex>  // std::shared_lock for callers
#include <string_view>
#include <vector>

#include "engine/slot_array.h"
#include "util/mutex.h"

namespace bitcask::engine {

struct KeyLocation {
  uint32_t file_id = 0;
  uint32_t offset = 0;
  uint32_t size = 0;  // whole record: header, key and value
  bool has_expiry = false;

  bool operator==(const KeyLocation&) const = default;
};

// a[0, n) == b[0, n) for sizeof(Word) <= n <= 2 * sizeof(Word): the first and the last word
// of each, which overlap when n < 2 * sizeof(Word), cover all n bytes.
template <typename Word>
inline bool EdgeWordsEqual(const char* a, const char* b, size_t n) {
  Word a0, b0, a1, b1;
  std::memcpy(&a0, a, sizeof(Word));
  std::memcpy(&b0, b, sizeof(Word));
  std::memcpy(&a1, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&b1, b + n - sizeof(Word), sizeof(Word));
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

// a[0, n) == b[0, n), for the short keys a lookup compares: up to 16 bytes in word loads,
// instead of a call to memcmp. Reads nothing outside the ranges.
inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return EdgeWordsEqual<uint64_t>(a, b, n);
  if (n >= 4) return EdgeWordsEqual<uint32_t>(a, b, n);
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

inline constexpr uint32_t kMaxFileId = (1u << 24) - 1;
inline constexpr uint32_t kMaxLocationSize = (1u << 31) - 1;

// Append-only storage for key entries (location, length, key bytes), in chunks that never
// move. A reference names a chunk and an offset; the space of removed keys is reclaimed by
// rebuilding the arena.
class KeyArena {
 public:
  KeyArena() = default;
  KeyArena(KeyArena&&) noexcept = default;
  KeyArena& operator=(KeyArena&&) noexcept = default;

  // Copies an entry in; the reference is never 0 or 1.
  uint32_t Add(std::string_view key, const KeyLocation& loc);
  std::string_view Key(uint32_t ref) const;
  KeyLocation Location(uint32_t ref) const;
  void SetLocation(uint32_t ref, const KeyLocation& loc);
  // Whether the entry holds key: Key(ref) == key without building the view first.
  bool KeyEquals(uint32_t ref, std::string_view key) const {
    const auto* p = reinterpret_cast<const unsigned char*>(Entry(ref) + kLocationBytes);
    // Keys under 128 bytes (one length byte) are compared here; longer ones by Key.
    if (p[0] >= 0x80) [[unlikely]]
      return Key(ref) == key;
    return p[0] == key.size() &&
           BytesEqual(reinterpret_cast<const char*>(p + 1), key.data(), key.size());
  }
  // Marks the entry, whose key is key_size bytes long, as removed: its bytes are garbage, and
  // the ordered index skips it.
  void Release(uint32_t ref, size_t key_size);
  // Starts loading an entry into the cache (look-ahead for batched lookups).
  void Prefetch(uint32_t ref) const { __builtin_prefetch(Entry(ref)); }
  bool IsReleased(uint32_t ref) const { return (Entry(ref)[0] & kReleasedFlag) != 0; }

  size_t allocated_bytes() const { return allocated_; }
  size_t live_bytes() const { return used_ - dead_; }
  size_t dead_bytes() const { return dead_; }

 private:
  static constexpr size_t kLocationBytes = 12;
  static constexpr char kHasExpiryFlag = 1;  // in the low byte of the entry's first word
  static constexpr char kReleasedFlag = 2;
  static constexpr unsigned kOffsetBits = 17;  // chunks up to 128 KiB: room for any key
  static constexpr size_t kMaxChunk = size_t{1} << kOffsetBits;
  static constexpr size_t kMaxChunks = (size_t{1} << (32 - kOffsetBits)) - 1;

  char* Entry(uint32_t ref) const {
    return chunks_[(ref >> kOffsetBits) - 1].get() + (ref & (kMaxChunk - 1));
  }

  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_capacity_ = 0;  // of the last chunk
  size_t chunk_used_ = 0;      // of the last chunk
  size_t allocated_ = 0;       // sum of chunk capacities
  size_t used_ = 0;            // bytes handed out, live or dead
  size_t dead_ = 0;
};

class KeydirShard {
 public:
  KeydirShard() = default;
  KeydirShard(const KeydirShard&) = delete;
  KeydirShard& operator=(const KeydirShard&) = delete;

  // Shared for the const methods, exclusive for the others.
  mutable util::SharedMutex mu;
  // Set (under the exclusive lock) when the DB closes; readers check it under the lock.
  bool closed = false;
  // Reads served by this shard; relaxed, next to the lock readers touch anyway.
  mutable std::atomic<uint64_t> gets{0};

  bool Find(std::string_view key, uint64_t hash, KeyLocation* loc) const;
  // Where Locate found a key. It stays valid while the caller holds the DB's write lock: only
  // writers insert keys or resize the table. (Merge and expiry may still remove the key, or
  // rebuild the arena, which changes references; RemoveAt checks for both.)
  struct Position {
    size_t index = SIZE_MAX;
    uint32_t ref = 0;
  };
  // Find that also says where the key is, for RemoveAt.
  bool Locate(std::string_view key, uint64_t hash, KeyLocation* loc, Position* pos) const;
  // Remove of a key Locate found at pos: the slot is taken as is if it still holds the
  // same entry, else the key is looked up again.
  bool RemoveAt(const Position& pos, std::string_view key, uint64_t hash, KeyLocation* old);
  // Inserts or replaces. Returns true (and the previous location) if the key was present.
  bool Upsert(std::string_view key, uint64_t hash, const KeyLocation& loc, KeyLocation* old);
  // Returns true (and the removed location) if the key was present.
  bool Remove(std::string_view key, uint64_t hash, KeyLocation* old);
  // Points key at `desired` only if it still points at `expected` (used by merge).
  bool ReplaceIf(std::string_view key, uint64_t hash, const KeyLocation& expected,
                 const KeyLocation& desired);
  // Removes key only if it still points at `expected` (merge dropping an expired record).
  bool RemoveIf(std::string_view key, uint64_t hash, const KeyLocation& expected);

  // Sizes the table for n keys at once (recovery knows roughly how many are coming), so it
  // does not grow step by step.
  void Reserve(size_t n);
  // Gives back table space a Reserve overestimated.
  void ShrinkToFit();

  // Starts loading the slot where a lookup of `hash` begins (batches look ahead with it).
  void Prefetch(uint64_t hash) const {
    if (capacity_ != 0) __builtin_prefetch(&slots_[Home(static_cast<uint32_t>(hash))]);
  }
  // The same without the lock, for a caller about to take it, so that the slot loads while
  // it waits: the table's address and size are read from copies in relaxed atomics that
  // Rehash updates. Copies a resize made stale prefetch a wrong line at worst; a prefetch
  // never faults, even where nothing is mapped.
  void PrefetchUnlocked(uint64_t hash) const {
    const size_t capacity = unlocked_capacity_.load(std::memory_order_relaxed);
    const uintptr_t slots = unlocked_slots_.load(std::memory_order_relaxed);
    if (capacity == 0) return;
    const size_t home = HomeIn(static_cast<uint32_t>(hash), capacity);
    __builtin_prefetch(reinterpret_cast<const void*>(slots + home * sizeof(Slot)));
  }
  // The next step, once that slot is in the cache: starts loading the key entry it points at,
  // if the slot holds this hash. (A key further along its probe sequence is not prefetched.)
  void PrefetchEntry(uint64_t hash) const {
    if (capacity_ == 0) return;
    const Slot& s = slots_[Home(static_cast<uint32_t>(hash))];
    if (s.ref > kDeletedRef && s.hash == static_cast<uint32_t>(hash)) arena_.Prefetch(s.ref);
  }

  size_t size() const { return count_; }
  // Keys whose record carries an expiry (they may have expired since).
  size_t expiring() const { return expiring_; }
  size_t MemoryUsage() const;

  // ---- Ordered index (range and prefix scans) ----
  // Built on first use and kept up to date from then on; see keydir.cc.

  // True if CollectAscending/CollectDescending can run under the shared lock; otherwise take
  // the exclusive lock and call PrepareOrdered first.
  bool OrderedReady() const { return indexed_ && pending_.empty(); }
  void PrepareOrdered();
  // Appends to *out, in ascending order, up to `max` keys k with from <= k (from < k if
  // !inclusive; no lower limit if from is null) and k < *upper (if upper is not null).
  // Returns true if the shard has no further keys in the range.
  bool CollectAscending(const std::string_view* from, bool inclusive, const std::string_view* upper,
                        size_t max, std::vector<std::string>* out) const;
  // The same walking down: keys k <= from (k < from if !inclusive), k >= *lower.
  bool CollectDescending(const std::string_view* from, bool inclusive,
                         const std::string_view* lower, size_t max,
                         std::vector<std::string>* out) const;
  // Bytes held by the ordered index.
  size_t OrderedIndexBytes() const;

  // Calls fn(std::string_view key, const KeyLocation&) for every key, in table order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; i++) {
      const uint32_t ref = slots_[i].ref;
      if (ref > kDeletedRef) fn(arena_.Key(ref), arena_.Location(ref));
    }
  }

 private:
  struct Slot {
    uint32_t ref;   // kEmptyRef, kDeletedRef or an arena reference
    uint32_t hash;  // low 32 bits of the key's hash: the home slot and a filter
  };
  static_assert(sizeof(Slot) == 8);
  static constexpr uint32_t kEmptyRef = 0;
  static constexpr uint32_t kDeletedRef = 1;

  // Home slot of a hash: multiply-shift maps it onto any capacity, so the table can grow by
  // half instead of doubling.
  static size_t HomeIn(uint32_t hash, size_t capacity) { return (uint64_t{hash} * capacity) >> 32; }
  size_t Home(uint32_t hash) const { return HomeIn(hash, capacity_); }
  size_t Next(size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }
  // Index of the slot holding key, or SIZE_MAX.
  size_t FindIndex(std::string_view key, uint32_t hash) const;
  // Removes the key in slot i.
  void RemoveSlot(size_t i, size_t key_size, KeyLocation* old);
  // Rebuilds the table with `capacity` slots, dropping deleted markers.
  void Rehash(size_t capacity);
  // Rebuilds the arena without the entries of removed keys.
  void CompactArena();

  SlotArray<Slot> slots_;
  size_t capacity_ = 0;
  // slots_'s address and capacity_ for PrefetchUnlocked, set by Rehash.
  std::atomic<uintptr_t> unlocked_slots_{0};
  std::atomic<size_t> unlocked_capacity_{0};
  size_t count_ = 0;     // live keys
  size_t deleted_ = 0;   // slots marked deleted
  size_t expiring_ = 0;  // live keys with has_expiry
  KeyArena arena_;

  // Ordered index: arena references in runs sorted by key, the newest (and smallest) last,
  // plus the references of keys inserted since the runs were last brought up to date. Runs
  // may hold references of removed keys (released entries); merging runs drops them.
  bool indexed_ = false;
  std::vector<uint32_t> pending_;
  std::vector<std::vector<uint32_t>> runs_;
  void RebuildOrdered();
};

class Keydir {
 public:
  static constexpr unsigned kShardBits = 5;
  static constexpr unsigned kNumShards = 1u << kShardBits;

  Keydir() : shards_(new PaddedShard[kNumShards]) {}

  static unsigned ShardIndex(uint64_t hash) {
    return static_cast<unsigned>(hash >> (64 - kShardBits));
  }
  KeydirShard& shard(unsigned index) { return shards_[index]; }
  const KeydirShard& shard(unsigned index) const { return shards_[index]; }
  KeydirShard& ShardFor(uint64_t hash) { return shards_[ShardIndex(hash)]; }
  const KeydirShard& ShardFor(uint64_t hash) const { return shards_[ShardIndex(hash)]; }

  // Totals over all shards, each read under its shared lock.
  size_t Size() const;
  size_t MemoryUsage() const;

 private:
  struct alignas(64) PaddedShard : KeydirShard {};
  std::unique_ptr<PaddedShard[]> shards_;
};

// The smallest string greater than every string starting with prefix, or false if there is
// none (prefix is empty or all 0xff): the upper bound of a prefix scan.
bool PrefixSuccessor(std::string prefix, std::string* out);

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_KEYDIR_H_
