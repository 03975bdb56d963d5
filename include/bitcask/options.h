// Options that control a bitcask store. Every field has a default that suits most users; the
// comment above each says when to change it.

#ifndef BITCASK_OPTIONS_H_
#define BITCASK_OPTIONS_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "bitcask/env.h"

namespace bitcask {

// When a write reaches stable storage (survives power loss). Whatever the mode, an
// acknowledged write is in the kernel's page cache before Put returns, so it survives a crash
// of the process (kill -9).
enum class SyncMode : unsigned char {
  // Leave flushing to the operating system. Fastest; a power loss can lose the last seconds.
  kNone,
  // A background thread flushes every `sync_interval_ms`. Bounded loss on power failure.
  kInterval,
  // Every write is flushed before it is acknowledged. Concurrent writers share one flush
  // (group commit), so throughput grows with the number of writing threads.
  kAlways,
};

// What Open does when a record fails its checksum somewhere other than the unfinished end of
// what was written. That end (a write a crash cut short, or pages a power cut kept from the
// disk after the last flush) is always cut off: it never holds a write acknowledged as
// flushed, which the format's sync marks tell apart (docs/FORMAT.md, "The end of a file").
enum class RecoveryMode : unsigned char {
  // Fail Open with Status::Corruption naming the file and offset. Nothing is changed on disk.
  kStrict,
  // Skip each unreadable region and keep every record that still verifies; the skipped byte
  // count is reported in Stats::corrupt_bytes_skipped. A damaged file header counts as 16
  // such bytes: the records after it are read, and new writes go to a new file. Files of a
  // newer format version still fail Open (NotSupported). DB::Check reports all of it; a
  // merge rewrites what was kept into sound files (dropping the keys, known from hint
  // files, whose records fail their checksum: Stats::damaged_keys_dropped), after which a
  // strict open works again. Use it to salvage a damaged store. A write in a skipped region
  // is lost: a key whose newest record was there may read as the version before it, and a
  // delete there may bring its key back (as with RocksDB's kSkipAnyCorruptedRecords); the
  // regions Check lists are where to look.
  kSkipCorrupt,
};

// Per-record value compression. The codec is recorded in each record, so a store can hold
// any mix and reads never depend on the current setting.
enum class Compression : unsigned char {
  kNone,
  kLz4,   // fast, modest ratio
  kZstd,  // slower to write, smaller
};

// A write the store committed, as a CommitListener sees it.
struct CommittedWrite {
  enum class Kind : uint8_t {
    kPut,      // key now holds value (with expire_at_ms, 0: none)
    kDelete,   // key was deleted
    kExpired,  // key's value expired and the store dropped it (no record is written for it)
  };
  Kind kind;
  std::string_view key;
  std::string_view value;  // kPut: the value as the writer gave it (never compressed)
  uint64_t expire_at_ms;   // kPut: milliseconds since the Unix epoch, 0 for none
};

// Told of every write the store commits, in the one order the store applies them across all
// its writers: a replication log built from these calls replays to the same store. A batch
// (WriteBatch, a transaction) comes in one call, its writes in batch order.
class CommitListener {
 public:
  virtual ~CommitListener() = default;
  // Called under the store's write lock, once the writes are in the data file and before any
  // reader can see them: it must be quick and must not call the DB. Not called for writes
  // that fail, nor for a delete of an absent key.
  virtual void OnCommit(std::span<const CommittedWrite> writes) = 0;
};

struct Options {
  // Create the directory (with missing parents, like mkdir -p) and an empty store if it
  // does not exist.
  bool create_if_missing = true;

  // Fail Open with InvalidArgument if the directory already holds a store.
  bool error_if_exists = false;

  // Open without taking the writer's lock: any number of read-only opens may run beside one
  // writer. A read-only DB sees the store as it was when opened; writes return
  // InvalidArgument. The writer may merge or seal files while such an open reads them: the
  // open then starts over, and after 20 attempts in a row returns IOError. It keeps the files
  // it read mapped: those a merge deletes give their disk space back only once it closes, so
  // reopen a long-lived reader now and then (which also shows it the writes since).
  bool read_only = false;

