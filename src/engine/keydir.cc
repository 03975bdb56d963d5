#include "engine/keydir.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "util/coding.h"

namespace bitcask::engine {

namespace {

// Key length prefix: LEB128, 1 byte below 128, 2 below 16384, 3 up to the 64 KiB key limit.
size_t PrefixSize(size_t len) { return len < 0x80 ? 1 : len < 0x4000 ? 2 : 3; }

char* EncodePrefix(char* p, size_t len) {
  while (len >= 0x80) {
    *p++ = static_cast<char>(len | 0x80);
    len >>= 7;
  }
  *p++ = static_cast<char>(len);
  return p;
}

}  // namespace

// ---- KeyArena -----------------------------------------------------------------------------
// Entry: u32 file id << 8 | flags (bit 0: has expiry), u32 offset, u32 size, LEB128 key
// length, key bytes. Unaligned; read and written with memcpy.

uint32_t KeyArena::Add(std::string_view key, const KeyLocation& loc) {
  const size_t need = kLocationBytes + PrefixSize(key.size()) + key.size();
  if (chunks_.empty() || chunk_used_ + need > chunk_capacity_) {
    if (chunks_.size() == kMaxChunks) {
      // 32767 chunks of up to 128 KiB: a store needs over 256 GiB of keys in memory first.
      std::fprintf(stderr, "bitcask: key directory shard exceeds 4 GiB of keys\n");
      std::abort();
    }
    // Chunks grow with the arena (1/16 of it, 4 KiB to 128 KiB), so a small store stays small
    // and the unused tail of the newest chunk stays a small share of a large one.
    size_t cap = std::clamp<size_t>(allocated_ / 16, 4096, kMaxChunk);
    cap = std::max(cap, need);
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(cap));
    chunk_capacity_ = cap;
    chunk_used_ = 0;
    allocated_ += cap;
  }
  const uint32_t ref = static_cast<uint32_t>(chunks_.size() << kOffsetBits | chunk_used_);
  char* p = chunks_.back().get() + chunk_used_;
  SetLocation(ref, loc);
  p = EncodePrefix(p + kLocationBytes, key.size());
  std::memcpy(p, key.data(), key.size());
  chunk_used_ += need;
  used_ += need;
  return ref;
}

std::string_view KeyArena::Key(uint32_t ref) const {
  const auto* p = reinterpret_cast<const unsigned char*>(Entry(ref) + kLocationBytes);
  size_t len = p[0];
  if (len < 0x80) return {reinterpret_cast<const char*>(p + 1), len};
  len = (len & 0x7f) | size_t{p[1] & 0x7fu} << 7;
  if (p[1] < 0x80) return {reinterpret_cast<const char*>(p + 2), len};
  len |= size_t{p[2]} << 14;
  return {reinterpret_cast<const char*>(p + 3), len};
}

KeyLocation KeyArena::Location(uint32_t ref) const {
  // Two loads, the fields cut out of them: decoding field by field, GCC 12 assembled the
  // returned struct a byte at a time (37 instructions; 13 now).
  const char* p = Entry(ref);
  const uint64_t file_flags_offset = util::DecodeFixed64(p);
  KeyLocation loc;
  loc.file_id = static_cast<uint32_t>(file_flags_offset) >> 8;
  loc.offset = static_cast<uint32_t>(file_flags_offset >> 32);
  loc.size = util::DecodeFixed32(p + 8);
  loc.has_expiry = (file_flags_offset & kHasExpiryFlag) != 0;
  return loc;
}

void KeyArena::SetLocation(uint32_t ref, const KeyLocation& loc) {
  assert(loc.file_id <= kMaxFileId && loc.size <= kMaxLocationSize);
  char* p = Entry(ref);
  util::EncodeFixed32(p, loc.file_id << 8 | (loc.has_expiry ? uint32_t{kHasExpiryFlag} : 0u));
  util::EncodeFixed32(p + 4, loc.offset);
  util::EncodeFixed32(p + 8, loc.size);
}

void KeyArena::Release(uint32_t ref, size_t key_size) {
  assert(Key(ref).size() == key_size);
  dead_ += kLocationBytes + PrefixSize(key_size) + key_size;
  Entry(ref)[0] |= kReleasedFlag;
}

// ---- KeydirShard --------------------------------------------------------------------------

