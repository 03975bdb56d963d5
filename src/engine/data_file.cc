#include "engine/data_file.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/format.h"
#include "engine/map_faults.h"
#include "engine/recovery.h"

namespace bitcask::engine {

namespace {
// Disk space is reserved ahead of the write position in steps of this size, so the
// allocation call is rare next to the records it makes room for.
constexpr uint64_t kAllocationStep = 8ull << 20;
// Pages are mapped ahead of the write position in steps of this size (of a huge page with
// huge pages).
constexpr uint64_t kPopulateStep = 128ull << 10;
}  // namespace

std::string DataFileName(const std::string& dir, uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "/%08u.data", id);
  return dir + name;
}

Status DataFile::Create(Env* env, const std::string& dir, uint32_t id, uint64_t capacity,
                        std::unique_ptr<DataFile>* out, bool temporary, bool huge_pages) {
  std::unique_ptr<DataFile> f(new DataFile(env, id, DataFileName(dir, id)));
  if (temporary) f->temp_path_ = f->path_ + ".tmp";
  Status s = OpenFile(env, f->disk_path(), O_RDWR | O_CREAT | O_EXCL, 0644, &f->fd_);
  if (!s.ok()) return s;
  s = f->Initialize(capacity, temporary, huge_pages);
  if (!s.ok()) {
    // Most often the disk is full. Leave no file behind: a later try takes the same name.
    const std::string path = f->disk_path();
    f.reset();
    (void)env->RemoveFile(path);
    return s;
  }
  *out = std::move(f);
  return Status::OK();
}

Status DataFile::Initialize(uint64_t capacity, bool temporary, bool huge_pages) {
  writable_ = true;
  // Mapped on a 2 MiB boundary whether or not huge pages are asked for now: they can be
  // switched on later (SetHugePages).
  Status s = MemoryMap::Map(env_, fd_.get(), capacity, /*writable=*/true, path_, &map_,
                            /*huge_aligned=*/true);
  if (!s.ok()) return s;
  SetHugePages(huge_pages);
  s = Reserve(format::kFileHeaderSize);
  if (!s.ok()) return s;
  format::EncodeFileHeader(MappedForWrite(0, format::kFileHeaderSize), format::kDataMagic, id_);
  Commit(format::kFileHeaderSize);
  format_version_ = format::kDataFormatVersion;
  return temporary ? Status::OK() : Sync();
}

Status DataFile::Open(Env* env, const std::string& dir, uint32_t id, bool writable,
                      uint64_t capacity, std::unique_ptr<DataFile>* out, bool huge_pages) {
  std::unique_ptr<DataFile> f(new DataFile(env, id, DataFileName(dir, id)));
  Status s = OpenFile(env, f->path_, writable ? O_RDWR : O_RDONLY, 0, &f->fd_);
  if (!s.ok()) return s;
  uint64_t file_size;
  s = env->FileSize(f->fd_.get(), f->path_, &file_size);
  if (!s.ok()) return s;
  f->writable_ = writable;
  f->allocated_ = file_size;
  f->populated_ = file_size;
  f->size_.store(file_size, std::memory_order_relaxed);
  const uint64_t map_length = writable ? std::max(capacity, file_size) : file_size;
  s = MemoryMap::Map(env, f->fd_.get(), map_length, writable, f->path_, &f->map_,
                     /*huge_aligned=*/writable);
  if (!s.ok()) return s;
  if (writable) {
    f->SetHugePages(huge_pages);
  } else {
    f->fd_.reset();  // the mapping is all reads need (Sync opens the file if it must)
  }
  *out = std::move(f);
  return Status::OK();
}

Status DataFile::AllocateTo(uint64_t end) {
  uint64_t target =
      std::min<uint64_t>(capacity(), std::max<uint64_t>(end, allocated_ + kAllocationStep));
  Status s = env_->Allocate(fd_.get(), allocated_, target - allocated_, path_);
  if (!s.ok() && target > end) {
    // A disk with less than a step left still has room for what is asked now.
    target = end;
    s = env_->Allocate(fd_.get(), allocated_, target - allocated_, path_);
  }
  if (!s.ok()) return s;
  allocated_ = target;
  return Status::OK();
}

