// What the engine holds of the files it opens (a descriptor, a mapping, the directory's
// lock), and the Env calls it makes, in the shapes it makes them.

#ifndef BITCASK_ENGINE_FILE_UTIL_H_
#define BITCASK_ENGINE_FILE_UTIL_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bitcask/env.h"
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
  static Status Map(Env* env, int fd, size_t length, bool writable, const std::string& path,
                    MemoryMap* out, bool huge_aligned = false);
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

// The calls the engine makes through its Env (bitcask/env.h), in the shapes it uses them.

// env->OpenFile into a FileDescriptor.
Status OpenFile(Env* env, const std::string& path, int flags, mode_t mode, FileDescriptor* out);
// OpenFile without O_CREAT: NotFound (not IOError) if there is no such file, in one call,
// where a test for the file first could race with its creation or removal.
Status OpenExisting(Env* env, const std::string& path, int flags, FileDescriptor* out);
// Writes all of data at offset.
Status WriteAt(Env* env, int fd, uint64_t offset, const char* data, size_t n,
               const std::string& path);
// Flushes the data of the file at path.
Status SyncFile(Env* env, const std::string& path);
// Whether something is at path (a failed check counts as no).
bool PathExists(Env* env, const std::string& path);

// An exclusive advisory lock (flock) on DIR/LOCK, held until destroyed. A second holder,
// in this process or another, gets Busy.
class DirLock {
 public:
  static Status Acquire(Env* env, const std::string& dir, DirLock* out);
  void Release() { fd_.reset(); }

 private:
  FileDescriptor fd_;
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_FILE_UTIL_H_