size_t KeydirShard::FindIndex(std::string_view key, uint32_t hash) const {
  if (capacity_ == 0) return SIZE_MAX;
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot& s = slots_[i];
    if (s.ref == kEmptyRef) return SIZE_MAX;
    if (s.hash == hash && s.ref != kDeletedRef && arena_.KeyEquals(s.ref, key)) return i;
  }
}

bool KeydirShard::Find(std::string_view key, uint64_t hash, KeyLocation* loc) const {
  const size_t i = FindIndex(key, static_cast<uint32_t>(hash));
  if (i == SIZE_MAX) return false;
  *loc = arena_.Location(slots_[i].ref);
  return true;
}

bool KeydirShard::Upsert(std::string_view key, uint64_t hash64, const KeyLocation& loc,
                         KeyLocation* old) {
  const uint32_t hash = static_cast<uint32_t>(hash64);
  size_t reuse = SIZE_MAX;
  if (capacity_ != 0) {
    for (size_t i = Home(hash);; i = Next(i)) {
      Slot& s = slots_[i];
      if (s.ref == kEmptyRef) {
        if (reuse == SIZE_MAX) reuse = i;
        break;
      }
      if (s.ref == kDeletedRef) {
        if (reuse == SIZE_MAX) reuse = i;
      } else if (s.hash == hash && arena_.KeyEquals(s.ref, key)) {
        *old = arena_.Location(s.ref);
        arena_.SetLocation(s.ref, loc);
        expiring_ += size_t{loc.has_expiry} - size_t{old->has_expiry};
        return true;
      }
    }
  }
  // A new key. Live plus deleted slots stay at or below 80% of the table, so probes stay
  // short and every probe sequence ends at an empty slot.
  const bool reuses_deleted = reuse != SIZE_MAX && slots_[reuse].ref == kDeletedRef;
  if (!reuses_deleted && (count_ + deleted_ + 1) * 5 > capacity_ * 4) {
    size_t capacity = std::max<size_t>(capacity_, 16);
    while ((count_ + 1) * 5 > capacity * 3) capacity += capacity / 2;  // to <= 60% full
    Rehash(capacity);
    reuse = Home(hash);
    while (slots_[reuse].ref != kEmptyRef) reuse = Next(reuse);
  }
  Slot& s = slots_[reuse];
  if (s.ref == kDeletedRef) --deleted_;
  s.ref = arena_.Add(key, loc);
  s.hash = hash;
  ++count_;
  expiring_ += loc.has_expiry;
  if (indexed_) pending_.push_back(s.ref);
  return false;
}

bool KeydirShard::Locate(std::string_view key, uint64_t hash, KeyLocation* loc,
                         Position* pos) const {
  const size_t i = FindIndex(key, static_cast<uint32_t>(hash));
  if (i == SIZE_MAX) return false;
  *pos = Position{i, slots_[i].ref};
  *loc = arena_.Location(pos->ref);
  return true;
}

bool KeydirShard::RemoveAt(const Position& pos, std::string_view key, uint64_t hash,
                           KeyLocation* old) {
  // No key can have moved into the slot since: that takes an insert or a resize, which only
  // the writer does. So the same reference there is the same key.
  if (pos.index < capacity_ && slots_[pos.index].ref == pos.ref) {
    RemoveSlot(pos.index, key.size(), old);
    return true;
  }
  return Remove(key, hash, old);
}

bool KeydirShard::Remove(std::string_view key, uint64_t hash, KeyLocation* old) {
  const size_t i = FindIndex(key, static_cast<uint32_t>(hash));
  if (i == SIZE_MAX) return false;
  RemoveSlot(i, key.size(), old);
  return true;
}

void KeydirShard::RemoveSlot(size_t i, size_t key_size, KeyLocation* old) {
  Slot& s = slots_[i];
  *old = arena_.Location(s.ref);
  arena_.Release(s.ref, key_size);
  s.ref = kDeletedRef;
  --count_;
  ++deleted_;
  expiring_ -= old->has_expiry;
  // Reclaim entry bytes once most of the arena is garbage.
  if (arena_.dead_bytes() > 64 * 1024 && arena_.dead_bytes() > arena_.live_bytes()) CompactArena();
}

