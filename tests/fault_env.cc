#include "fault_env.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace bitcask::test {

namespace {
constexpr size_t kPage = 4096;
const char* Name(uint32_t kind) {
  static const char* kNames[] = {"open",      "fstat", "allocate", "truncate", "write",   "read",
                                 "fdatasync", "mmap",  "rename",   "unlink",   "link",    "stat",
                                 "opendir",   "mkdir", "rmdir",    "fsync",    "statvfs", "flock"};
  for (uint32_t i = 0; i < std::size(kNames); i++) {
    if (kind == (1u << i)) return kNames[i];
  }
  return "call";
}
}  // namespace

void FaultInjectionEnv::FailAfter(uint32_t kinds, int64_t skip, int err, int64_t times) {
  std::lock_guard l(mu_);
  rules_.push_back({kinds, skip, err, times});
}

void FaultInjectionEnv::SetDiskFree(int64_t bytes) {
  std::lock_guard l(mu_);
  free_bytes_ = bytes;
}

void FaultInjectionEnv::SetShortWrites(bool on) {
  std::lock_guard l(mu_);
  short_writes_ = on;
}

void FaultInjectionEnv::SetBadPage(const std::string& path, size_t page) {
  std::lock_guard l(mu_);
  bad_path_ = path;
  bad_page_ = page;
  if (empty_fd_ < 0 && !path.empty()) {
    char name[] = "/tmp/bitcask-empty-XXXXXX";
    empty_fd_ = ::mkstemp(name);
    if (empty_fd_ < 0) std::abort();
    ::unlink(name);
  }
}

void FaultInjectionEnv::SetBeforeCall(std::function<void(Kind, const std::string&)> hook) {
  std::lock_guard l(mu_);
  before_ = std::move(hook);
}

void FaultInjectionEnv::Heal() {
  std::lock_guard l(mu_);
  rules_.clear();
  free_bytes_ = -1;
  short_writes_ = false;
  before_ = nullptr;
  bad_path_.clear();
}

uint64_t FaultInjectionEnv::failures() const {
  std::lock_guard l(mu_);
  return failures_;
}

uint64_t FaultInjectionEnv::calls(uint32_t kinds) const {
  std::lock_guard l(mu_);
  uint64_t n = 0;
  for (int i = 0; i < 32; i++) {
    if (kinds & (1u << i)) n += calls_[i];
  }
  return n;
}

std::vector<std::string> FaultInjectionEnv::TakeFlushedPaths() {
  std::lock_guard l(mu_);
  return std::exchange(flushed_, {});
}

int FaultInjectionEnv::Decide(Kind kind, const std::string& path, uint64_t bytes) {
  std::function<void(Kind, const std::string&)> hook;
  {
    std::lock_guard l(mu_);
    hook = before_;
  }
  if (hook) hook(kind, path);  // outside the lock: it may call the Env itself
  std::lock_guard l(mu_);
  calls_[__builtin_ctz(kind)]++;
  if (kind == kSyncData || kind == kSyncDir) flushed_.push_back(path);
  int err = 0;
  for (Rule& r : rules_) {
    if (!(r.kinds & kind)) continue;
    if (r.skip > 0) {
      r.skip--;
      continue;
    }
    if (r.times == 0) continue;
    if (r.times > 0) r.times--;
    if (err == 0) err = r.err;
  }
  if (err == 0 && free_bytes_ >= 0 && bytes > 0) {
    if (bytes > static_cast<uint64_t>(free_bytes_)) {
      err = ENOSPC;
    } else {
      free_bytes_ -= static_cast<int64_t>(bytes);
    }
  }
  failures_ += err != 0;
  return err;
}

Status FaultInjectionEnv::Fail(Kind kind, const std::string& path, int err) {
  return Status::FromErrno(std::string(Name(kind)) + " " + path + " (injected)", err);
}

Status FaultInjectionEnv::OpenFile(const std::string& path, int flags, uint32_t mode, int* fd) {
  if (int err = Decide(kOpen, path)) return Fail(kOpen, path, err);
  return EnvWrapper::OpenFile(path, flags, mode, fd);
}

Status FaultInjectionEnv::FileSize(int fd, const std::string& path, uint64_t* size) {
  if (int err = Decide(kFileSize, path)) return Fail(kFileSize, path, err);
  return EnvWrapper::FileSize(fd, path, size);
}

Status FaultInjectionEnv::Allocate(int fd, uint64_t offset, uint64_t length,
                                   const std::string& path) {
  if (int err = Decide(kAllocate, path, length)) return Fail(kAllocate, path, err);
  return EnvWrapper::Allocate(fd, offset, length, path);
}

