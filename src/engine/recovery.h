// Recovery: walking the records of a data file, deciding what is a torn tail and what is
// corruption. Used by Open, by the checker and by repair, so they agree on every byte.
//
// A crash can only damage the end of what was being written: a file may end in a partly
// written record, an unfinished batch, or blocks that were reserved but never written
// (zeros), and after a power cut in pages that never reached the disk. Anything else that
// fails to decode is corruption. Telling them apart:
//
// - A process crash leaves every byte it wrote (they are in the page cache), so damage with
//   a valid record anywhere after it was not made by the crash.
// - A power cut leaves whatever the kernel had written back, in any order: a later page
//   may have reached the disk and an earlier one not, so valid records can follow the
//   damage, in this file and in newer ones. But a flush covers every file written so far,
//   older ones first, so damage that a power cut made lies after everything any completed
//   flush covered. Version 2 files say how far that is: after each flush the writer
//   appends a sync mark holding the flushed length of the active file, which also vouches
//   for every older file. Damage that no sync mark after it covers (later in its file, or
//   anywhere in a newer one) is an unflushed tail, and the file ends there; damage a mark
//   covers is corruption. (Version 1 files have no marks: only damage with nothing valid
//   after it, in the newest file, is a tail.)

#ifndef BITCASK_ENGINE_RECOVERY_H_
#define BITCASK_ENGINE_RECOVERY_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bitcask/options.h"
#include "bitcask/status.h"
#include "engine/format.h"
#include "engine/map_faults.h"

namespace bitcask::engine {

// Which damage in a file ScanRecords takes for the unfinished end of what was written (cut
// off by a writable open) rather than corruption. One per scan of a file: it keeps what it
// learnt about sync marks for the next damaged region.
class TailRule {
 public:
  enum Kind : unsigned char {
    kNone,      // none: a version 1 file that is not the newest, or a file in use
    kTorn,      // damage with no valid record after it: the newest file, version 1
    kUnsynced,  // damage no sync mark after it covers: any version 2 file
  };

  TailRule() = default;
  // For a file being opened (or checked after a read-only open): `newest` is whether it is
  // the store's newest data file; marked_later, whether a newer file holds a sync mark (which
  // covers all of this one), is asked only when damage is found.
  static TailRule For(bool newest, uint16_t format_version, std::function<bool()> marked_later) {
    TailRule rule;
    rule.kind_ = format_version >= 2 ? kUnsynced : newest ? kTorn : kNone;
    if (rule.kind_ == kUnsynced) rule.marked_later_ = std::move(marked_later);
    return rule;
  }

  Kind kind() const { return kind_; }
  // Whether damage at `offset`, with the next valid record at `next` (or size), is an
  // unfinished end. Calls come in file order.
  bool AllowsTail(const char* base, uint64_t next, uint64_t size, uint64_t offset);
  // Whether a batch whose last record is missing may end the file.
  bool AllowsUnfinishedBatch() { return kind_ == kTorn || (kind_ == kUnsynced && !MarkedLater()); }

 private:
  bool MarkedLater();

