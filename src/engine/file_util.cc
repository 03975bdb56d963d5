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

namespace {

// After an mmap failed with ENOMEM: if the process is at its limit of memory mappings (each
// data file takes one), what to do about it; otherwise nothing.
std::string MapCountHint() {
  unsigned long long limit = 0;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%llu", &limit) != 1) limit = 0;
    std::fclose(f);
  }
  unsigned long long maps = 0;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    for (int c; (c = std::fgetc(f)) != EOF;) maps += c == '\n';
    std::fclose(f);
  }
  if (limit == 0 || maps + 64 < limit) return "";
  return " (the process has " + std::to_string(maps) + " memory mappings and vm.max_map_count is " +
         std::to_string(limit) + "; each data file takes one: use a larger max_file_size and merge, " +
         "or raise vm.max_map_count)";
}

}  // namespace

Status MemoryMap::Map(int fd, size_t length, bool writable, const std::string& path,
                      MemoryMap* out, bool huge_aligned) {
  out->reset();
  if (length == 0) return Status::OK();
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* hint = nullptr;
  void* reserved = MAP_FAILED;
  if (huge_aligned) {
    // Reserve address space with room to spare, then place the file on its 2 MiB boundary.
    reserved = ::mmap(nullptr, length + kHugePageSize, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved != MAP_FAILED) {
      hint = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(reserved) + kHugePageSize - 1) &
                                     ~uintptr_t{kHugePageSize - 1});
    }
  }
  void* p = ::mmap(hint, length, prot, MAP_SHARED | (hint != nullptr ? MAP_FIXED : 0), fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    if (reserved != MAP_FAILED) ::munmap(reserved, length + kHugePageSize);
    if (err == ENOMEM) {
      if (const std::string hint = MapCountHint(); !hint.empty()) {
        return Status::IOError("mmap " + path + ": " + std::strerror(err) + hint);
      }
    }
    return Status::FromErrno("mmap " + path, err);
  }
  if (hint != nullptr) {
    // Give back the reservation around the file mapping.
    char* const begin = static_cast<char*>(reserved);
    char* const end = begin + length + kHugePageSize;
    if (static_cast<char*>(p) > begin) ::munmap(begin, static_cast<char*>(p) - begin);
    if (static_cast<char*>(p) + length < end) {
      ::munmap(static_cast<char*>(p) + length, end - (static_cast<char*>(p) + length));
    }
  }
  out->data_ = static_cast<char*>(p);
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

namespace {
// ::open, retried on EINTR; the errno of a failure in *err.
int OpenRetrying(const std::string& path, int flags, mode_t mode, int* err) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  *err = fd < 0 ? errno : 0;
  return fd;
}
}  // namespace

Status OpenFile(const std::string& path, int flags, mode_t mode, FileDescriptor* out) {
  int err;
  const int fd = OpenRetrying(path, flags, mode, &err);
  if (fd < 0) return Status::FromErrno("open " + path, err);
  *out = FileDescriptor(fd);
  return Status::OK();
}

Status OpenExisting(const std::string& path, int flags, FileDescriptor* out) {
  int err;
  const int fd = OpenRetrying(path, flags & ~O_CREAT, 0, &err);
  if (fd < 0) {
    return err == ENOENT ? Status::NotFound(path) : Status::FromErrno("open " + path, err);
  }
  *out = FileDescriptor(fd);
  return Status::OK();
}

Status FileSize(int fd, const std::string& path, uint64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat " + path, errno);
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path) {
  // posix_fallocate returns the error number instead of setting errno; glibc falls back to
  // writing zeros on file systems without fallocate.
  int err;
  do {
    err = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (err == EINTR);
  if (err != 0) return Status::FromErrno("allocate " + std::to_string(length) + " bytes in " + path, err);
  return Status::OK();
}

Status Truncate(int fd, uint64_t size, const std::string& path) {
  int rc;
  do {
    rc = ::ftruncate(fd, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Status::FromErrno("truncate " + path, errno);
  return Status::OK();
}

Status SyncData(int fd, const std::string& path) {
  int rc;
  do {
    rc = ::fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Status::FromErrno("fdatasync " + path, errno);
  return Status::OK();
}

Status SyncFile(const std::string& path) {
  FileDescriptor fd;
  Status s = OpenFile(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  return SyncData(fd.get(), path);
}

Status SyncDir(const std::string& dir) {
  FileDescriptor fd;
  Status s = OpenFile(dir, O_RDONLY | O_DIRECTORY, 0, &fd);
  if (!s.ok()) return s;
  if (::fsync(fd.get()) != 0) return Status::FromErrno("fsync " + dir, errno);
  return Status::OK();
}

Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno("rename " + from + " to " + to, errno);
  }
  return Status::OK();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
  return Status::OK();
}

Status ListDir(const std::string& dir, std::vector<std::string>* names) {
  names->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name(e->d_name);
    if (name != "." && name != "..") names->push_back(std::move(name));
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno("readdir " + dir, err);
  return Status::OK();
}

Status FreeSpace(const std::string& path, uint64_t* bytes) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
  *bytes = uint64_t{st.f_bavail} * st.f_frsize;
  return Status::OK();
}

Status CreateDirIfMissing(const std::string& dir, bool* created) {
  *created = false;
  if (::mkdir(dir.c_str(), 0755) == 0) {
    *created = true;
    return Status::OK();
  }
  if (errno == ENOENT) {  // a parent is missing: create it too, like mkdir -p
    const size_t slash = dir.find_last_not_of('/') == std::string::npos
                             ? std::string::npos
                             : dir.rfind('/', dir.find_last_not_of('/'));
    if (slash != std::string::npos && slash != 0) {
      bool parent_created = false;
      if (Status s = CreateDirIfMissing(dir.substr(0, slash), &parent_created); !s.ok()) return s;
      if (::mkdir(dir.c_str(), 0755) == 0) {
        *created = true;
        return Status::OK();
      }
    }
  }
  if (errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " exists and is not a directory");
  return Status::OK();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status WriteAt(int fd, uint64_t offset, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::OK();
}

Status WriteVectorAt(int fd, uint64_t offset, const struct iovec* iov, int count,
                     const std::string& path) {
  std::vector<struct iovec> rest(iov, iov + count);
  size_t first = 0;
  while (first < rest.size()) {
    const ssize_t w = ::pwritev(fd, rest.data() + first, static_cast<int>(rest.size() - first),
                                static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    offset += static_cast<uint64_t>(w);
    // Skip what was written: whole pieces, then part of the next one.
    size_t done = static_cast<size_t>(w);
    while (first < rest.size() && done >= rest[first].iov_len) done -= rest[first++].iov_len;
    if (first < rest.size()) {
      rest[first].iov_base = static_cast<char*>(rest[first].iov_base) + done;
      rest[first].iov_len -= done;
    }
  }
  return Status::OK();
}

Status DirLock::Acquire(const std::string& dir, DirLock* out) {
  const std::string path = dir + "/LOCK";
  FileDescriptor fd;
  Status s = OpenFile(path, O_RDWR | O_CREAT, 0644, &fd);
  if (!s.ok()) return s;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Busy(path +
                          ": the store is already open for writing (by another process or another "
                          "DB object in this one); open it with read_only to read alongside");
    }
    return Status::FromErrno("flock " + path, errno);
  }
  out->fd_ = std::move(fd);
  return Status::OK();
}

}  // namespace bitcask::engine
