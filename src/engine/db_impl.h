// DBImpl: the store itself. Ties the data files, the key directory, the write path, group
// commit and recovery together.
//
// Locking, outermost first:
//   write_mu_      one writer at a time: appends, rotation, keydir changes, Close.
//   shard.mu       (Keydir) exclusive while a key's location changes; shared while a reader
//                  looks a key up and copies its record out of the mapped file.
//   sync_mu_       group-commit state. The sync leader takes write_mu_ holding nothing else;
//                  merge takes write_mu_ while holding sync_mu_ (to delete files no flush
//                  is using); nobody takes sync_mu_ while holding write_mu_.
//   merge_mu_      one merge or hint-writing job at a time; held outside all of the above.
// Readers take only one shard lock, never write_mu_.

#ifndef BITCASK_ENGINE_DB_IMPL_H_
#define BITCASK_ENGINE_DB_IMPL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bitcask/db.h"
#include "engine/data_file.h"
#include "engine/file_table.h"
#include "engine/file_util.h"
#include "engine/format.h"
#include "engine/hint.h"
#include "engine/keydir.h"
#include "engine/recovery.h"
#include "util/histogram.h"
#include "util/mutex.h"
#include "util/thread_annotations.h"

namespace bitcask::engine {

// Forks this process has been through: each child adds one (pthread_atfork, registered when
// the first store opens). A store remembers the count at Open.
extern std::atomic<uint32_t> forks_counted;

class DBImpl final : public DB {
 public:
  DBImpl(const Options& options, std::string dir);
  ~DBImpl() override;

  // Opens or creates the store: takes the lock, replays the files, starts background work.
  Status Recover();
  // After a read-only Recover that failed or met an unreadable page: whether a writer changed
  // the store since Recover listed it (a data file gone or added, or one whose size is not
  // what was mapped), which can do that to a sound store (DB::Open then starts over).
  bool ChangedSinceListed() const;
  // Whether reading a data file's mapping met a page that could not be read (SIGBUS).
  bool MappingFaulted() const;
  // Test-only, process-wide: called with "open:listed" once Recover has listed the directory
  // and "open:mapped" once it has mapped every data file, before reading them. Null to clear.
  static void TEST_SetOpenHook(std::function<void(std::string_view)> hook);

  Status Put(std::string_view key, std::string_view value, const WriteOptions& options) override;
  Status Get(std::string_view key, std::string* value) override;
  Status GetWithExpiry(std::string_view key, std::string* value, uint64_t* expire_at_ms) override;
  Status GetView(std::string_view key, ValueReader read, void* arg) override;
  using DB::GetView;
  void MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                std::span<Status> statuses) override;
  using DB::MultiGet;
  void Prefetch(std::span<const std::string_view> keys) override;
  Status Delete(std::string_view key, const WriteOptions& options) override;
  Status Update(std::string_view key, const UpdateFn& update, const WriteOptions& options) override;
  Status Contains(std::string_view key) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  std::unique_ptr<Iterator> NewIterator(const IteratorOptions& options) override;
  Status Keys(std::vector<std::string>* keys, std::string_view prefix = {}) override;
  Status Count(uint64_t* n) override { return CountLive(n); }
  Status Sync() override;
  Status Merge() override;
  Status Close() override;
  Status GetStats(Stats* stats) override;
  Status Check(CheckReport* report, const CheckProgress& progress) override;
  Status Checkpoint(const std::string& dir, const std::function<void()>& at_point) override;
  using DB::Check;
  using DB::Checkpoint;

  // Merge (merge.cc). Rewrites the files `select` picks among the immutable ones (after the
  // active file is sealed) into new files; see merge.cc for why this keeps every key's newest
  // record newest. Merge() selects every file; the background thread, those over the
  // thresholds in Options.
  Status MergeFiles(const std::function<bool(const FileStats&)>& select);

  // Test-only: called with the name of each step a merge reaches ("merge:output-written",
  // "merge:outputs-published", "merge:input-deleted", "merge:done"), so crash tests can kill
  // the process between steps. Set before any merge runs.
  void TEST_SetMergeHook(std::function<void(std::string_view)> hook) {
    test_hook_ = std::move(hook);
  }
  // Test-only: the sealed files the next flush covers.
  std::vector<uint32_t> TEST_FilesAwaitingFlush() {
    util::MutexLock l(&write_mu_);
    return unsynced_sealed_;
  }