  Kind kind_ = kNone;
  std::function<bool()> marked_later_;
  std::optional<bool> marked_later_answer_;
  // The sync marks from the first damage on, read once: (position, the largest synced end
  // of the marks at or after it), in file order.
  bool marks_read_ = false;
  std::vector<std::pair<uint64_t, uint64_t>> marks_;
};

struct ScanSummary {
  uint64_t valid_end = 0;        // offset just past the last committed record
  uint64_t records = 0;          // committed records delivered
  uint64_t skipped_bytes = 0;    // corrupt regions passed over (RecoveryMode::kSkipCorrupt)
  uint64_t tail_bytes = 0;       // bytes after valid_end: torn tail, unfinished batch, zeros
  uint64_t corrupt_regions = 0;  // regions skipped
  uint64_t sync_marks = 0;       // sync marks read (not counted in records)
  bool unfinished_end = false;   // valid_end is where the tail rule ended the file
};

// Offset of the first non-zero byte in [from, size), or size.
uint64_t FindNextNonZero(const char* base, uint64_t from, uint64_t size);

// Offset of the first position in [from, size) where a valid record starts, or size.
uint64_t FindNextValidRecord(const char* base, uint64_t from, uint64_t size);

// Calls visit(position, synced end) for each sync mark among the valid records in
// [from, size), in file order (damage is passed over), until visit returns true; returns
// whether it did.
bool FindSyncMark(const char* base, uint64_t from, uint64_t size,
                  const std::function<bool(uint64_t, uint64_t)>& visit);

// Whether a page of the mapping at base failed (SIGBUS) and reads as zeros: see
// map_faults.h. Cheap while no page in the process ever failed.
inline bool MappingFaulted(const char* base) {
  return map_faults::Count() != 0 && map_faults::Faulted(base);
}
// The error for a scan that met such a page. A strict scan fails with it (the page may read
// again once the disk recovers, or the file is whole again); a salvage scan skips the damage
// around the page, with this as its reason, and never takes it for the unfinished end of the
// file or for reserved space.
Status UnreadableFile(const std::string& path, uint64_t offset);

// Describes a bad record for an error message: "PATH offset N: reason".
std::string DescribeBadRecord(const std::string& path, uint64_t offset, format::DecodeResult r);

// Scans records from `start` (format::kFileHeaderSize, or where a hint file left off) to
// `size`; the file header is checked by the caller.
// Calls on_record(const format::RecordView&, uint64_t offset) for every committed record in
// file order (the records of a batch only once its last record is seen; never a sync mark),
// and on_corrupt(uint64_t offset, uint64_t length, const std::string& reason) for each region
// it skips. `tail` says which damage ends the file instead (see TailRule). In kStrict mode
// the first corrupt region fails the scan with Corruption (a page that could not be read,
// with IOError); a kSkipCorrupt scan always returns OK.
template <typename OnRecord, typename OnCorrupt>
Status ScanRecords(const char* base, uint64_t start, uint64_t size, const std::string& path,
                   TailRule tail, RecoveryMode mode, OnRecord&& on_record, OnCorrupt&& on_corrupt,
                   ScanSummary* summary) {
  struct Pending {
    format::RecordView rec;
    uint64_t offset;
  };
  std::vector<Pending> batch;            // records of an unfinished batch
  uint64_t off = std::min(start, size);  // a salvaged file may be shorter than its header
  uint64_t committed = off;
  *summary = ScanSummary();
  while (off < size) {
    format::RecordView rec;
    const format::DecodeResult r = format::DecodeRecord(base + off, size - off, &rec);
    if (r == format::DecodeResult::kOk) {
      if (rec.sync_mark()) {
        // Written between operations, never inside a batch; not data.
        summary->sync_marks++;
        if (batch.empty()) committed = off + rec.size;
      } else if (rec.batch_continues()) {
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
    // Pages that could not be read (zeros in the mapping now) make this damage, if any of
    // them lies in it: cheap to ask while no page in the process ever failed.
    const bool faulted = MappingFaulted(base);
    if (faulted && mode == RecoveryMode::kStrict) return UnreadableFile(path, off);
    // Zeros to the end are space reserved for appends but never written: benign anywhere.
    if (r == format::DecodeResult::kZero && FindNextNonZero(base, off, size) == size &&
        !(faulted && map_faults::FaultedIn(base + off, size - off))) {
      break;
    }
    const uint64_t next = FindNextValidRecord(base, off + 1, size);
    const bool unreadable = faulted && map_faults::FaultedIn(base + off, next - off);
    // A write the crash cut short, or what a power cut left unflushed (with whatever later
    // pages did reach the disk).
    if (!unreadable && tail.AllowsTail(base, next, size, off)) {
      summary->unfinished_end = true;
      break;
    }
    const std::string reason =
        unreadable
            ? std::string(UnreadableFile(path, off).message()) +
                  (next == size ? "" : "; valid records resume at offset " + std::to_string(next))
            : DescribeBadRecord(path, off, r) +
                  (tail.kind() == TailRule::kUnsynced
                       ? "; a sync mark after it says this part of the file was flushed"
                   : next == size ? "; nothing valid follows in this file, which is not the newest"
                                  : "; valid records resume at offset " + std::to_string(next));
    if (mode == RecoveryMode::kStrict) return Status::Corruption(reason);
    on_corrupt(off, next - off, reason);
    summary->skipped_bytes += next - off;
    summary->corrupt_regions++;
    batch.clear();  // a batch interrupted by damage cannot be trusted whole
    off = next;
  }
  if (!batch.empty() && !summary->unfinished_end) {
    if (tail.AllowsUnfinishedBatch()) {
      summary->unfinished_end = true;
    } else if (mode == RecoveryMode::kStrict) {
      return Status::Corruption(path + " offset " + std::to_string(batch.front().offset) +
                                ": batch without its last record in a file that is not the newest" +
                                (tail.kind() == TailRule::kUnsynced
                                     ? ", and a sync mark in a newer one says it was flushed"
                                     : ""));
    }
  }
  // Zeros where a page failed are no end of the file: a strict recovery must not cut it there.
  if (mode == RecoveryMode::kStrict && MappingFaulted(base)) return UnreadableFile(path, committed);
  summary->valid_end = committed;
  summary->tail_bytes = size - committed;
  return Status::OK();
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_RECOVERY_H_
