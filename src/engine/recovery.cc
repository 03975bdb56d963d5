#include "engine/recovery.h"

#include <cstring>

namespace bitcask::engine {

uint64_t FindNextNonZero(const char* base, uint64_t from, uint64_t size) {
  uint64_t i = from;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, base + i, 8);
    if (word != 0) break;
  }
  for (; i < size; i++) {
    if (base[i] != 0) return i;
  }
  return size;
}

uint64_t FindNextValidRecord(const char* base, uint64_t from, uint64_t size) {
  // A valid record has a non-zero sequence number in its bytes 4..11, so a candidate start
  // is never more than 11 bytes before a non-zero byte: zero runs are skipped whole.
  uint64_t p = from;
  while (p + format::kRecordHeaderSize <= size) {
    const uint64_t nz = FindNextNonZero(base, p, size);
    if (nz == size) return size;
    if (nz > p + 11) p = nz - 11;
    format::RecordView rec;
    if (format::DecodeRecord(base + p, size - p, &rec) == format::DecodeResult::kOk) return p;
    p++;
  }
  return size;
}

bool FindSyncMark(const char* base, uint64_t from, uint64_t size,
                  const std::function<bool(uint64_t, uint64_t)>& visit) {
  for (uint64_t p = from; p < size;) {
    format::RecordView rec;
    if (format::DecodeRecord(base + p, size - p, &rec) != format::DecodeResult::kOk) {
      p = FindNextValidRecord(base, p + 1, size);
      continue;
    }
    if (rec.sync_mark() && visit(p, rec.synced_end())) return true;
    p += rec.size;
  }
  return false;
}

bool TailRule::AllowsTail(const char* base, uint64_t next, uint64_t size, uint64_t offset) {
  switch (kind_) {
    case kNone:
      return false;
    case kTorn:
      return next == size;
    case kUnsynced:
      break;
  }
  if (!marks_read_) {
    marks_read_ = true;
    FindSyncMark(base, next, size, [this](uint64_t position, uint64_t synced_end) {
      marks_.emplace_back(position, synced_end);
      return false;
    });
    for (size_t i = marks_.size(); i-- > 1;) {
      marks_[i - 1].second = std::max(marks_[i - 1].second, marks_[i].second);
    }
  }
  const auto first =
      std::lower_bound(marks_.begin(), marks_.end(), std::make_pair(next, uint64_t{0}));
  if (first != marks_.end() && first->second > offset) return false;
  return !MarkedLater();
}

bool TailRule::MarkedLater() {
  if (!marked_later_answer_) marked_later_answer_ = marked_later_ && marked_later_();
  return *marked_later_answer_;
}

Status UnreadableFile(const std::string& path, uint64_t offset) {
  return Status::IOError(path + " from offset " + std::to_string(offset) + ": " +
                         map_faults::Explanation());
}

std::string DescribeBadRecord(const std::string& path, uint64_t offset, format::DecodeResult r) {
  return path + " offset " + std::to_string(offset) + ": " + format::DecodeResultName(r);
}

}  // namespace bitcask::engine
