#include "engine/hint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "engine/coding.h"
#include "engine/format.h"

namespace bitcask::engine {

namespace {
constexpr char kFooterMagic[4] = {'B', 'C', 'H', 'E'};
constexpr size_t kBufferSize = 1 << 20;
}  // namespace

std::string HintFileName(const std::string& dir, uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "/%08u.hint", id);
  return dir + name;
}

HintWriter::HintWriter(std::string dir, uint32_t file_id)
    : dir_(std::move(dir)), file_id_(file_id), tmp_path_(HintFileName(dir_, file_id) + ".tmp") {
  XXH3_64bits_reset(&hash_);
}

HintWriter::~HintWriter() {
  if (fd_.valid() && !finished_) {
    fd_.reset();
    ::unlink(tmp_path_.c_str());
  }
}

Status HintWriter::Open() {
  Status s = OpenFile(tmp_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd_);
  if (!s.ok()) return s;
  buf_.reserve(kBufferSize);
  char header[format::kFileHeaderSize];
  format::EncodeFileHeader(header, format::kHintMagic, file_id_);
  return Append(header, sizeof header);
}

Status HintWriter::Append(const char* p, size_t n) {
  XXH3_64bits_update(&hash_, p, n);
  buf_.append(p, n);
  return buf_.size() >= kBufferSize ? Flush() : Status::OK();
}

Status HintWriter::Flush() {
  Status s = WriteAt(fd_.get(), written_, buf_.data(), buf_.size(), tmp_path_);
  written_ += buf_.size();
  buf_.clear();
  return s;
}

Status HintWriter::Add(const HintEntry& e) {
  char entry[hint_internal::kEntryHeader];
  EncodeFixed32(entry, e.offset);
  EncodeFixed32(entry + 4, e.size);
  EncodeFixed64(entry + 8, e.expire_at_ms);
  EncodeFixed16(entry + 16, static_cast<uint16_t>(e.key.size()));
  entry[18] = e.tombstone ? 1 : 0;
  entries_++;
  Status s = Append(entry, sizeof entry);
  if (s.ok()) s = Append(e.key.data(), e.key.size());
  return s;
}

Status HintWriter::Finish(uint64_t data_size, uint64_t max_seq) {
  char footer[hint_internal::kFooterSize];
  std::memcpy(footer, kFooterMagic, 4);
  EncodeFixed32(footer + 4, 0);
  EncodeFixed64(footer + 8, entries_);
  EncodeFixed64(footer + 16, data_size);
  EncodeFixed64(footer + 24, max_seq);
  XXH3_64bits_update(&hash_, footer, 32);
  EncodeFixed64(footer + 32, XXH3_64bits_digest(&hash_));
  buf_.append(footer, sizeof footer);
  Status s = Flush();
  if (s.ok()) s = SyncData(fd_.get(), tmp_path_);
  fd_.reset();
  if (s.ok()) s = RenameFile(tmp_path_, HintFileName(dir_, file_id_));
  if (s.ok()) finished_ = true;
  else ::unlink(tmp_path_.c_str());
  return s;
}

bool HintCoveredSize(const std::string& path, uint64_t* data_size) {
  FileDescriptor fd;
  uint64_t size;
  if (!PathExists(path) || !OpenFile(path, O_RDONLY, 0, &fd).ok() ||
      !FileSize(fd.get(), path, &size).ok() || size < hint_internal::kFooterSize) {
    return false;
  }
  char footer[hint_internal::kFooterSize];
  if (::pread(fd.get(), footer, sizeof footer, static_cast<off_t>(size - sizeof footer)) !=
          static_cast<ssize_t>(sizeof footer) ||
      std::memcmp(footer, kFooterMagic, 4) != 0) {
    return false;
  }
  *data_size = DecodeFixed64(footer + 16);
  return true;
}

namespace hint_internal {

Status MapAndVerify(const std::string& path, uint32_t file_id, MemoryMap* map,
                    const char** entries, const char** end, uint64_t* count, uint64_t* data_size,
                    uint64_t* max_seq) {
  FileDescriptor fd;
  if (!PathExists(path)) return Status::NotFound(path);
  Status s = OpenFile(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  uint64_t size;
  if (s = FileSize(fd.get(), path, &size); !s.ok()) return s;
  if (size < format::kFileHeaderSize + kFooterSize) {
    return Status::Corruption(path + ": too short for a hint file");
  }
  if (s = MemoryMap::Map(fd.get(), size, /*writable=*/false, path, map); !s.ok()) return s;
  const char* base = map->data();
  s = format::DecodeFileHeader(std::string_view(base, size), format::kHintMagic, file_id, path);
  if (!s.ok()) return s;
  const char* footer = base + size - kFooterSize;
  if (std::memcmp(footer, kFooterMagic, 4) != 0) {
    return Status::Corruption(path + ": no footer (the hint was not finished)");
  }
  if (DecodeFixed64(footer + 32) != XXH3_64bits(base, size - 8)) {
    return Status::Corruption(path + ": hint checksum mismatch");
  }
  *count = DecodeFixed64(footer + 8);
  *data_size = DecodeFixed64(footer + 16);
  *max_seq = DecodeFixed64(footer + 24);
  *entries = base + format::kFileHeaderSize;
  *end = footer;
  return Status::OK();
}

}  // namespace hint_internal
}  // namespace bitcask::engine
