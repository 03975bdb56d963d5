#include "engine/format.h"

#include <cstring>

#include "util/coding.h"
#include "util/hash.h"

namespace bitcask::engine::format {

namespace {
uint16_t FormatVersion(const char (&magic)[4]) {
  return std::memcmp(magic, kHintMagic, 4) == 0 ? kHintFormatVersion : kDataFormatVersion;
}
}  // namespace

void EncodeFileHeader(char* dst, const char (&magic)[4], uint32_t file_id) {
  std::memcpy(dst, magic, 4);
  util::EncodeFixed16(dst + 4, FormatVersion(magic));
  util::EncodeFixed16(dst + 6, 0);
  util::EncodeFixed32(dst + 8, file_id);
  util::EncodeFixed32(dst + 12, util::Checksum32(dst, 12));
}

Status DecodeFileHeader(std::string_view src, const char (&magic)[4], uint32_t expected_id,
                        const std::string& where, uint16_t* version_out) {
  if (src.size() < kFileHeaderSize) {
    return Status::Corruption(where + ": file is shorter than its 16-byte header");
  }
  const char* p = src.data();
  if (std::memcmp(p, magic, 4) != 0) {
    return Status::Corruption(where + ": bad magic, not a bitcask " +
                              (magic[2] == 'D' ? "data" : "hint") + " file");
  }
  if (util::DecodeFixed32(p + 12) != util::Checksum32(p, 12)) {
    return Status::Corruption(where + ": file header checksum mismatch");
  }
  const uint16_t version = util::DecodeFixed16(p + 4);
  if (version == 0 || version > FormatVersion(magic)) {
    return Status::NotSupported(where + ": format version " + std::to_string(version) +
                                ", this build reads versions 1 to " +
                                std::to_string(FormatVersion(magic)));
  }
  if (version_out != nullptr) *version_out = version;
  const uint32_t id = util::DecodeFixed32(p + 8);
  if (id != expected_id) {
    return Status::Corruption(where + ": header says file id " + std::to_string(id) +
                              ", name says " + std::to_string(expected_id));
  }
  return Status::OK();
}

namespace {
void EncodeHeaderFields(char* dst, uint64_t seq, uint64_t expire_at_ms, uint8_t flags,
                        size_t key_size, size_t value_size) {
  util::EncodeFixed64(dst + 4, seq);
  util::EncodeFixed64(dst + 12, expire_at_ms);
  util::EncodeFixed32(dst + 20, static_cast<uint32_t>(value_size));
  util::EncodeFixed16(dst + 24, static_cast<uint16_t>(key_size));
  dst[26] = static_cast<char>(flags);
}
}  // namespace

void EncodeRecordHeader(char* dst, uint64_t seq, uint64_t expire_at_ms, uint8_t flags,
                        std::string_view key, std::string_view value) {
  EncodeHeaderFields(dst, seq, expire_at_ms, flags, key.size(), value.size());
  util::EncodeFixed32(
      dst, util::Checksum32(std::string_view(dst + 4, kRecordHeaderSize - 4), key, value));
}

size_t EncodeRecord(char* dst, uint64_t seq, uint64_t expire_at_ms, uint8_t flags,
                    std::string_view key, std::string_view value) {
  EncodeHeaderFields(dst, seq, expire_at_ms, flags, key.size(), value.size());
  if (!key.empty()) std::memcpy(dst + kRecordHeaderSize, key.data(), key.size());
  if (!value.empty()) std::memcpy(dst + kRecordHeaderSize + key.size(), value.data(), value.size());
  const size_t size = RecordSize(key.size(), value.size());
  util::EncodeFixed32(dst, util::Checksum32(dst + 4, size - 4));
  return size;
}

void EncodeSyncMark(char* dst, uint64_t seq, uint64_t synced_end) {
  char value[8];
  util::EncodeFixed64(value, synced_end);
  EncodeRecord(dst, seq, 0, kSyncMark, {}, std::string_view(value, sizeof value));
}

uint64_t RecordView::synced_end() const { return util::DecodeFixed64(value.data()); }

DecodeResult DecodeRecord(const char* p, size_t avail, RecordView* out) {
  if (avail < kRecordHeaderSize) {
    // A short tail of zeros is the unwritten end as well.
    for (size_t i = 0; i < avail; i++) {
      if (p[i] != 0) return DecodeResult::kTruncated;
    }
    return DecodeResult::kZero;
  }
  const uint64_t seq = util::DecodeFixed64(p + 4);
  const uint64_t expire = util::DecodeFixed64(p + 12);
  const uint32_t vsize = util::DecodeFixed32(p + 20);
  const uint16_t ksize = util::DecodeFixed16(p + 24);
  const uint8_t flags = static_cast<uint8_t>(p[26]);
  const uint32_t stored = util::DecodeFixed32(p);
  if (seq == 0) {
    if (stored == 0 && expire == 0 && vsize == 0 && ksize == 0 && flags == 0) {
      return DecodeResult::kZero;
    }
    return DecodeResult::kBadHeader;
  }
  if (seq > kMaxSequence || (flags & ~kKnownFlags) != 0 ||
      ((flags & kCodecMask) >> kCodecShift) > kCodecZstd || vsize > kMaxValueSize ||
      ((flags & kSyncMark) != 0 && (flags != kSyncMark || ksize != 0 ||
                                    vsize != kSyncMarkSize - kRecordHeaderSize || expire != 0))) {
    return DecodeResult::kBadHeader;
  }
  const size_t size = RecordSize(ksize, vsize);
  if (size > avail) return DecodeResult::kTruncated;
  if (stored != util::Checksum32(p + 4, size - 4)) return DecodeResult::kBadChecksum;
  out->seq = seq;
  out->expire_at_ms = expire;
  out->flags = flags;
  out->key = std::string_view(p + kRecordHeaderSize, ksize);
  out->value = std::string_view(p + kRecordHeaderSize + ksize, vsize);
  out->size = size;
  return DecodeResult::kOk;
}

const char* DecodeResultName(DecodeResult r) {
  switch (r) {
    case DecodeResult::kOk:
      return "ok";
    case DecodeResult::kZero:
      return "zero bytes where a record should start";
    case DecodeResult::kTruncated:
      return "record runs past the end of the file";
    case DecodeResult::kBadHeader:
      return "invalid record header";
    case DecodeResult::kBadChecksum:
      return "record checksum mismatch";
  }
  return "unknown";
}

}  // namespace bitcask::engine::format
