#include "engine/hint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "engine/format.h"
#include "util/coding.h"

namespace bitcask::engine {

namespace {
constexpr char kFooterMagic[4] = {'B', 'C', 'H', 'E'};
constexpr size_t kBufferSize = 1 << 20;
constexpr size_t kFooterSize = 40;
}  // namespace

std::string HintFileName(const std::string& dir, uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "/%08u.hint", id);
  return dir + name;
}

HintWriter::HintWriter(Env* env, std::string dir, uint32_t file_id)
    : env_(env),
      dir_(std::move(dir)),
      file_id_(file_id),
      tmp_path_(HintFileName(dir_, file_id) + ".tmp") {
  XXH3_64bits_reset(&hash_);
}

HintWriter::~HintWriter() {
  if (fd_.valid() && !finished_) {
    fd_.reset();
    (void)env_->RemoveFile(tmp_path_);
  }
}

Status HintWriter::Open() {
  Status s = OpenFile(env_, tmp_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd_);
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
  Status s = WriteAt(env_, fd_.get(), written_, buf_.data(), buf_.size(), tmp_path_);
  written_ += buf_.size();
  buf_.clear();
  return s;
}

Status HintWriter::Add(const HintEntry& e) {
  char entry[kHintEntryHeaderSize];
  util::EncodeFixed32(entry, e.offset);
  util::EncodeFixed32(entry + 4, e.size);
  util::EncodeFixed64(entry + 8, e.expire_at_ms);
  util::EncodeFixed16(entry + 16, static_cast<uint16_t>(e.key.size()));
  entry[18] = e.tombstone ? 1 : 0;
  entries_++;
  Status s = Append(entry, sizeof entry);
  if (s.ok()) s = Append(e.key.data(), e.key.size());
  return s;
}

Status HintWriter::Finish(uint64_t data_size, uint64_t max_seq) {
  char footer[kFooterSize];
  std::memcpy(footer, kFooterMagic, 4);
  util::EncodeFixed32(footer + 4, 0);
  util::EncodeFixed64(footer + 8, entries_);
  util::EncodeFixed64(footer + 16, data_size);
  util::EncodeFixed64(footer + 24, max_seq);
  XXH3_64bits_update(&hash_, footer, 32);
  util::EncodeFixed64(footer + 32, XXH3_64bits_digest(&hash_));
  buf_.append(footer, sizeof footer);
  Status s = Flush();
  if (s.ok()) s = env_->SyncData(fd_.get(), tmp_path_);
  fd_.reset();
  if (s.ok()) s = env_->RenameFile(tmp_path_, HintFileName(dir_, file_id_));
  if (s.ok())
    finished_ = true;
  else
    (void)env_->RemoveFile(tmp_path_);
  return s;
}

namespace {
// Reads the footer of the hint at path; false if there is no readable footer.
bool ReadFooter(Env* env, const std::string& path, char (&footer)[kFooterSize]) {
  FileDescriptor fd;
  uint64_t size;
  size_t read = 0;
  return OpenExisting(env, path, O_RDONLY, &fd).ok() && env->FileSize(fd.get(), path, &size).ok() &&
         size >= kFooterSize &&
         env->ReadAt(fd.get(), size - kFooterSize, footer, kFooterSize, &read, path).ok() &&
         read == kFooterSize && std::memcmp(footer, kFooterMagic, 4) == 0;
}
}  // namespace

bool HintCoveredSize(Env* env, const std::string& path, uint64_t* data_size) {
  char footer[kFooterSize];
  if (!ReadFooter(env, path, footer)) return false;
  *data_size = util::DecodeFixed64(footer + 16);
  return true;
}

bool HintEntryCount(Env* env, const std::string& path, uint64_t* entries) {
  char footer[kFooterSize];
  if (!ReadFooter(env, path, footer)) return false;
  *entries = util::DecodeFixed64(footer + 8);
  return true;
}

const char* HintReader::Decode(const char* p, HintEntry* e) {
  e->offset = util::DecodeFixed32(p);
  e->size = util::DecodeFixed32(p + 4);
  e->expire_at_ms = util::DecodeFixed64(p + 8);
  const uint16_t ksize = util::DecodeFixed16(p + 16);
  e->tombstone = (p[18] & 1) != 0;
  e->key = std::string_view(p + kHintEntryHeaderSize, ksize);
  return p + kHintEntryHeaderSize + ksize;
}

Status HintReader::Open(Env* env, const std::string& path, uint32_t file_id, uint64_t file_size) {
  FileDescriptor fd;
  // NotFound if absent: not written yet (the writer writes it in the background), or gone
  // (a merge deletes it with its data file, which a read-only store may still hold mapped).
  Status s = OpenExisting(env, path, O_RDONLY, &fd);
  if (!s.ok()) return s;
  uint64_t size;
  if (s = env->FileSize(fd.get(), path, &size); !s.ok()) return s;
  if (size < format::kFileHeaderSize + kFooterSize) {
    return Status::Corruption(path + ": too short for a hint file");
  }
  if (s = MemoryMap::Map(env, fd.get(), size, /*writable=*/false, path, &map_); !s.ok()) return s;
  const char* base = map_.data();
  s = format::DecodeFileHeader(std::string_view(base, size), format::kHintMagic, file_id, path);
  if (!s.ok()) return s;
  const char* footer = base + size - kFooterSize;
  if (std::memcmp(footer, kFooterMagic, 4) != 0) {
    return Status::Corruption(path + ": no footer (the hint was not finished)");
  }
  if (util::DecodeFixed64(footer + 32) != util::Hash64(base, size - 8)) {
    return Status::Corruption(path + ": hint checksum mismatch");
  }
  const uint64_t count = util::DecodeFixed64(footer + 8);
  data_size_ = util::DecodeFixed64(footer + 16);
  max_seq_ = util::DecodeFixed64(footer + 24);
  if (max_seq_ > format::kMaxSequence) {
    return Status::Corruption(path + ": sequence number " + std::to_string(max_seq_) +
                              " is out of range");
  }
  if (data_size_ > file_size || data_size_ < format::kFileHeaderSize) {
    return Status::Corruption(path + ": describes " + std::to_string(data_size_) +
                              " bytes of a data file that has " + std::to_string(file_size));
  }
  // Walk the entries once to check their bounds, so that a malformed hint is rejected before
  // any entry reaches the caller.
  const char* p = base + format::kFileHeaderSize;
  for (uint64_t i = 0; i < count; i++) {
    if (footer - p < static_cast<ptrdiff_t>(kHintEntryHeaderSize) ||
        footer - p < static_cast<ptrdiff_t>(kHintEntryHeaderSize + util::DecodeFixed16(p + 16))) {
      return Status::Corruption(path + ": entry " + std::to_string(i) + " runs past the footer");
    }
    HintEntry e;
    p = Decode(p, &e);
    if (e.offset < format::kFileHeaderSize || uint64_t{e.offset} + e.size > data_size_ ||
        e.size < format::RecordSize(e.key.size(), 0)) {
      return Status::Corruption(path + ": entry " + std::to_string(i) +
                                " points outside the data it describes");
    }
  }
  if (p != footer)
    return Status::Corruption(path + ": bytes left between the entries and the footer");
  begin_ = base + format::kFileHeaderSize;
  count_ = count;
  return Status::OK();
}
}  // namespace bitcask::engine