void DataFile::Populate(uint64_t offset, uint64_t end) {
  // Map the next pages writable in one call, rather than taking a page fault per 4 KiB on
  // the write path; in small steps, so the freshly zeroed pages are still in the cache when
  // the records are copied in. Advisory: without it the faults happen lazily.
  const uint64_t step = huge_pages_ ? MemoryMap::kHugePageSize : kPopulateStep;
  const uint64_t from = std::max(populated_, offset) & ~(step - 1);
  const uint64_t to = std::min<uint64_t>(allocated_, std::max<uint64_t>(end, from + step));
  ::madvise(map_.data() + from, to - from, MADV_POPULATE_WRITE);
  populated_ = to;
}

void DataFile::SetHugePages(bool on) {
  if (on == huge_pages_) return;
  huge_pages_ = on;
  map_.AdviseHugePages(populated_, on);
}

Status DataFile::WriteVectored(uint64_t offset, std::span<const std::string_view> pieces) {
  return env_->WriteAt(fd_.get(), offset, pieces, path_);
}

Status DataFile::Unreadable(uint64_t offset) const {
  return Status::IOError(path_ + " offset " + std::to_string(offset) + ": " +
                         map_faults::Explanation());
}

Status DataFile::Append(std::initializer_list<std::string_view> pieces) {
  size_t total = 0;
  for (std::string_view p : pieces) total += p.size();
  Status s = Reserve(total);
  if (!s.ok()) return s;
  const uint64_t offset = size();
  if (total < mapped_write_max()) {
    char* dst = MappedForWrite(offset, total);
    for (std::string_view p : pieces) {
      if (p.empty()) continue;  // an empty view may hold a null pointer memcpy must not get
      std::memcpy(dst, p.data(), p.size());
      dst += p.size();
    }
    if (faulted()) [[unlikely]]
      return Unreadable(offset);
  } else {
    if (s = WriteVectored(offset, std::span(pieces.begin(), pieces.size())); !s.ok()) {
      (void)DiscardUncommitted();
      return s;
    }
  }
  Commit(total);
  return Status::OK();
}

Status DataFile::Publish() {
  if (temp_path_.empty()) return Status::OK();
  Status s = env_->RenameFile(temp_path_, path_);
  if (s.ok()) temp_path_.clear();
  return s;
}

Status DataFile::Sync() const {
  std::lock_guard l(fd_mu_);
  if (fd_.valid()) {
    Status s = env_->SyncData(fd_.get(), path_);
    if (!writable()) fd_.reset();  // sealed while this ran: Seal left the closing to us
    return s;
  }
  // Sealed, or opened read-only: nothing is written to it any more, so one flush covers
  // it for good. An earlier run may have left its pages unflushed, so that one is needed.
  if (flushed_) return Status::OK();
  FileDescriptor fd;
  Status s = OpenFile(env_, disk_path(), O_RDONLY, 0, &fd);
  if (s.ok()) s = env_->SyncData(fd.get(), path_);
  if (s.ok()) flushed_ = true;
  return s;
}

Status DataFile::TruncateTo(uint64_t size) {
  Status s = env_->Truncate(fd_.get(), size, path_);
  if (!s.ok()) return s;
  allocated_ = size;
  populated_ = size;
  size_.store(size, std::memory_order_release);
  return Status::OK();
}

bool DataFile::HasSyncMark() const {
  return format_version_ >= 2 && FindSyncMark(base(), format::kFileHeaderSize, check_end(),
                                              [](uint64_t, uint64_t) { return true; });
}

Status DataFile::CutUnfinishedTail(uint64_t size) {
  FileDescriptor fd;
  Status s = OpenFile(env_, path_, O_RDWR, 0, &fd);
  if (s.ok()) s = env_->Truncate(fd.get(), size, path_);
  if (s.ok()) s = env_->SyncData(fd.get(), path_);
  if (!s.ok()) return s;
  check_end_ = size;  // the mapping past it is beyond the end of the file now
  size_.store(size, std::memory_order_release);
  return Status::OK();
}

Status DataFile::Seal(bool sync) {
  if (!writable_) return Status::OK();
  Status s = TruncateTo(size());
  if (s.ok() && sync) s = Sync();
  if (s.ok()) s = map_.Protect(path_);
  if (s.ok()) {
    writable_.store(false, std::memory_order_release);
    // A flush running on another thread holds the descriptor: rather than wait for it
    // (with the write lock held), leave the closing to it.
    std::unique_lock l(fd_mu_, std::try_to_lock);
    if (l.owns_lock()) {
      fd_.reset();
      flushed_ = sync;
    }
  }
  return s;
}

}  // namespace bitcask::engine
