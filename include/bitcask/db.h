// DB: a Bitcask key-value store in one directory.
//
//   std::unique_ptr<bitcask::DB> db;
//   bitcask::Status s = bitcask::DB::Open(bitcask::Options(), "/tmp/store", &db);
//   if (s.ok()) s = db->Put("user:1", "alice");
//   std::string value;
//   if (s.ok()) s = db->Get("user:1", &value);
//
// Writes append records to the active data file; an in-memory key directory maps each key to
// its newest record, so a read is one hash lookup and one copy from a memory-mapped file.
// Every method may be called from any number of threads at once. Errors come back as Status
// values; nothing throws.

#ifndef BITCASK_DB_H_
#define BITCASK_DB_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bitcask/iterator.h"
#include "bitcask/options.h"
#include "bitcask/stats.h"
#include "bitcask/status.h"
#include "bitcask/write_batch.h"

namespace bitcask {

// Largest key, in bytes. Longer keys get InvalidArgument.
inline constexpr size_t kMaxKeySize = 65535;
// Largest value, in bytes (1 GiB). Larger values get InvalidArgument.
inline constexpr size_t kMaxValueSize = size_t{1} << 30;

// InvalidArgument naming the key if it is longer than kMaxKeySize, or its value longer than
// kMaxValueSize: the checks every write makes, for code that gathers writes before it makes
// them (a transaction that commits as one batch).
Status ValidateKey(std::string_view key);
Status ValidateValue(std::string_view key, std::string_view value);

// Bounds for NewIterator. Empty strings mean unbounded.
struct IteratorOptions {
  std::string lower_bound;  // inclusive
  std::string upper_bound;  // exclusive
  std::string prefix;       // only keys that start with this
};

class DB {
 public:
  // Opens the store in `dir`, creating it if options.create_if_missing. Replays the data
  // files: a torn tail left by a crash is truncated, any other bad record fails with
  // Corruption (see Options::recovery_mode). Returns Busy if another writer holds the store.
  static Status Open(const Options& options, const std::string& dir, std::unique_ptr<DB>* db);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Closes the store if Close was not called.
  virtual ~DB() = default;

  // Stores value under key, replacing any previous value.
  virtual Status Put(std::string_view key, std::string_view value,
                     const WriteOptions& options = {}) = 0;

  // NotFound if the key is absent or expired.
  virtual Status Get(std::string_view key, std::string* value) = 0;

  // Get without a copy: calls read(arg, value) with the stored value (decompressed, if it
  // was compressed) and returns OK; on any other status read is not called, with one
  // exception: if the disk fails to read a page of the value while read runs (it was
  // checksummed just before), read sees zeros and GetView then returns IOError, so discard
  // what read made of it unless the status is OK. The view is valid only during the call,
  // which runs under a read lock of part of the key directory: read must be quick and must
  // not call this DB (writers of that part wait for it).
  using ValueReader = void (*)(void* arg, std::string_view value);
  virtual Status GetView(std::string_view key, ValueReader read, void* arg) = 0;
  // The same with any callable taking a std::string_view:
  //   db->GetView(key, [&](std::string_view v) { consume(v); });
  template <typename F>
  Status GetView(std::string_view key, F&& read) {
    return GetView(
        key, [](void* f, std::string_view v) { (*static_cast<std::remove_reference_t<F>*>(f))(v); },
        const_cast<void*>(static_cast<const void*>(&read)));
  }

  // Get that also reports the key's expiry (milliseconds since the Unix epoch, 0 = none).
  // value may be null to read only the expiry.
  virtual Status GetWithExpiry(std::string_view key, std::string* value,
                               uint64_t* expire_at_ms) = 0;

  // Gets many keys in one call: statuses[i] and values[i] are what Get(keys[i], &values[i])
  // would give, all at one moment: no write (a Put, a Delete, a batch) is seen half done, and
  // of two writes one after the other the second is not seen without the first. Writers of
  // the keys' parts of the key directory wait while it reads. Faster than a loop of Gets
  // when the keys are not in the CPU cache, because it overlaps their memory accesses. The
  // spans must have the same length.
  virtual void MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                        std::span<Status> statuses) = 0;
  // The same, RocksDB's way: values is resized to keys.size(); one status per key.
  std::vector<Status> MultiGet(const std::vector<std::string_view>& keys,
                               std::vector<std::string>* values) {
    values->resize(keys.size());
    std::vector<Status> statuses(keys.size());
    MultiGet(keys, *values, statuses);
    return statuses;
  }

