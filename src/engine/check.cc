// DB::Check: every record of every data file read and checksummed, every hint file checked
// against its data file.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <memory>
#include <shared_mutex>

#include "engine/db_impl.h"
#include "engine/db_internal.h"
#include "engine/hint.h"
#include "engine/recovery.h"
#include "util/hash.h"

namespace bitcask::engine {

Status DBImpl::Check(CheckReport* report, const CheckProgress& progress) {
  *report = CheckReport();
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  std::lock_guard merge_lock(merge_mu_);  // no file disappears while we read it
  std::vector<DataFile*> files;
  {
    util::MutexLock l(&write_mu_);
    if (closed_) return Status::Closed();
    files = files_.List();
  }
  uint64_t total = 0;
  for (const DataFile* f : files) total += f->size();
  for (size_t i = 0; i < files.size(); i++) {
    const DataFile* f = files[i];
    if (progress) progress(report->bytes, total);
    report->data_files++;
    // The active file may grow: check what exists now. Open may have ended a read-only file
    // before its end (damage a salvage open passed over, a torn tail): check up to the end.
    const uint64_t size = f->check_end();
    // Whether the file may end early, as a read-only Open judged it (the newest file, or one a
    // power cut left unflushed at the end): then Check judges it by the same rule.
    const bool may_end_early = f->tail_may_be_torn();
    // A newer file's sync mark vouches for this one.
    auto marked_later = [&files, i] {
      return std::any_of(files.begin() + static_cast<std::ptrdiff_t>(i) + 1, files.end(),
                         [](const DataFile* later) { return later->HasSyncMark(); });
    };
    report->bytes += size;
    // A salvage open reads the records of a file whose header is damaged.
    if (Status hs = format::DecodeFileHeader(std::string_view(f->base(), size), format::kDataMagic,
                                             f->id(), f->path());
        !hs.ok()) {
      report->problems.push_back({f->path(), 0, std::min<uint64_t>(size, format::kFileHeaderSize),
                                  std::string(hs.message())});
    }
    ScanSummary summary;
    uint64_t damaged_tail_from = size;  // where a damaged region reaching the end starts
    // Every published record is complete, the active file's too, so nothing here may be
    // passed over as an unfinished end, except in a file a read-only open found may end
    // early, which Open judged the same way.
    (void)ScanRecords(
        f->base(), format::kFileHeaderSize, size, f->path(),
        may_end_early ? TailRule::For(/*newest=*/true, f->format_version(), marked_later)
                      : TailRule{},
        RecoveryMode::kSkipCorrupt, [&](const format::RecordView&, uint64_t) { report->records++; },
        [&](uint64_t offset, uint64_t length, const std::string& reason) {
          report->problems.push_back({f->path(), offset, length, reason});
          if (offset + length == size) damaged_tail_from = offset;
        },
        &summary);  // a salvage scan never fails: unreadable pages are damage it reports
    // Records of a batch whose end is missing, unless what follows the last complete batch is
    // the damage reported already, or a torn tail.
    if (!may_end_early && summary.valid_end < damaged_tail_from && summary.tail_bytes > 0 &&
        FindNextNonZero(f->base(), summary.valid_end, size) != size) {
      report->problems.push_back({f->path(), summary.valid_end, size - summary.valid_end,
                                  f->path() + " offset " + std::to_string(summary.valid_end) +
                                      ": records after the last complete batch"});
    }
    // The hint, if any, must agree with the records it describes.
    const std::string hint_path = HintFileName(dir_, f->id());
    HintReader hint;
    Status hs = hint.Open(env_, hint_path, f->id(), size);
    if (hs.ok()) {
      hint.ForEach([&](const HintEntry& e) {
        format::RecordView rec;
        if (format::DecodeRecord(f->base() + e.offset, e.size, &rec) != format::DecodeResult::kOk ||
            rec.key != e.key || rec.size != e.size || rec.tombstone() != e.tombstone) {
          report->problems.push_back({hint_path, e.offset, 0,
                                      hint_path + ": entry does not match the record at offset " +
                                          std::to_string(e.offset) + " of " + f->path()});
        }
      });
    }
    if (hs.ok()) {
      report->hint_files++;
    } else if (!hs.IsNotFound()) {
      report->problems.push_back(
          {hint_path, 0, 0, std::string(hs.message()) + " (Open ignores it)"});
    }
  }
  if (progress) progress(report->bytes, std::max(total, report->bytes));
  if (report->problems.empty()) return Status::OK();
  const CheckProblem& p = report->problems.front();
  return Status::Corruption(std::to_string(report->problems.size()) +
                            " problem(s); first: " + p.reason);
}

}  // namespace bitcask::engine
