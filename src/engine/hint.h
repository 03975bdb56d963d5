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
#include <string>
#include <string_view>

#include "bitcask/status.h"
#include "engine/file_util.h"
#include "engine/format.h"
#include "util/hash.h"

namespace bitcask::engine {

std::string HintFileName(const std::string& dir, uint32_t id);

inline constexpr size_t kHintEntryHeaderSize = 19;  // before the key bytes

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
  HintWriter(Env* env, std::string dir, uint32_t file_id);
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

  Env* const env_;
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

// The data size the hint at path says it covers, and its number of entries, read from its
// footer without verifying the rest; false if there is no readable footer. For skipping hints
// that are already current and sizing the keydir before a load.
bool HintCoveredSize(Env* env, const std::string& path, uint64_t* data_size);
bool HintEntryCount(Env* env, const std::string& path, uint64_t* entries);

// A verified hint file, mapped. Open checks everything: checksum, the data size it covers
// (not more than the data file's size) and every entry inside that; only then can entries be
// read. Entry keys point into the mapping and live as long as the reader.
class HintReader {
 public:
  // NotFound if there is no hint file; Corruption (with the reason) if it is unusable.
  Status Open(Env* env, const std::string& path, uint32_t file_id, uint64_t file_size);

  uint64_t data_size() const { return data_size_; }
  uint64_t max_seq() const { return max_seq_; }
  uint64_t entries() const { return count_; }

  // Calls fn(const HintEntry&) for every entry, in file order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    const char* p = begin_;
    for (uint64_t i = 0; i < count_; i++) {
      HintEntry e;
      p = Decode(p, &e);
      fn(e);
    }
  }

 private:
  static const char* Decode(const char* p, HintEntry* e);

  MemoryMap map_;
  const char* begin_ = nullptr;
  uint64_t count_ = 0;
  uint64_t data_size_ = 0;
  uint64_t max_seq_ = 0;
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_HINT_H_