  // What an Update function decides to do with the key.
  enum class UpdateAction {
    kKeep,    // write nothing
    kPut,     // store *next (with the expiry left in *expire_at_ms)
    kDelete,  // remove the key (nothing is written if it was absent)
  };
  // current: the key's value, or null if it is absent or expired. expire_at_ms: its expiry
  // (milliseconds since the Unix epoch, 0 = none; 0 for an absent key); what the function
  // leaves there is the new record's expiry. next: where to put the new value.
  using UpdateFn = std::function<UpdateAction(const std::string* current, uint64_t* expire_at_ms,
                                              std::string* next)>;

  // Read-modify-write of one key, atomic against every other write: no write to the store
  // comes between the read that `update` sees and the write it asks for (a counter, an
  // append, a compare-and-set). `update` runs while other writers wait, so it must be quick
  // and must not call this DB. options.sync applies; its expiry fields do not (the function
  // sets the expiry). Returns OK once the decision is carried out; a damaged current record
  // returns Corruption without calling `update`.
  virtual Status Update(std::string_view key, const UpdateFn& update,
                        const WriteOptions& options = {}) = 0;

  // A hint: starts loading into the CPU cache what operations on these keys will read (key
  // directory slots and entries, and the head of each key's record), several keys at a time,
  // so that a Get, Put, Update or Delete of them soon after does not wait for memory key by
  // key. Changes nothing. A server that has a pipeline of requests in hand calls it with
  // their keys before running them one by one.
  virtual void Prefetch(std::span<const std::string_view> keys) = 0;

  // Removes key. NotFound (and nothing written) if it was not there.
  virtual Status Delete(std::string_view key, const WriteOptions& options = {}) = 0;

  // OK if key is present, NotFound if not.
  virtual Status Contains(std::string_view key) = 0;

  // Applies every operation of the batch, or none of them.
  virtual Status Write(const WriteBatch& batch, const WriteOptions& options = {}) = 0;

  // Ordered iteration; see iterator.h for what an iterator sees under concurrent writes.
  virtual std::unique_ptr<Iterator> NewIterator(const IteratorOptions& options = {}) = 0;

  // All live keys starting with `prefix` (all keys if empty), in bytewise order, as of one
  // moment: a batch is in them whole or not at all (an iterator gives no such promise).
  // Writes wait while it gathers them (reads do not), as a Redis KEYS holds its server; all
  // keys means a walk of the whole key directory, a prefix a lookup in the ordered index
  // (built by the first prefix lookup or iterator).
  virtual Status Keys(std::vector<std::string>* keys, std::string_view prefix = {}) = 0;

  // Number of live keys (expired ones not counted), as of one moment like Keys. Cheap unless
  // many keys carry an expiry.
  virtual Status Count(uint64_t* n) = 0;

  // Flushes every acknowledged write to stable storage.
  virtual Status Sync() = 0;

  // Rewrites the live records of every data file written so far into new files, each with a
  // hint file, and deletes the old files: overwritten, deleted and expired records give their
  // space back. Reads and writes go on meanwhile. Returns when the merge is done. A crash at
  // any point of it leaves a store that opens with every acknowledged write.
  virtual Status Merge() = 0;

  // Flushes, trims the active file and releases the lock. Later calls return Closed.
  // Idempotent.
  virtual Status Close() = 0;

  virtual Status GetStats(Stats* stats) = 0;

  // Reads every record of every data file and verifies its checksum, and checks every hint
  // file against its data file. Fills *report; returns Corruption (naming the first problem)
  // if anything is wrong. Writes may continue meanwhile; records written during the check
  // may not be covered. progress, if set, is called now and then with the bytes checked so
  // far and the bytes to check in all.
  using CheckProgress = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;
  virtual Status Check(CheckReport* report, const CheckProgress& progress) = 0;
  Status Check(CheckReport* report) { return Check(report, nullptr); }

  // Makes a copy of the store as it is now in dir, a new directory (its parent must exist),
  // while reads and writes go on: a hot backup, as RocksDB's Checkpoint. Every write
  // acknowledged before the call is in the copy, and no batch is in it in part. Sealed data
  // files and their hint files are hard links, so the copy takes almost no time or space on
  // the same file system (elsewhere they are copied); the active file's written part is
  // copied. The copy is flushed to stable storage, and appears under its name only once
  // complete. Open it as any store. A merge waits while it runs (and it for a running one).
  //
  // at_point, if set, is called under the store's write lock at the moment the copy stands
  // for: every write committed before it is in the copy, none committed after it is. A
  // CommitListener's position read there is the copy's place in the listener's stream.
  virtual Status Checkpoint(const std::string& dir, const std::function<void()>& at_point) = 0;
  Status Checkpoint(const std::string& dir) { return Checkpoint(dir, nullptr); }
};

}  // namespace bitcask

#endif  // BITCASK_DB_H_