bool KeydirShard::ReplaceIf(std::string_view key, uint64_t hash, const KeyLocation& expected,
                            const KeyLocation& desired) {
  const size_t i = FindIndex(key, static_cast<uint32_t>(hash));
  if (i == SIZE_MAX || !(arena_.Location(slots_[i].ref) == expected)) return false;
  arena_.SetLocation(slots_[i].ref, desired);
  expiring_ += size_t{desired.has_expiry} - size_t{expected.has_expiry};
  return true;
}

bool KeydirShard::RemoveIf(std::string_view key, uint64_t hash, const KeyLocation& expected) {
  const size_t i = FindIndex(key, static_cast<uint32_t>(hash));
  if (i == SIZE_MAX || !(arena_.Location(slots_[i].ref) == expected)) return false;
  KeyLocation old;
  RemoveSlot(i, key.size(), &old);
  return true;
}

void KeydirShard::Reserve(size_t n) {
  const size_t capacity = std::max<size_t>(16, n * 10 / 7);  // 70% full at n keys
  if (capacity > capacity_) Rehash(capacity);
}

void KeydirShard::ShrinkToFit() {
  // Rebuild at 60% full if the table is less than a third full (it would never have grown
  // past 80% by itself, so this only undoes an overestimate).
  if (capacity_ > 16 && (count_ + deleted_) * 3 < capacity_) {
    Rehash(std::max<size_t>(16, count_ * 5 / 3));
  }
}

void KeydirShard::Rehash(size_t capacity) {
  SlotArray<Slot> old = std::move(slots_);
  const size_t old_capacity = capacity_;
  slots_ = SlotArray<Slot>(capacity);  // zero-filled: all kEmptyRef
  capacity_ = capacity;
  unlocked_slots_.store(reinterpret_cast<uintptr_t>(&slots_[0]), std::memory_order_relaxed);
  unlocked_capacity_.store(capacity, std::memory_order_relaxed);
  deleted_ = 0;
  for (size_t j = 0; j < old_capacity; j++) {
    const Slot& s = old[j];
    if (s.ref <= kDeletedRef) continue;
    size_t i = Home(s.hash);
    while (slots_[i].ref != kEmptyRef) i = Next(i);
    slots_[i] = s;
  }
}

void KeydirShard::CompactArena() {
  KeyArena fresh;
  for (size_t i = 0; i < capacity_; i++) {
    Slot& s = slots_[i];
    if (s.ref > kDeletedRef) s.ref = fresh.Add(arena_.Key(s.ref), arena_.Location(s.ref));
  }
  arena_ = std::move(fresh);
  if (indexed_) RebuildOrdered();  // every reference changed
}

// ---- Ordered index ------------------------------------------------------------------------
//
// Scans are rarer than writes, so the index costs a write nothing until the first scan: then
// it is built (a sort of the shard's keys), and from then on a new key costs one append to
// pending_. Before a scan, pending_ is sorted into a run and runs merge, binary-counter
// style, while the newer one is at least half the size of the older: at most log2(n) runs,
// O(log n) amortised work per key. Removed keys stay in runs until a merge drops them (or an
// arena rebuild rebuilds everything).

void KeydirShard::RebuildOrdered() {
  std::vector<uint32_t> all;
  all.reserve(count_);
  for (size_t i = 0; i < capacity_; i++) {
    if (slots_[i].ref > kDeletedRef) all.push_back(slots_[i].ref);
  }
  std::sort(all.begin(), all.end(),
            [this](uint32_t a, uint32_t b) { return arena_.Key(a) < arena_.Key(b); });
  runs_.clear();
  runs_.push_back(std::move(all));
  pending_.clear();
  indexed_ = true;
}

void KeydirShard::PrepareOrdered() {
  if (!indexed_) {
    RebuildOrdered();
    return;
  }
  auto by_key = [this](uint32_t a, uint32_t b) { return arena_.Key(a) < arena_.Key(b); };
  if (!pending_.empty()) {
    std::erase_if(pending_, [this](uint32_t r) { return arena_.IsReleased(r); });
    std::sort(pending_.begin(), pending_.end(), by_key);
    runs_.push_back(std::move(pending_));
    pending_.clear();
  }
  while (runs_.size() >= 2 && runs_[runs_.size() - 2].size() <= 2 * runs_.back().size()) {
    std::vector<uint32_t> merged;
    const auto& a = runs_[runs_.size() - 2];
    const auto& b = runs_.back();
    merged.reserve(a.size() + b.size());
    std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged), by_key);
    std::erase_if(merged, [this](uint32_t r) { return arena_.IsReleased(r); });
    runs_.pop_back();
    runs_.back() = std::move(merged);
  }
}