Status FaultInjectionEnv::Truncate(int fd, uint64_t size, const std::string& path) {
  if (int err = Decide(kTruncate, path)) return Fail(kTruncate, path, err);
  return EnvWrapper::Truncate(fd, size, path);
}

Status FaultInjectionEnv::WriteAt(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                                  const std::string& path) {
  uint64_t total = 0;
  for (std::string_view p : pieces) total += p.size();
  const int err = Decide(kWrite, path, total);
  if (err == 0) return EnvWrapper::WriteAt(fd, offset, pieces, path);
  bool short_write;
  {
    std::lock_guard l(mu_);
    short_write = short_writes_;
  }
  if (short_write) {  // the first half of the bytes reach the file, then the error
    std::vector<std::string_view> half;
    uint64_t left = total / 2;
    for (std::string_view p : pieces) {
      if (left == 0) break;
      half.push_back(p.substr(0, std::min<uint64_t>(left, p.size())));
      left -= half.back().size();
    }
    (void)EnvWrapper::WriteAt(fd, offset, half, path);
  }
  return Fail(kWrite, path, err);
}

Status FaultInjectionEnv::ReadAt(int fd, uint64_t offset, char* buf, size_t n, size_t* read,
                                 const std::string& path) {
  if (int err = Decide(kRead, path)) return Fail(kRead, path, err);
  return EnvWrapper::ReadAt(fd, offset, buf, n, read, path);
}

Status FaultInjectionEnv::SyncData(int fd, const std::string& path) {
  if (int err = Decide(kSyncData, path)) return Fail(kSyncData, path, err);
  return EnvWrapper::SyncData(fd, path);
}

Status FaultInjectionEnv::MapFile(int fd, size_t length, bool writable, bool huge_aligned,
                                  const std::string& path, char** data) {
  if (int err = Decide(kMap, path)) return Fail(kMap, path, err);
  Status s = EnvWrapper::MapFile(fd, length, writable, huge_aligned, path, data);
  std::lock_guard l(mu_);
  if (s.ok() && !bad_path_.empty() && path == bad_path_ && (bad_page_ + 1) * kPage <= length) {
    char* page = *data + bad_page_ * kPage;
    const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    if (::mmap(page, kPage, prot, MAP_SHARED | MAP_FIXED, empty_fd_, 0) == MAP_FAILED) {
      std::perror("bad page overlay");
      std::abort();
    }
  }
  return s;
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  if (int err = Decide(kRename, to)) return Fail(kRename, from + " to " + to, err);
  return EnvWrapper::RenameFile(from, to);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  if (int err = Decide(kRemove, path)) return Fail(kRemove, path, err);
  return EnvWrapper::RemoveFile(path);
}

Status FaultInjectionEnv::LinkFile(const std::string& from, const std::string& to) {
  if (int err = Decide(kLink, to)) return Fail(kLink, from + " to " + to, err);
  return EnvWrapper::LinkFile(from, to);
}

Status FaultInjectionEnv::FileExists(const std::string& path) {
  if (int err = Decide(kExists, path)) return Fail(kExists, path, err);
  return EnvWrapper::FileExists(path);
}

Status FaultInjectionEnv::ListDir(const std::string& dir, std::vector<std::string>* names) {
  if (int err = Decide(kListDir, dir)) return Fail(kListDir, dir, err);
  return EnvWrapper::ListDir(dir, names);
}

Status FaultInjectionEnv::CreateDir(const std::string& dir, bool* created) {
  if (int err = Decide(kCreateDir, dir)) return Fail(kCreateDir, dir, err);
  return EnvWrapper::CreateDir(dir, created);
}

Status FaultInjectionEnv::RemoveDir(const std::string& dir) {
  if (int err = Decide(kRemoveDir, dir)) return Fail(kRemoveDir, dir, err);
  return EnvWrapper::RemoveDir(dir);
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  if (int err = Decide(kSyncDir, dir)) return Fail(kSyncDir, dir, err);
  return EnvWrapper::SyncDir(dir);
}

Status FaultInjectionEnv::FreeSpace(const std::string& path, uint64_t* bytes) {
  if (int err = Decide(kFreeSpace, path)) return Fail(kFreeSpace, path, err);
  Status s = EnvWrapper::FreeSpace(path, bytes);
  std::lock_guard l(mu_);
  if (s.ok() && free_bytes_ >= 0) *bytes = static_cast<uint64_t>(free_bytes_);
  return s;
}

Status FaultInjectionEnv::LockFile(const std::string& path, int* fd) {
  if (int err = Decide(kLock, path)) return Fail(kLock, path, err);
  return EnvWrapper::LockFile(path, fd);
}

}  // namespace bitcask::test
