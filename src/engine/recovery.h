// Recovery: walking the records of a data file, deciding what is a torn tail and what is
// corruption. Used by Open, by the checker and by repair, so they agree on every byte.
//
// A crash can only damage the end of what was being written: the newest file may end in a
// partly written record, an unfinished batch, or blocks that were reserved but never
// written (zeros). Anything else that fails to decode is corruption. The rule that tells
// them apart: an undecodable record in the newest file is a torn tail only if no valid
// record can be found anywhere after it. If one can, a record in the middle of the file is
// damaged, which a crash does not do.

#ifndef BITCASK_ENGINE_RECOVERY_H_
#define BITCASK_ENGINE_RECOVERY_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bitcask/options.h"
#include "bitcask/status.h"
#include "engine/format.h"

namespace bitcask::engine {

struct ScanSummary {
  uint64_t valid_end = 0;        // offset just past the last committed record
  uint64_t records = 0;          // committed records delivered
  uint64_t skipped_bytes = 0;    // corrupt regions passed over (RecoveryMode::kSkipCorrupt)
  uint64_t tail_bytes = 0;       // bytes after valid_end: torn tail, unfinished batch, zeros
  uint64_t corrupt_regions = 0;  // regions skipped
};

// Offset of the first non-zero byte in [from, size), or size.
uint64_t FindNextNonZero(const char* base, uint64_t from, uint64_t size);

// Offset of the first position in [from, size) where a valid record starts, or size.
uint64_t FindNextValidRecord(const char* base, uint64_t from, uint64_t size);

// Describes a bad record for an error message: "PATH offset N: reason".
std::string DescribeBadRecord(const std::string& path, uint64_t offset, format::DecodeResult r);

// Scans records from `start` (format::kFileHeaderSize, or where a hint file left off) to
// `size`; the file header is checked by the caller.
// Calls on_record(const format::RecordView&, uint64_t offset) for every committed record in
// file order (the records of a batch only once its last record is seen), and
// on_corrupt(uint64_t offset, uint64_t length, const std::string& reason) for each region it
// skips. `newest` says whether this is the newest data file (the only one a crash can leave
// torn). In kStrict mode the first corrupt region fails the scan with Corruption.
template <typename OnRecord, typename OnCorrupt>
Status ScanRecords(const char* base, uint64_t start, uint64_t size, const std::string& path,
                   bool newest, RecoveryMode mode, OnRecord&& on_record, OnCorrupt&& on_corrupt,
                   ScanSummary* summary) {
  struct Pending {
    format::RecordView rec;
    uint64_t offset;
  };
  std::vector<Pending> batch;  // records of an unfinished batch
  uint64_t off = std::min(start, size);  // a salvaged file may be shorter than its header
  uint64_t committed = off;
  *summary = ScanSummary();
  while (off < size) {
    format::RecordView rec;
    const format::DecodeResult r = format::DecodeRecord(base + off, size - off, &rec);
    if (r == format::DecodeResult::kOk) {
      if (rec.batch_continues()) {
        batch.push_back({rec, off});
      } else {
        for (const Pending& p : batch) on_record(p.rec, p.offset);
        summary->records += batch.size() + 1;
        batch.clear();
        on_record(rec, off);
        committed = off + rec.size;
      }
      off += rec.size;
      continue;
    }
    // Zeros to the end are space reserved for appends but never written: benign anywhere.
    if (r == format::DecodeResult::kZero && FindNextNonZero(base, off, size) == size) break;
    const uint64_t next = FindNextValidRecord(base, off + 1, size);
    if (next == size && newest) break;  // a write the crash cut short
    const std::string reason = DescribeBadRecord(path, off, r) +
                               (next < size ? "; valid records resume at offset " +
                                                  std::to_string(next)
                                            : "; nothing valid follows in this file, which is "
                                              "not the newest");
    if (mode == RecoveryMode::kStrict) return Status::Corruption(reason);
    on_corrupt(off, next - off, reason);
    summary->skipped_bytes += next - off;
    summary->corrupt_regions++;
    batch.clear();  // a batch interrupted by damage cannot be trusted whole
    off = next;
  }
  if (!batch.empty() && !newest && mode == RecoveryMode::kStrict) {
    return Status::Corruption(path + " offset " + std::to_string(batch.front().offset) +
                              ": batch without its last record in a file that is not the newest");
  }
  summary->valid_end = committed;
  summary->tail_bytes = size - committed;
  return Status::OK();
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_RECOVERY_H_
