// Env: every way the store reaches the operating system, behind one interface, as LevelDB's
// Env and RocksDB's FileSystem: opening, sizing, allocating, writing, mapping and flushing
// files; renaming, linking and removing them; listing and creating directories; the space
// left on the disk; the lock that keeps a second writer out; and the wall clock that TTLs
// are measured against.
//
// Options::env chooses one; the default is the operating system's (Env::Default()). A test
// wraps it (EnvWrapper forwards every call) and overrides the calls it wants to fail, slow
// down or watch: a full disk, a failing flush, a short write, a file that vanishes, a page
// the disk cannot read, a clock moved by hand. Nothing the store does to a file goes around
// it, so a fault can be injected into any of these calls, in any combination.
//
// Reads and writes of records go through memory mappings, not through calls here: the hot
// path (a copy into the active file's mapping, a copy out of a sealed one) costs no virtual
// call. A mapping is made here (MapFile), so a test can hand the store a mapping that faults.

#ifndef BITCASK_ENV_H_
#define BITCASK_ENV_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/status.h"

namespace bitcask {

class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  virtual ~Env() = default;

  // The operating system's. Process-wide; never destroyed.
  static Env* Default();

  // ---- Files, by descriptor ---------------------------------------------------------------
  // Descriptors are POSIX ones (the store closes them with close(2)); every call names the
  // file's path for its error message. Errors come back as Status naming the call and path.

  // open(2) with flags (O_CLOEXEC added) and mode; NotFound if the file does not exist and
  // flags lack O_CREAT.
  virtual Status OpenFile(const std::string& path, int flags, uint32_t mode, int* fd) = 0;
  virtual Status FileSize(int fd, const std::string& path, uint64_t* size) = 0;
  // Reserves disk blocks for [offset, offset + length), growing the file if need be, so that
  // a later store through a mapping cannot fail for want of space (posix_fallocate).
  virtual Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path) = 0;
  virtual Status Truncate(int fd, uint64_t size, const std::string& path) = 0;
  // Writes the pieces back to back at offset, all of them (pwritev, retried until done).
  virtual Status WriteAt(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                         const std::string& path) = 0;
  // Reads up to n bytes at offset into buf; *read says how many (fewer at the end of the file).
  virtual Status ReadAt(int fd, uint64_t offset, char* buf, size_t n, size_t* read,
                        const std::string& path) = 0;
  // Flushes the file's data (and the metadata needed to read it back) to stable storage.
  virtual Status SyncData(int fd, const std::string& path) = 0;
  // Maps length bytes of the file from offset 0, shared (writable or read-only); length may
  // exceed the file's size. With huge_aligned the mapping starts on a 2 MiB boundary. The
  // store unmaps it with munmap(2).
  virtual Status MapFile(int fd, size_t length, bool writable, bool huge_aligned,
                         const std::string& path, char** data) = 0;

  // ---- Names and directories --------------------------------------------------------------

  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // A hard link; NotSupported where the file system cannot make one (then the store copies).
  virtual Status LinkFile(const std::string& from, const std::string& to) = 0;
  // OK if something is at path, NotFound if not.
  virtual Status FileExists(const std::string& path) = 0;
  // The names in dir, "." and ".." left out.
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  // Creates dir and any missing parents (mkdir -p); *created says whether dir was made.
  virtual Status CreateDir(const std::string& dir, bool* created) = 0;
  // Removes an empty directory.
  virtual Status RemoveDir(const std::string& dir) = 0;
  // Flushes the directory itself (the names in it) to stable storage.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Bytes an unprivileged writer can still use on the file system holding path.
  virtual Status FreeSpace(const std::string& path, uint64_t* bytes) = 0;
  // Takes an exclusive lock on the file at path (created if missing), held until *fd is
  // closed: Busy if another holder, in this process or another, has it (flock(2)).
  virtual Status LockFile(const std::string& path, int* fd) = 0;

  // ---- Time -------------------------------------------------------------------------------

  // Milliseconds since the Unix epoch: what expiries (TTLs) are compared with.
  virtual uint64_t NowUnixMillis() = 0;
};

// Forwards every call to another Env; a test overrides what it wants to change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Status OpenFile(const std::string& path, int flags, uint32_t mode, int* fd) override {
    return target_->OpenFile(path, flags, mode, fd);
  }
  Status FileSize(int fd, const std::string& path, uint64_t* size) override {
    return target_->FileSize(fd, path, size);
  }
  Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path) override {
    return target_->Allocate(fd, offset, length, path);
  }
  Status Truncate(int fd, uint64_t size, const std::string& path) override {
    return target_->Truncate(fd, size, path);
  }
  Status WriteAt(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                 const std::string& path) override {
    return target_->WriteAt(fd, offset, pieces, path);
  }
  Status ReadAt(int fd, uint64_t offset, char* buf, size_t n, size_t* read,
                const std::string& path) override {
    return target_->ReadAt(fd, offset, buf, n, read, path);
  }
  Status SyncData(int fd, const std::string& path) override { return target_->SyncData(fd, path); }
  Status MapFile(int fd, size_t length, bool writable, bool huge_aligned, const std::string& path,
                 char** data) override {
    return target_->MapFile(fd, length, writable, huge_aligned, path, data);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status LinkFile(const std::string& from, const std::string& to) override {
    return target_->LinkFile(from, to);
  }
  Status FileExists(const std::string& path) override { return target_->FileExists(path); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return target_->ListDir(dir, names);
  }
  Status CreateDir(const std::string& dir, bool* created) override {
    return target_->CreateDir(dir, created);
  }
  Status RemoveDir(const std::string& dir) override { return target_->RemoveDir(dir); }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status FreeSpace(const std::string& path, uint64_t* bytes) override {
    return target_->FreeSpace(path, bytes);
  }
  Status LockFile(const std::string& path, int* fd) override { return target_->LockFile(path, fd); }
  uint64_t NowUnixMillis() override { return target_->NowUnixMillis(); }

 private:
  Env* target_;
};

}  // namespace bitcask

#endif  // BITCASK_ENV_H_
