// Thin POSIX wrappers that turn errno into a Status naming the call and the path.

#ifndef BITCASK_ENGINE_FILE_UTIL_H_
#define BITCASK_ENGINE_FILE_UTIL_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bitcask/status.h"
#include "engine/map_faults.h"

namespace bitcask::engine {

// Owns a file descriptor.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Owns a memory mapping.
class MemoryMap {
 public:
  MemoryMap() = default;
  MemoryMap(MemoryMap&& other) noexcept;
  MemoryMap& operator=(MemoryMap&& other) noexcept;
  MemoryMap(const MemoryMap&) = delete;
  MemoryMap& operator=(const MemoryMap&) = delete;
  ~MemoryMap() { reset(); }

  // Maps `length` bytes of fd from offset 0, shared. The length may exceed the file size;
  // only bytes below the file size may be touched. With `huge_aligned`, the mapping starts on
  // a 2 MiB boundary, so that after AdviseHugePages the kernel may map the page cache in 2 MiB
  // folios (one fault and one TLB entry where 4 KiB pages need 512).
  static Status Map(int fd, size_t length, bool writable, const std::string& path, MemoryMap* out,
                    bool huge_aligned = false);
  static constexpr size_t kHugePageSize = size_t{2} << 20;

  char* data() const { return data_; }
  size_t length() const { return length_; }
  // Makes the mapping read-only (once a file is sealed).
  Status Protect(const std::string& path);
  // Gives (on) or withdraws the MADV_HUGEPAGE advice from byte `from`, rounded up to 2 MiB,
  // to the end. Pages already mapped stay as they are.
  void AdviseHugePages(size_t from, bool on);
  // Whether a page could not be read or written (SIGBUS) and now reads as zeros: see
  // map_faults.h.
  bool faulted() const { return fault_flag_->load(std::memory_order_acquire); }
  void reset();

 private:
  char* data_ = nullptr;
  size_t length_ = 0;
  int fault_slot_ = -1;  // in map_faults, which makes a SIGBUS here an error
  const std::atomic<bool>* fault_flag_ = map_faults::FaultFlag(-1);  // that slot's
};

Status OpenFile(const std::string& path, int flags, mode_t mode, FileDescriptor* out);
// OpenFile without O_CREAT, that returns NotFound (not IOError) if there is no such file: in
// one call, where a test for the file first could race with its creation or removal.
Status OpenExisting(const std::string& path, int flags, FileDescriptor* out);
Status FileSize(int fd, const std::string& path, uint64_t* size);
// Reserves disk blocks for [offset, offset+length), extending the file size if needed, so a
// later store through a mapping cannot fail for lack of space.
Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path);
Status Truncate(int fd, uint64_t size, const std::string& path);
Status SyncData(int fd, const std::string& path);  // fdatasync
Status SyncDir(const std::string& dir);            // fsync of the directory itself
Status SyncFile(const std::string& path);          // fdatasync of the file at path
Status RenameFile(const std::string& from, const std::string& to);
Status RemoveFile(const std::string& path);
Status ListDir(const std::string& dir, std::vector<std::string>* names);
// Bytes an unprivileged writer can still use on the file system holding path (statvfs).
Status FreeSpace(const std::string& path, uint64_t* bytes);
// Creates dir, and any missing parents, if it does not exist; *created tells whether it did.
Status CreateDirIfMissing(const std::string& dir, bool* created);
bool PathExists(const std::string& path);
// Writes all of data at offset (pwrite loop).
Status WriteAt(int fd, uint64_t offset, const char* data, size_t n, const std::string& path);
// Writes all the pieces back to back at offset (pwritev loop).
Status WriteVectorAt(int fd, uint64_t offset, const struct iovec* iov, int count,
                     const std::string& path);

// An exclusive advisory lock (flock) on DIR/LOCK, held until destroyed. A second holder,
// in this process or another, gets Busy.
class DirLock {
 public:
  static Status Acquire(const std::string& dir, DirLock* out);
  void Release() { fd_.reset(); }

 private:
  FileDescriptor fd_;
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_FILE_UTIL_H_
