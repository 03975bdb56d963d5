// Hint files: the key directory's view of one data file, so Open can rebuild the keydir
// without reading values.
//
// NNNNNNNN.hint sits beside NNNNNNNN.data and describes its first `data_size` bytes: one
// entry per committed record, in file order, then a footer with a checksum over the whole
// hint file. A hint that fails any check is ignored and the data file is scanned instead, so
// a bad hint can cost time but never data. Layout (docs/FORMAT.md):
//
//   file header (16 bytes, magic "BCHF", id of the data file)
//   entry:  u32 offset, u32 record size, u64 expiry, u16 key size, u8 flags, key bytes
//   footer: "BCHE", u32 0, u64 entries, u64 data_size, u64 max_seq, u64 XXH3-64 of all
//           bytes before this field

#ifndef BITCASK_ENGINE_HINT_H_
#define BITCASK_ENGINE_HINT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bitcask/status.h"
#include "engine/file_util.h"
#include "engine/format.h"

namespace bitcask::engine {

std::string HintFileName(const std::string& dir, uint32_t id);

struct HintEntry {
  std::string_view key;
  uint32_t offset;
  uint32_t size;
  uint64_t expire_at_ms;
  bool tombstone;
};

// Streams a hint file to NNNNNNNN.hint.tmp; Finish flushes it to disk and renames it into
// place, so a hint file either is complete or does not exist.
class HintWriter {
 public:
  HintWriter(std::string dir, uint32_t file_id);
  ~HintWriter();  // removes the temporary file if Finish was not reached
  HintWriter(const HintWriter&) = delete;
  HintWriter& operator=(const HintWriter&) = delete;

  Status Open();
  Status Add(const HintEntry& e);
  // Writes the footer, fsyncs, renames. data_size: bytes of the data file described.
  Status Finish(uint64_t data_size, uint64_t max_seq);

 private:
  Status Append(const char* p, size_t n);
  Status Flush();

  const std::string dir_;
  const uint32_t file_id_;
  const std::string tmp_path_;
  FileDescriptor fd_;
  std::string buf_;
  uint64_t written_ = 0;
  uint64_t entries_ = 0;
  XXH3_state_t hash_;
  bool finished_ = false;
};

// Reads path as the hint of data file `file_id`, whose size is `file_size`. Calls
// fn(const HintEntry&) per entry once the whole hint verified: checksum, the data size it
// covers (not more than file_size) and every entry inside that. *data_size and *max_seq come
// from the footer. NotFound if there is no hint file; Corruption (with the reason) if it is
// unusable.
template <typename Fn>
Status ReadHintFile(const std::string& path, uint32_t file_id, uint64_t file_size,
                    uint64_t* data_size, uint64_t* max_seq, Fn&& fn);

// The data size the hint at path says it covers, read from its footer without verifying the
// rest; false if there is no readable footer. For skipping hints that are already current.
bool HintCoveredSize(const std::string& path, uint64_t* data_size);

// ---- implementation details of ReadHintFile ------------------------------------------------

namespace hint_internal {
inline constexpr size_t kEntryHeader = 19;
inline constexpr size_t kFooterSize = 40;
// Maps the hint and checks header, footer and checksum. On success *entries points at the
// first entry and *end at the footer.
Status MapAndVerify(const std::string& path, uint32_t file_id, MemoryMap* map,
                    const char** entries, const char** end, uint64_t* count, uint64_t* data_size,
                    uint64_t* max_seq);
}  // namespace hint_internal

template <typename Fn>
Status ReadHintFile(const std::string& path, uint32_t file_id, uint64_t file_size,
                    uint64_t* data_size, uint64_t* max_seq, Fn&& fn) {
  MemoryMap map;
  const char* begin;
  const char* end;
  uint64_t count;
  Status s =
      hint_internal::MapAndVerify(path, file_id, &map, &begin, &end, &count, data_size, max_seq);
  if (!s.ok()) return s;
  if (*data_size > file_size || *data_size < format::kFileHeaderSize) {
    return Status::Corruption(path + ": describes " + std::to_string(*data_size) +
                              " bytes of a data file that has " + std::to_string(file_size));
  }
  // Walk the entries once to check their bounds, so that a malformed hint is rejected before
  // any entry reaches the caller; then deliver them.
  for (int pass = 0; pass < 2; pass++) {
    const char* p = begin;
    for (uint64_t i = 0; i < count; i++) {
      if (end - p < static_cast<ptrdiff_t>(hint_internal::kEntryHeader)) {
        return Status::Corruption(path + ": entry " + std::to_string(i) + " runs past the footer");
      }
      HintEntry e;
      std::memcpy(&e.offset, p, 4);
      std::memcpy(&e.size, p + 4, 4);
      std::memcpy(&e.expire_at_ms, p + 8, 8);
      uint16_t ksize;
      std::memcpy(&ksize, p + 16, 2);
      e.tombstone = (p[18] & 1) != 0;
      p += hint_internal::kEntryHeader;
      if (end - p < ksize) {
        return Status::Corruption(path + ": entry " + std::to_string(i) + " runs past the footer");
      }
      e.key = std::string_view(p, ksize);
      p += ksize;
      if (e.offset < format::kFileHeaderSize || uint64_t{e.offset} + e.size > *data_size ||
          e.size < format::RecordSize(ksize, 0)) {
        return Status::Corruption(path + ": entry " + std::to_string(i) +
                                  " points outside the data it describes");
      }
      if (pass == 1) fn(e);
    }
    if (p != end) return Status::Corruption(path + ": bytes left between the entries and the footer");
  }
  return Status::OK();
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_HINT_H_
