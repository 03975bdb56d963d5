#include "engine/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace bitcask::engine {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

void FileDescriptor::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

MemoryMap::MemoryMap(MemoryMap&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      fault_slot_(std::exchange(other.fault_slot_, -1)),
      fault_flag_(std::exchange(other.fault_flag_, map_faults::FaultFlag(-1))) {}

MemoryMap& MemoryMap::operator=(MemoryMap&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    length_ = std::exchange(other.length_, 0);
    fault_slot_ = std::exchange(other.fault_slot_, -1);
    fault_flag_ = std::exchange(other.fault_flag_, map_faults::FaultFlag(-1));
  }
  return *this;
}

Status MemoryMap::Map(Env* env, int fd, size_t length, bool writable, const std::string& path,
                      MemoryMap* out, bool huge_aligned) {
  out->reset();
  if (length == 0) return Status::OK();
  char* p = nullptr;
  if (Status s = env->MapFile(fd, length, writable, huge_aligned, path, &p); !s.ok()) return s;
  out->data_ = p;
  out->length_ = length;
  out->fault_slot_ = map_faults::Register(p, length);
  out->fault_flag_ = map_faults::FaultFlag(out->fault_slot_);
  return Status::OK();
}

void MemoryMap::AdviseHugePages(size_t from, bool on) {
  from = (from + kHugePageSize - 1) & ~(kHugePageSize - 1);
  // Advisory: without MADV_HUGEPAGE, 4 KiB pages.
  if (data_ != nullptr && from < length_) {
    ::madvise(data_ + from, length_ - from, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  }
}

Status MemoryMap::Protect(const std::string& path) {
  if (data_ == nullptr) return Status::OK();
  if (::mprotect(data_, length_, PROT_READ) != 0) {
    return Status::FromErrno("mprotect " + path, errno);
  }
  return Status::OK();
}

void MemoryMap::reset() {
  map_faults::Unregister(std::exchange(fault_slot_, -1));
  fault_flag_ = map_faults::FaultFlag(-1);
  if (data_ != nullptr) ::munmap(data_, length_);
  data_ = nullptr;
  length_ = 0;
}

Status OpenFile(Env* env, const std::string& path, int flags, mode_t mode, FileDescriptor* out) {
  int fd = -1;
  if (Status s = env->OpenFile(path, flags, mode, &fd); !s.ok()) {
    // NotFound is for OpenExisting's callers; here a missing file is an error like any.
    return s.IsNotFound() ? Status::FromErrno("open " + path, ENOENT) : s;
  }
  *out = FileDescriptor(fd);
  return Status::OK();
}

Status OpenExisting(Env* env, const std::string& path, int flags, FileDescriptor* out) {
  int fd = -1;
  if (Status s = env->OpenFile(path, flags & ~O_CREAT, 0, &fd); !s.ok()) return s;
  *out = FileDescriptor(fd);
  return Status::OK();
}

Status WriteAt(Env* env, int fd, uint64_t offset, const char* data, size_t n,
               const std::string& path) {
  const std::string_view piece(data, n);
  return env->WriteAt(fd, offset, std::span(&piece, 1), path);
}

Status SyncFile(Env* env, const std::string& path) {
  FileDescriptor fd;
  if (Status s = OpenFile(env, path, O_RDONLY, 0, &fd); !s.ok()) return s;
  return env->SyncData(fd.get(), path);
}

bool PathExists(Env* env, const std::string& path) { return env->FileExists(path).ok(); }

Status DirLock::Acquire(Env* env, const std::string& dir, DirLock* out) {
  const std::string path = dir + "/LOCK";
  int fd = -1;
  Status s = env->LockFile(path, &fd);
  if (s.IsBusy()) {
    return Status::Busy(path +
                        ": the store is already open for writing (by another process or another "
                        "DB object in this one); open it with read_only to read alongside");
  }
  if (!s.ok()) return s;
  out->fd_ = FileDescriptor(fd);
  return Status::OK();
}

}  // namespace bitcask::engine
