// Stats: what a store holds and what it has done, read by DB::GetStats, the CLI, INFO and
// /metrics alike.

#ifndef BITCASK_STATS_H_
#define BITCASK_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bitcask {

struct FileStats {
  uint32_t file_id = 0;
  uint64_t total_bytes = 0;  // file size, header included
  uint64_t dead_bytes = 0;   // overwritten, deleted or expired records, and tombstones
  bool active = false;       // the file new writes go to
  bool has_hint = false;     // a hint file describes it

  uint64_t live_bytes() const { return total_bytes - dead_bytes; }
  // Share of the file a merge would reclaim.
  double fragmentation() const {
    return total_bytes == 0 ? 0.0 : double(dead_bytes) / double(total_bytes);
  }
};

// Latency percentiles of one kind of operation, from the sampled operations (see
// Options::latency_sample_every). Microseconds.
struct LatencyStats {
  uint64_t samples = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

struct Stats {
  uint64_t live_keys = 0;
  uint64_t expiring_keys = 0;  // live keys with an expiry
  uint64_t avg_ttl_ms = 0;     // the mean time those have left
  uint64_t data_files = 0;
  uint64_t total_bytes = 0;  // sum over data files
  uint64_t dead_bytes = 0;   // reclaimable by a merge

  // Process memory used by the key directory (hash table and key bytes).
  uint64_t keydir_bytes = 0;

  // Operation counters since Open.
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t gets = 0;
  uint64_t batches = 0;
  uint64_t syncs = 0;                  // flushes to stable storage (fdatasync calls)
  uint64_t bytes_written = 0;          // record bytes appended (sync marks included)
  uint64_t corrupt_bytes_skipped = 0;  // by RecoveryMode::kSkipCorrupt at Open
  uint64_t tail_bytes_truncated = 0;   // unfinished end (torn, unflushed, unwritten) cut at Open
  // Keys a merge dropped because their newest record did not verify (a store opened with
  // RecoveryMode::kSkipCorrupt whose key directory came from hint files: such keys read as
  // Corruption until then).
  uint64_t damaged_keys_dropped = 0;
  // Set once a flush (fdatasync) failed: every write fails with this error from then on, and
  // only reopening the store (which reads what is on disk) starts over. Empty otherwise.
  std::string write_error;

  // Whether the active file is written through 2 MiB pages. Never with SyncMode::kAlways;
  // otherwise on while flushes (Sync, WriteOptions::sync, the kInterval thread) come at
  // least 8 MiB of appends apart, since a flush writes back whole 2 MiB pages.
  bool huge_pages = false;

  // Latency of Get, Put, Delete and Write (batches), sampled.
  LatencyStats get_latency;
  LatencyStats put_latency;
  LatencyStats delete_latency;
  LatencyStats batch_latency;

  uint64_t open_micros = 0;              // time Open took
  uint64_t files_loaded_from_hints = 0;  // at Open

  // Merges since Open.
  uint64_t merges = 0;
  uint64_t merge_micros = 0;           // time spent merging, in total
  uint64_t merge_bytes_reclaimed = 0;  // bytes of data files removed minus bytes written
  // Merges that stopped with an error (automatic ones too, which have no caller to tell):
  // a full disk, most often. Such a merge leaves the store as it was.
  uint64_t merge_failures = 0;
  std::string last_merge_error;  // the last merge's error; empty once a merge succeeds

  std::vector<FileStats> files;  // ascending file id
};

// What DB::Check found.
struct CheckProblem {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;  // bytes that could not be read as records (0 for a hint problem)
  std::string reason;   // a full sentence, naming the file and offset
};

struct CheckReport {
  uint64_t data_files = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t hint_files = 0;
  std::vector<CheckProblem> problems;
};

}  // namespace bitcask

#endif  // BITCASK_STATS_H_
