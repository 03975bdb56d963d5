// The on-disk format: constants, one encoder and one decoder, shared by the write path,
// recovery, merge, the checker and the fuzzer. docs/FORMAT.md describes every byte.
//
// Data file:  file header (16 bytes), then records back to back until the end of the file.
// Record:     27-byte header, key bytes, value bytes. All integers little-endian.
//
//   offset size field
//   0      4    checksum: low 32 bits of XXH3-64 over bytes 4 .. end of value
//   4      8    sequence number, 1 .. 2^63-1, increasing in write order across the store
//   12     8    expiry, milliseconds since the Unix epoch; 0 = never
//   20     4    value size in bytes (as stored)
//   24     2    key size in bytes
//   26     1    flags: bit 0 tombstone, bit 1 batch continues, bits 2-3 value codec
//                (0 none, 1 lz4, 2 zstd), bit 4 sync mark, bits 5-7 must be 0
//
// Invariant: a record is valid only if its checksum matches, its sequence number is in
// range and no unknown flag bit is set; nothing that fails these checks is returned as
// data. A record whose "batch continues" bit is set is committed only by a later record of
// the same file without that bit; recovery drops an uncommitted batch tail.
//
// A sync mark (format version 2) is not data: written after a flush of the file returned,
// it says that the file's first `synced end` bytes are on stable storage, so damage before
// that offset cannot be the unflushed tail a power cut leaves.

#ifndef BITCASK_ENGINE_FORMAT_H_
#define BITCASK_ENGINE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bitcask/status.h"

namespace bitcask::engine::format {

inline constexpr char kDataMagic[4] = {'B', 'C', 'D', 'F'};
inline constexpr char kHintMagic[4] = {'B', 'C', 'H', 'F'};
// Data files: version 2 adds sync marks; version 1 files (no marks) are still read.
inline constexpr uint16_t kDataFormatVersion = 2;
inline constexpr uint16_t kHintFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 16;

inline constexpr size_t kRecordHeaderSize = 27;
inline constexpr size_t kMaxKeySize = 65535;
inline constexpr size_t kMaxValueSize = size_t{1} << 30;
inline constexpr size_t kMaxRecordSize = kRecordHeaderSize + kMaxKeySize + kMaxValueSize;
// Sequence numbers run from 1 to 2^63 - 1 (a billion writes a second would take 292 years
// to get there). A record numbered past that is invalid, so that no store read back from
// disk can make the writer's next number wrap around to zero.
inline constexpr uint64_t kMaxSequence = (uint64_t{1} << 63) - 1;

enum RecordFlag : uint8_t {
  kTombstone = 1u << 0,
  kBatchContinues = 1u << 1,
  kSyncMark = 1u << 4,  // alone: no other flag, an empty key, an 8-byte value, no expiry
};
// Bits 2-3: how the value is stored. A compressed value is the u32 length of the original
// value followed by the codec's output (an lz4 block or a zstd frame).
enum Codec : uint8_t { kCodecNone = 0, kCodecLz4 = 1, kCodecZstd = 2 };
inline constexpr unsigned kCodecShift = 2;
inline constexpr uint8_t kCodecMask = 3u << kCodecShift;
inline constexpr uint8_t kKnownFlags = kTombstone | kBatchContinues | kCodecMask | kSyncMark;
// A sync mark's value: the u64 offset up to which its file was flushed.
inline constexpr size_t kSyncMarkSize = kRecordHeaderSize + 8;

inline constexpr size_t RecordSize(size_t key_size, size_t value_size) {
  return kRecordHeaderSize + key_size + value_size;
}

// Writes a file header for `file_id` with the given magic into dst[0..16): a data file's
// of kDataFormatVersion, a hint file's of kHintFormatVersion.
void EncodeFileHeader(char* dst, const char (&magic)[4], uint32_t file_id);

// Checks a file header and stores its format version in *version (if not null). A version
// newer than this build writes is NotSupported. `where` names the file in error messages.
Status DecodeFileHeader(std::string_view src, const char (&magic)[4], uint32_t expected_id,
                        const std::string& where, uint16_t* version = nullptr);

// Writes one complete record (header with checksum, key, value) at dst, which must have
// RecordSize(key.size(), value.size()) bytes. Returns the record size.
size_t EncodeRecord(char* dst, uint64_t seq, uint64_t expire_at_ms, uint8_t flags,
                    std::string_view key, std::string_view value);

// Writes only the 27-byte header, checksum included, for a record whose key and value are
// written from where they are (with pwritev). The same bytes as EncodeRecord produces.
void EncodeRecordHeader(char* dst, uint64_t seq, uint64_t expire_at_ms, uint8_t flags,
                        std::string_view key, std::string_view value);

// Writes a sync mark at dst (kSyncMarkSize bytes): the file's first `synced_end` bytes are
// flushed. `seq` is one already used: the last record's before it (a mark takes none of its own).
void EncodeSyncMark(char* dst, uint64_t seq, uint64_t synced_end);

struct RecordView {
  uint64_t seq = 0;
  uint64_t expire_at_ms = 0;
  uint8_t flags = 0;
  std::string_view key;
  std::string_view value;
  size_t size = 0;  // header + key + value

  bool tombstone() const { return flags & kTombstone; }
  bool batch_continues() const { return flags & kBatchContinues; }
  uint8_t codec() const { return (flags & kCodecMask) >> kCodecShift; }
  bool sync_mark() const { return flags & kSyncMark; }
  uint64_t synced_end() const;  // of a sync mark
};

enum class DecodeResult {
  kOk,
  kZero,         // 27 zero bytes: the unwritten (preallocated) end of a file
  kTruncated,    // the header or the body runs past the available bytes
  kBadHeader,    // zero sequence, unknown flags or a size over the limits
  kBadChecksum,  // the bytes do not match the stored checksum
};

// Decodes the record starting at p, of which `avail` bytes are readable. On kOk fills *out
// (views point into p). Never reads past p + avail.
DecodeResult DecodeRecord(const char* p, size_t avail, RecordView* out);

const char* DecodeResultName(DecodeResult r);

}  // namespace bitcask::engine::format

#endif  // BITCASK_ENGINE_FORMAT_H_