namespace {

// A position in each run, advanced in lock step to merge the runs.
struct RunCursor {
  const std::vector<uint32_t>* run;
  size_t pos;  // next index to look at (ascending) or one past it (descending)
};

}  // namespace

bool KeydirShard::CollectAscending(const std::string_view* from, bool inclusive,
                                   const std::string_view* upper, size_t max,
                                   std::vector<std::string>* out) const {
  std::vector<RunCursor> cursors;
  for (const auto& run : runs_) {
    size_t pos = 0;  // the first key at or after `from`
    if (from != nullptr) {
      pos = std::partition_point(run.begin(), run.end(),
                                 [&](uint32_t r) {
                                   const std::string_view k = arena_.Key(r);
                                   return inclusive ? k < *from : k <= *from;
                                 }) -
            run.begin();
    }
    cursors.push_back({&run, pos});
  }
  size_t taken = 0;
  while (true) {
    RunCursor* best = nullptr;
    std::string_view best_key;
    for (RunCursor& c : cursors) {
      while (c.pos < c.run->size() && arena_.IsReleased((*c.run)[c.pos])) c.pos++;
      if (c.pos == c.run->size()) continue;
      const std::string_view k = arena_.Key((*c.run)[c.pos]);
      if (best == nullptr || k < best_key) {
        best = &c;
        best_key = k;
      }
    }
    if (best == nullptr || (upper != nullptr && best_key >= *upper)) return true;
    if (taken == max) return false;
    out->emplace_back(best_key);
    taken++;
    best->pos++;
  }
}

bool KeydirShard::CollectDescending(const std::string_view* from, bool inclusive,
                                    const std::string_view* lower, size_t max,
                                    std::vector<std::string>* out) const {
  std::vector<RunCursor> cursors;
  for (const auto& run : runs_) {
    size_t pos = run.size();  // one past the next index to look at
    if (from != nullptr) {
      pos = std::partition_point(run.begin(), run.end(),
                                 [&](uint32_t r) {
                                   const std::string_view k = arena_.Key(r);
                                   return inclusive ? k <= *from : k < *from;
                                 }) -
            run.begin();
    }
    cursors.push_back({&run, pos});
  }
  size_t taken = 0;
  while (true) {
    RunCursor* best = nullptr;
    std::string_view best_key;
    for (RunCursor& c : cursors) {
      while (c.pos > 0 && arena_.IsReleased((*c.run)[c.pos - 1])) c.pos--;
      if (c.pos == 0) continue;
      const std::string_view k = arena_.Key((*c.run)[c.pos - 1]);
      if (best == nullptr || k > best_key) {
        best = &c;
        best_key = k;
      }
    }
    if (best == nullptr || (lower != nullptr && best_key < *lower)) return true;
    if (taken == max) return false;
    out->emplace_back(best_key);
    taken++;
    best->pos--;
  }
}

size_t KeydirShard::OrderedIndexBytes() const {
  size_t n = pending_.capacity() * sizeof(uint32_t);
  for (const auto& run : runs_) n += run.capacity() * sizeof(uint32_t);
  return n;
}

size_t KeydirShard::MemoryUsage() const {
  return capacity_ * sizeof(Slot) + arena_.allocated_bytes() + OrderedIndexBytes();
}

// ---- Keydir -------------------------------------------------------------------------------

size_t Keydir::Size() const {
  size_t n = 0;
  for (unsigned i = 0; i < kNumShards; i++) {
    std::shared_lock l(shards_[i].mu);
    n += shards_[i].size();
  }
  return n;
}

size_t Keydir::MemoryUsage() const {
  size_t n = sizeof(PaddedShard) * kNumShards;
  for (unsigned i = 0; i < kNumShards; i++) {
    std::shared_lock l(shards_[i].mu);
    n += shards_[i].MemoryUsage();
  }
  return n;
}

bool PrefixSuccessor(std::string prefix, std::string* out) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return false;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  *out = std::move(prefix);
  return true;
}

}  // namespace bitcask::engine