 private:
  // One operation on its way to disk.
  struct Op {
    bool is_delete;
    std::string_view key;
    std::string_view value;  // as stored: compressed if codec says so
    uint64_t expire_at_ms;
    uint64_t hash = 0;
    uint8_t codec = 0;                   // format::Codec
    std::string_view uncompressed = {};  // the value as given, when codec compressed it
  };
  // Tells options_.commit_listener of ops, which are in the active file now.
  void NotifyCommitLocked(std::span<const Op> ops) REQUIRES(write_mu_);

  uint64_t NowMillis() const;
  // True for one call in options_.latency_sample_every (per thread).
  bool SampleThisOp() const;
  // Runs op() and, for a sample of calls, records its latency in h.
  template <typename F>
  Status Timed(util::LatencyHistogram& h, F&& op) {
    if (!SampleThisOp()) return op();
    const auto t0 = std::chrono::steady_clock::now();
    Status s = op();
    h.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count()));
    return s;
  }
  // value may be null (only the expiry wanted); expire_at_ms may be null.
  Status GetImpl(std::string_view key, std::string* value, uint64_t* expire_at_ms);
  // Finds key and returns read(location) under the read lock of its shard; NotFound if the
  // key is not in the keydir.
  template <typename F>
  Status ReadKeyLocked(std::string_view key, F&& read);
  // The same once the caller holds the read lock of the key's shard.
  template <typename F>
  Status FindLocked(const KeydirShard& shard, std::string_view key, uint64_t hash, F&& read) const;
  // Keys (with their hashes) MultiGet and Prefetch read at once: at most kPrefetchGroup.
  static constexpr size_t kPrefetchGroup = 16;
  // Brings the keydir slots, entries and record heads of keys into the cache, one pass per
  // level, so the misses of all keys overlap. Caller holds the read locks of their shards.
  void PrefetchGroupLocked(std::span<const std::string_view> keys, const uint64_t* hashes) const;
  // The keydir shards of these hashes, one bit each.
  static uint64_t ShardMask(const uint64_t* hashes, size_t n);
  // The value and expiry of the record at loc, which must hold key; NotFound if it has
  // expired. value and expire_at_ms may be null. Caller holds the key's shard lock.
  Status ReadValueLocked(const KeyLocation& loc, std::string_view key, std::string* value,
                         uint64_t* expire_at_ms) const;
  // The decompressed value of rec (read from loc, compressed). Caller holds the shard lock.
  Status DecompressLocked(const KeyLocation& loc, const format::RecordView& rec,
                          std::string* value) const;
  bool Expired(uint64_t expire_at_ms) const {
    return expire_at_ms != 0 && expire_at_ms <= NowMillis();
  }
  Status CheckWritable() const REQUIRES(write_mu_);
  // Whether files start with huge pages (never with SyncMode::kAlways; see huge_pages_).
  bool HugePagesAtOpen() const {
    return options_.huge_pages && options_.sync_mode != SyncMode::kAlways;
  }

  // Whether this process is a child forked after the store was opened. The store then
  // belongs to the parent, which goes on writing its files; its threads are not here, and
  // its locks may have been held by them at the fork. Every call then fails with
  // ForkedChildError (checked before any lock is taken), and Close and the destructor
  // forget the parent's state (ForgetParentState) instead of flushing, sealing or joining.
  bool Forked() const { return forks_at_open_ != forks_counted.load(std::memory_order_relaxed); }
  Status ForkedChildError() const;
  void ForgetParentState();

  // Validates, appends and publishes ops as one atomic unit (a batch), then waits for the
  // flush if `sync`. Deletes of absent keys write a tombstone anyway.
  Status Apply(std::span<Op> ops, bool sync);
  // The same for a lone Put or Delete, through CommitOneLocked: a delete of an absent or
  // expired key writes nothing and returns NotFound.
  Status ApplyOne(Op& op, bool sync);
  // The checks and conversions Apply makes before taking the write lock: key and value
  // limits, hashes, and compression (into *compressed, which ops then point into).
  Status PrepareOps(std::span<Op> ops, std::vector<std::string>* compressed) const;
  // The same for one op; a compressed value goes to *compressed.
  Status PrepareOp(Op& op, std::string* compressed) const;
  // The part of both after validation: op's hash, and its value compressed into *compressed
  // if the options say so (compressed may be null when they do not).
  void HashAndCompress(Op& op, std::string* compressed) const;
  // Caller holds write_mu_. Appends and publishes ops; returns the sequence number to sync
  // up to.
  Status CommitLocked(std::span<const Op> ops, bool sync, uint64_t* seq) REQUIRES(write_mu_);
  // CommitLocked for one op, with a third fewer instructions than the batch machinery: the
  // record is encoded before the shard lock is taken (while the key's slot, which ApplyOne
  // prefetched, loads), and a delete's lookup, its tombstone and the keydir change share one
  // hold of the shard lock. NotFound for a delete of an absent or expired key, which writes
  // nothing.
  Status CommitOneLocked(const Op& op, bool sync, uint64_t* seq) REQUIRES(write_mu_);
  // After the write lock is released: the flush that `sync` (or SyncMode::kAlways) asks for.
  Status FinishWrite(uint64_t seq, bool sync);
  // Caller holds write_mu_. Appends the records of ops to the active file.
  Status AppendLocked(std::span<const Op> ops, KeyLocation* locs) REQUIRES(write_mu_);
  // Caller holds write_mu_. Rotates the active file if `bytes` more do not fit, and reserves
  // their disk space.
  Status MakeRoomLocked(uint64_t bytes) REQUIRES(write_mu_);
  // Caller holds write_mu_. After a failed append: drops what it wrote past the published
  // end, returns s.
  Status DiscardLocked(Status s) REQUIRES(write_mu_);
  // Caller holds write_mu_. Counts `bytes` appended for ops (puts and deletes, or one op).
  void CountAppendedLocked(uint64_t bytes, uint64_t puts, uint64_t deletes) REQUIRES(write_mu_);
  // Caller holds write_mu_. After a flush of `file` up to `synced_end` returned: appends a
  // sync mark saying so (see recovery.h), if the file is still the active one and holds
  // records past the last mark. Best effort: without it a power cut costs more of the tail.
  void AppendSyncMarkLocked(const DataFile* file, uint64_t synced_end) REQUIRES(write_mu_);
  // Caller holds write_mu_ and active_ is set: the active file holds records past its last
  // sync mark that a flush up to synced_end covers.
  bool NeedsSyncMarkLocked(uint64_t synced_end) const REQUIRES(write_mu_);
  void CountAppendedLocked(uint64_t bytes, std::span<const Op> ops) REQUIRES(write_mu_);
  // Caller holds write_mu_. Where op's record of n bytes at offset of the active file is.
  KeyLocation LocationLocked(const Op& op, uint64_t offset, uint64_t n) const REQUIRES(write_mu_) {
    return KeyLocation{active_->id(), static_cast<uint32_t>(offset), static_cast<uint32_t>(n),
                       !op.is_delete && op.expire_at_ms != 0};
  }
  // AppendLocked's two ways, once the space is reserved: records copied into the mapping, or
  // written with pwritev (many per call). Neither publishes the new end.
  Status AppendMappedLocked(std::span<const Op> ops, KeyLocation* locs) REQUIRES(write_mu_);
  Status AppendVectoredLocked(std::span<const Op> ops, KeyLocation* locs) REQUIRES(write_mu_);
  // A copy into the active file's mapping met a page that failed (map_faults.h): stops all
  // writes (bg_error_) and returns the error.
  Status MappedWriteFailedLocked(uint64_t offset) REQUIRES(write_mu_);
  // Caller holds write_mu_. Makes the ops visible: locks every shard they touch (in index
  // order, so a reader never sees part of a batch) and updates the keydir and dead bytes.
  void PublishLocked(std::span<const Op> ops, const KeyLocation* locs) REQUIRES(write_mu_);
  // One op's keydir change, its record at loc; caller holds write_mu_ and the shard's lock
  // exclusively. found: where a delete's key was found under this hold of the lock, or null.
  void PublishOneLocked(KeydirShard& shard, const Op& op, const KeyLocation& loc,
                        const KeydirShard::Position* found) REQUIRES(write_mu_);
  // Caller holds write_mu_. Seals the active file and starts a new one big enough for
  // `record_bytes`.
  Status RotateLocked(uint64_t record_bytes) REQUIRES(write_mu_);
  // Caller holds write_mu_. A flush is about to be asked for (Sync, WriteOptions::sync, or
  // the SyncMode::kInterval thread): decides from how far apart flushes come whether data
  // files use huge pages, whose whole-page write-back would multiply what each flush writes.
  void NoteSyncRequestLocked() REQUIRES(write_mu_);
  void AddDeadBytes(const KeyLocation& loc);

  // Reads and verifies the record at loc, which must hold `key`. Caller holds the key's
  // shard lock.
  Status ReadRecordLocked(const KeyLocation& loc, std::string_view key,
                          format::RecordView* rec) const;
  // The same, and NotFound if the record has expired.
  Status ReadLiveRecordLocked(const KeyLocation& loc, std::string_view key,
                              format::RecordView* rec) const;
  // OK unless a page of the record at loc failed (map_faults.h) since map_faults::Count()
  // was `faults`: a value copied after its checksum would then be zeros.
  Status CheckCopiedLocked(const KeyLocation& loc, uint64_t faults) const;
  Status CopyFaultedLocked(const KeyLocation& loc) const;  // its slow path

  // Returns once every record up to `seq` is on stable storage. Concurrent callers share one
  // flush: the first becomes the leader, the rest wait for its result.
  Status SyncUpTo(uint64_t seq);
  // SyncUpTo's loop, with sync_mu_ held (through l): waits for a flush to cover seq, or leads
  // one.
  Status FollowOrLeadLocked(std::unique_lock<std::mutex>& l, uint64_t seq);
  void SyncLoop();  // SyncMode::kInterval background thread

  // Recovery (db_impl.cc). Open plans every data file (sequentially), applies their records
  // to the keydir (in parallel: each thread takes every file in order, but only the keys of
  // its share of the shards, so per-key order holds and no shard is shared), then truncates a
  // torn tail (sequentially).
  struct LoadPlan {
    DataFile* file = nullptr;
    bool newest = false;
    bool header_ok = true;             // false: a salvage open reads it past a damaged header
    std::unique_ptr<HintReader> hint;  // null: the data file is read from its header on
    // An older file whose header never reached the disk (DropUnwrittenOlder decides): the
    // file, not yet among files_, and what its header check said.
    std::unique_ptr<DataFile> unwritten;
    Status header_status;
  };
  struct LoadResult {
    Status status;
    uint64_t max_seq = 0;
    std::vector<ScanSummary> summaries;  // one per plan
  };
  // Drops from the end of `ids` (sorted) the files that hold nothing, not even a header;
  // removes them unless read-only.
  Status DropUnwrittenNewest(std::vector<uint32_t>* ids);
  // An older file with nothing of it written (shorter than a header, or only zeros) that no
  // newer file's sync mark vouches for was made and never flushed before a power cut: dropped
  // (removed unless read-only), as DropUnwrittenNewest does for the newest. With a newer sync mark
  // it is damage: its header error, or in a salvage open, records read past the header.
  Status DropUnwrittenOlder(std::vector<LoadPlan>* plans);
  static void OpenHook(std::string_view point);
  // Opens data file `id`, checks its header and hint and adds it to files_.
  Status PlanDataFile(uint32_t id, bool newest, LoadPlan* plan);
  // Applies the records of every planned file, in order, to the shards whose index is
  // `part` modulo `parts`.
  void ApplyFiles(const std::vector<LoadPlan>& plans, unsigned part, unsigned parts,
                  LoadResult* out);
  // Applies one record found at Open (from a data file or its hint) to the keydir.
  void ApplyRecovered(std::string_view key, uint64_t hash, const KeyLocation& loc, bool tombstone,
                      uint64_t expire_at_ms);

  // Removes every key that points into the file (a merge in salvage mode, after its scan of
  // the file skipped damage); returns how many.
  uint64_t DropKeysPointingInto(uint32_t file_id);
  // MergeFiles with merge_mu_ held; MergeFiles records how it ended for Stats.
  Status MergeFilesLocked(const std::function<bool(const FileStats&)>& select);
  // Takes data files out of files_ for deletion once no reader or flush can be using them.
  // The keydir must no longer point into them.
  std::vector<std::unique_ptr<DataFile>> DetachFiles(std::span<const uint32_t> ids);
  // After a failed merge: points the keys copied into outputs that were not published back
  // at their records in `inputs`, then deletes those outputs.
  void AbandonOutputs(std::span<const uint32_t> inputs, std::span<DataFile* const> outputs);
  // Whether the keydir points at a record of f.
  bool Referenced(const DataFile& f);
  // Checkpoint's files, into the (new, empty) staging directory.
  Status CheckpointInto(const std::string& staging, const std::function<void()>& at_point);
  // Writes the hint file of sealed data file `id`, unless it is gone or has one.
  Status WriteHint(uint32_t id);
  void MaintenanceLoop();  // background thread: hints of sealed files, automatic merges
  bool AutoMergeDue(const std::vector<FileStats>& files) const;
  // Merges the files the thresholds pick if the triggers call for a merge; OK if none is due.
  Status AutoMergeIfDue();
  void Hook(std::string_view point) const {
    if (test_hook_) test_hook_(point);
  }
  void QueueHint(uint32_t id);
  // Live keys, not counting those expired but still in the keydir.
  // Live keys; with `expiring`, also how many of them have an expiry and the sum of the
  // milliseconds they have left (a double: expiries can be as far as 2^63 ms away).
  Status CountLive(uint64_t* n, uint64_t* expiring = nullptr, double* ttl_sum_ms = nullptr);
  // Drops expired keys from the keydir (their records read as deletes from now on).
  void ReapExpired();
  // Caller holds write_mu_ (for active_).
  std::vector<FileStats> FileStatsList() const REQUIRES(write_mu_);

  const Options options_;
  Env* const env_;  // options_.env, or the operating system's
  const std::string dir_;
  const uint32_t forks_at_open_;
  const int opener_pid_;
  std::atomic<bool> parent_state_forgotten_{false};
  DirLock lock_;
  Keydir keydir_;
  FileTable files_;

  util::Mutex write_mu_;
  DataFile* active_ GUARDED_BY(write_mu_) = nullptr;  // owned by files_
  uint32_t next_file_id_ GUARDED_BY(write_mu_) = 1;
  uint64_t last_seq_ GUARDED_BY(write_mu_) = 0;
  bool closed_ GUARDED_BY(write_mu_) = false;
  Status bg_error_ GUARDED_BY(write_mu_);                        // a failed flush stops all writes
  std::vector<uint32_t> unsynced_sealed_ GUARDED_BY(write_mu_);  // sealed, not yet flushed
  // The file and end of the last sync mark written.
  uint32_t sync_mark_file_ GUARDED_BY(write_mu_) = 0;
  uint64_t sync_mark_end_ GUARDED_BY(write_mu_) = 0;
  bool dir_dirty_ GUARDED_BY(write_mu_) = false;  // a file was created
  // Whether new active files are mapped with huge pages (never with SyncMode::kAlways; off
  // while flushes come close together, see NoteSyncRequestLocked), and the append position,
  // counted over all files, at the last flush request.
  bool huge_pages_ GUARDED_BY(write_mu_) = false;
  uint64_t appended_ GUARDED_BY(write_mu_) = 0;
  uint64_t appended_at_sync_request_ GUARDED_BY(write_mu_) = 0;
  std::mutex close_mu_;  // serialises Close

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  uint64_t synced_seq_ = 0;    // guarded by sync_mu_
  bool sync_running_ = false;  // guarded by sync_mu_
  // Group commit's gathering (SyncUpTo): calls so far, the sequence numbers callers wait
  // for, and after the last flush: the calls made by its end, how many callers it released
  // and how long it took.
  std::atomic<uint64_t> sync_arrivals_{0};
  std::vector<uint64_t> sync_waiting_;  // guarded by sync_mu_
  uint64_t gather_from_ = 0;            // guarded by sync_mu_
  size_t gather_count_ = 0;             // guarded by sync_mu_
  int64_t last_flush_nanos_ = 0;        // guarded by sync_mu_
  Status sync_error_;                   // guarded by sync_mu_: the first failed flush, sticky
  bool stop_sync_thread_ = false;       // guarded by sync_mu_
  std::condition_variable stop_cv_;
  std::thread sync_thread_;

  std::mutex merge_mu_;
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  std::deque<uint32_t> hints_pending_;  // guarded by maintenance_mu_
  bool stop_maintenance_ = false;       // guarded by maintenance_mu_
  std::thread maintenance_thread_;
  std::atomic<bool> closing_{false};  // makes a running merge stop early
  std::function<void(std::string_view)> test_hook_;
  std::vector<uint32_t> listed_;  // the data file ids Recover listed (see ChangedSinceListed)

  std::atomic<uint64_t> written_seq_{0};  // last sequence appended, for the interval flusher
  std::atomic<uint64_t> puts_{0};
  std::atomic<uint64_t> deletes_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> bytes_written_{0};
  uint64_t corrupt_bytes_skipped_ = 0;                // set by Recover
  uint64_t tail_bytes_truncated_ = 0;                 // set by Recover
  std::atomic<uint64_t> keys_dropped_unreadable_{0};  // by merges in salvage mode
  uint64_t open_micros_ = 0;                          // set by Recover
  uint64_t files_from_hints_ = 0;                     // set by Recover
  util::LatencyHistogram get_latency_, put_latency_, delete_latency_, batch_latency_;
  std::atomic<uint64_t> merges_{0};
  std::atomic<uint64_t> merge_micros_{0};
  std::atomic<uint64_t> merge_reclaimed_{0};
  mutable std::mutex merge_status_mu_;
  uint64_t merge_failures_ = 0;   // guarded by merge_status_mu_
  std::string last_merge_error_;  // guarded by merge_status_mu_
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_DB_IMPL_H_
