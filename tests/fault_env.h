// FaultInjectionEnv: the operating system's Env (bitcask/env.h) with faults a test chooses,
// as LevelDB's FaultInjectionTestEnv: any kind of call can fail, from the Nth on or just the
// Nth, with the errno the test names (ENOSPC, EIO, ...); a disk can have only so many bytes
// left; a failing write can write part of its bytes first (a short write); flushes are
// recorded; a hook runs before every call (to make a file vanish, say); and pages of a
// chosen file can be mapped so that reading them faults like a bad sector. Faults combine:
// every rule that matches a call is applied. Thread-safe: the store's background threads
// call it too.

#ifndef BITCASK_TESTS_FAULT_ENV_H_
#define BITCASK_TESTS_FAULT_ENV_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bitcask/env.h"

namespace bitcask::test {

class FaultInjectionEnv : public EnvWrapper {
 public:
  // Kinds of calls, as bits (a rule names any set of them).
  enum Kind : uint32_t {
    kOpen = 1u << 0,
    kFileSize = 1u << 1,
    kAllocate = 1u << 2,
    kTruncate = 1u << 3,
    kWrite = 1u << 4,
    kRead = 1u << 5,
    kSyncData = 1u << 6,
    kMap = 1u << 7,
    kRename = 1u << 8,
    kRemove = 1u << 9,
    kLink = 1u << 10,
    kExists = 1u << 11,
    kListDir = 1u << 12,
    kCreateDir = 1u << 13,
    kRemoveDir = 1u << 14,
    kSyncDir = 1u << 15,
    kFreeSpace = 1u << 16,
    kLock = 1u << 17,
    kAll = (1u << 18) - 1,
  };

  FaultInjectionEnv() : EnvWrapper(Env::Default()) {}

  // Calls of these kinds, after `skip` more of them go through, fail with err: `times` of
  // them (-1: every one from then on).
  void FailAfter(uint32_t kinds, int64_t skip, int err, int64_t times = -1);
  // The disk has `bytes` left from now on: an allocation or a write that needs more fails
  // with ENOSPC, and what succeeds uses it up; FreeSpace reports what is left. -1: no limit.
  void SetDiskFree(int64_t bytes);
  // A write that fails writes the first half of its bytes before it does.
  void SetShortWrites(bool on);
  // Reading page `page` (4 KiB) of any mapping of the file at `path` raises SIGBUS, as a bad
  // sector does (the page is mapped from an empty file); empty path: no such page.
  void SetBadPage(const std::string& path, size_t page);
  // Called before every call with its kind and path (for a hook that removes the file
  // first, say); null: none.
  void SetBeforeCall(std::function<void(Kind, const std::string&)> hook);
  // No fault any more (the hook and the bad page too): every call goes through.
  void Heal();

  uint64_t failures() const;
  // Calls made so far of these kinds.
  uint64_t calls(uint32_t kinds) const;
  // Paths flushed (SyncData, SyncDir) since the last call, in order; clears the record.
  std::vector<std::string> TakeFlushedPaths();

  Status OpenFile(const std::string& path, int flags, uint32_t mode, int* fd) override;
  Status FileSize(int fd, const std::string& path, uint64_t* size) override;
  Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path) override;
  Status Truncate(int fd, uint64_t size, const std::string& path) override;
  Status WriteAt(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                 const std::string& path) override;
  Status ReadAt(int fd, uint64_t offset, char* buf, size_t n, size_t* read,
                const std::string& path) override;
  Status SyncData(int fd, const std::string& path) override;
  Status MapFile(int fd, size_t length, bool writable, bool huge_aligned, const std::string& path,
                 char** data) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status LinkFile(const std::string& from, const std::string& to) override;
  Status FileExists(const std::string& path) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override;
  Status CreateDir(const std::string& dir, bool* created) override;
  Status RemoveDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Status FreeSpace(const std::string& path, uint64_t* bytes) override;
  Status LockFile(const std::string& path, int* fd) override;

 private:
  struct Rule {
    uint32_t kinds;
    int64_t skip;
    int err;
    int64_t times;
  };
  // Runs the hook, counts the call, and decides: 0 to let it through, else the errno it
  // fails with. `bytes` of new space it needs are charged to the disk if it goes through.
  int Decide(Kind kind, const std::string& path, uint64_t bytes = 0);
  Status Fail(Kind kind, const std::string& path, int err);

  mutable std::mutex mu_;
  std::vector<Rule> rules_;                               // guarded by mu_
  int64_t free_bytes_ = -1;                               // guarded by mu_
  bool short_writes_ = false;                             // guarded by mu_
  uint64_t failures_ = 0;                                 // guarded by mu_
  uint64_t calls_[32] = {};                               // guarded by mu_, by kind bit
  std::vector<std::string> flushed_;                      // guarded by mu_
  std::function<void(Kind, const std::string&)> before_;  // guarded by mu_
  std::string bad_path_;                                  // guarded by mu_
  size_t bad_page_ = 0;                                   // guarded by mu_
  int empty_fd_ = -1;  // an empty file: a page mapped from it faults when read
};

}  // namespace bitcask::test

#endif  // BITCASK_TESTS_FAULT_ENV_H_