  // The active data file is closed and a new one started when the next record would make it
  // larger than this. Larger files mean fewer files and descriptors; smaller files make each
  // merge step shorter. A single record larger than this gets a file of its own.
  // Range: 4 KiB .. 4 GiB - 1.
  uint64_t max_file_size = 256ull << 20;

  // Durability of writes; see SyncMode.
  SyncMode sync_mode = SyncMode::kNone;

  // With SyncMode::kInterval: how often the background thread flushes.
  uint32_t sync_interval_ms = 1000;

  // Map active data files on 2 MiB pages (transparent huge pages, where the system has them):
  // fewer TLB misses. A flush writes back a dirty page whole, so a store flushed every few
  // writes should not: SyncMode::kAlways never does, and the store turns them off by itself
  // once flushes come close together, but only from the next 2 MiB on. A program that calls
  // Sync() after every write or batch (as bitcask-server does with appendfsync always) sets
  // this to false so that its first flushes are not slow too.
  bool huge_pages = true;

  // See RecoveryMode.
  RecoveryMode recovery_mode = RecoveryMode::kStrict;

  // Compress values of at least compression_min_bytes with this codec; a value that does
  // not shrink is stored as it is. Compression runs outside the write lock. Worth it for
  // text-like values (JSON); not for values that are already compressed.
  Compression compression = Compression::kNone;
  uint32_t compression_min_bytes = 256;
  // zstd level (1 = fastest .. 19); ignored by lz4.
  int compression_level = 1;

  // One operation in this many is timed for the latency percentiles in Stats (two clock
  // reads cost about a fifth of a cached Get). 1 times every operation; 0 none.
  uint32_t latency_sample_every = 64;

  // The file system and the clock the store uses (env.h): not owned, must outlive the DB.
  // nullptr: the operating system's (Env::Default()). Tests wrap it to inject faults or
  // move time by hand.
  Env* env = nullptr;

  // Told of every committed write, in commit order (see CommitListener): not owned, must
  // outlive the DB. nullptr: nobody is told.
  CommitListener* commit_listener = nullptr;

  // ---- Merge (compaction) ------------------------------------------------------------
  // A merge rewrites the live records of some data files into new files (each with a hint
  // file) and deletes the old ones, reclaiming the space of overwritten, deleted and expired
  // records. DB::Merge() merges everything on demand; with auto_merge a background thread
  // checks the triggers below every merge_check_interval_ms, and when a data file fills up
  // (at most once a second; after a merge failed, only at the interval), and merges the files
  // that cross the thresholds. The defaults are Riak's; Riak checks only on the interval,
  // which lets a burst of overwrites pile its dead records on the disk for minutes.

  bool auto_merge = true;
  uint32_t merge_check_interval_ms = 3 * 60 * 1000;

  // Triggers: a merge starts when any one holds (0 disables that trigger).
  // A file whose dead bytes are at least this fraction of the file.
  double merge_trigger_fragmentation = 0.6;
  // A file with at least this many dead bytes.
  uint64_t merge_trigger_dead_bytes = 512ull << 20;
  // At least this many dead bytes over all files together.
  uint64_t merge_trigger_total_dead_bytes = 0;

  // Thresholds: once triggered, a merge takes every file (but the active one) that crosses
  // any of these.
  double merge_threshold_fragmentation = 0.4;
  uint64_t merge_threshold_dead_bytes = 128ull << 20;
  // Files smaller than this are merged too, so small files do not pile up. A file of at
  // least half max_file_size is never small, whatever this says.
  uint64_t merge_small_file_threshold = 10ull << 20;

  // Automatic merges run only from merge_window_start_hour to merge_window_end_hour (local
  // time, 0-23, the end exclusive; a window may wrap past midnight). -1 for both: any time.
  int merge_window_start_hour = -1;
  int merge_window_end_hour = -1;
};

struct WriteOptions {
  // Flush to stable storage before returning, whatever Options::sync_mode says.
  bool sync = false;

  // Expiry for Put (ignored by Delete): an absolute time in milliseconds since the Unix epoch,
  // or a time to live counted from now. Zero means no expiry; if both are set, expire_at_ms
  // wins. An expired key reads as missing and is dropped by merge.
  uint64_t expire_at_ms = 0;
  uint64_t ttl_ms = 0;
};

}  // namespace bitcask

#endif  // BITCASK_OPTIONS_H_
