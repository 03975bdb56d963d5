// A disk that fills up or fails, simulated for disk_trouble_test. Linked with
// -Wl,--wrap=posix_fallocate,--wrap=posix_fallocate64,--wrap=pwrite,--wrap=pwrite64,
// --wrap=fdatasync,--wrap=fsync,--wrap=rename,--wrap=statvfs,--wrap=statvfs64, so these calls of
// the engine come here before they reach the kernel. They are where a store asks for new disk space (data
// files are allocated ahead of their records; hint files are written with pwrite), where a
// full or failing disk reports it (a flush, a rename that needs a new directory block), and
// where it asks how much space is left. See disk_trouble.h.

#include "disk_trouble.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

extern "C" {
int __real_posix_fallocate(int fd, off_t offset, off_t length);
int __real_posix_fallocate64(int fd, off_t offset, off_t length);
ssize_t __real_pwrite(int fd, const void* buf, size_t n, off_t offset);
ssize_t __real_pwrite64(int fd, const void* buf, size_t n, off_t offset);
int __real_fdatasync(int fd);
int __real_fsync(int fd);
int __real_rename(const char* from, const char* to);
int __real_statvfs(const char* path, struct statvfs* st);
int __real_statvfs64(const char* path, struct statvfs* st);
int __wrap_posix_fallocate(int fd, off_t offset, off_t length);
int __wrap_posix_fallocate64(int fd, off_t offset, off_t length);
ssize_t __wrap_pwrite(int fd, const void* buf, size_t n, off_t offset);
ssize_t __wrap_pwrite64(int fd, const void* buf, size_t n, off_t offset);
int __wrap_fdatasync(int fd);
int __wrap_fsync(int fd);
int __wrap_rename(const char* from, const char* to);
int __wrap_statvfs(const char* path, struct statvfs* st);
int __wrap_statvfs64(const char* path, struct statvfs* st);
}

namespace bitcask::test {
namespace {

std::mutex mu;
int64_t free_bytes = -1;   // guarded by mu; -1: no limit
int64_t calls_left = -1;   // guarded by mu; -1: no limit
uint64_t failures = 0;     // guarded by mu
std::vector<std::string> flushed;  // guarded by mu

// Whether a call that needs `bytes` of new space fails (with ENOSPC); charges it if not.
bool Refuse(uint64_t bytes) {
  std::lock_guard l(mu);
  bool refuse = calls_left == 0;
  if (calls_left > 0) calls_left--;
  if (!refuse && free_bytes >= 0) {
    refuse = bytes > static_cast<uint64_t>(free_bytes);
    if (!refuse) free_bytes -= static_cast<int64_t>(bytes);
  }
  failures += refuse;
  return refuse;
}

// Notes the path of a file about to be flushed.
void NoteFlush(int fd) {
  char buf[4096];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf);
  std::lock_guard l(mu);
  flushed.emplace_back(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// Refuse, for calls that report failure as -1 with errno.
bool RefuseSettingErrno(uint64_t bytes) {
  if (!Refuse(bytes)) return false;
  errno = ENOSPC;
  return true;
}

// What statvfs says of the simulated disk: the budget, if there is one.
int Report(int rc, struct statvfs* st) {
  std::lock_guard l(mu);
  if (rc == 0 && free_bytes >= 0) st->f_bavail = static_cast<uint64_t>(free_bytes) / st->f_frsize;
  return rc;
}

}  // namespace

void SetDiskFree(int64_t bytes) {
  std::lock_guard l(mu);
  free_bytes = bytes;
}

void FailDiskAfter(int64_t calls) {
  std::lock_guard l(mu);
  calls_left = calls;
}

void HealDisk() {
  std::lock_guard l(mu);
  free_bytes = -1;
  calls_left = -1;
}

uint64_t DiskFailures() {
  std::lock_guard l(mu);
  return failures;
}

std::vector<std::string> TakeFlushedPaths() {
  std::lock_guard l(mu);
  return std::exchange(flushed, {});
}

}  // namespace bitcask::test

using bitcask::test::NoteFlush;
using bitcask::test::Refuse;
using bitcask::test::RefuseSettingErrno;
using bitcask::test::Report;

int __wrap_posix_fallocate(int fd, off_t offset, off_t length) {
  if (Refuse(static_cast<uint64_t>(length))) return ENOSPC;
  return __real_posix_fallocate(fd, offset, length);
}

int __wrap_posix_fallocate64(int fd, off_t offset, off_t length) {
  if (Refuse(static_cast<uint64_t>(length))) return ENOSPC;
  return __real_posix_fallocate64(fd, offset, length);
}

ssize_t __wrap_pwrite(int fd, const void* buf, size_t n, off_t offset) {
  if (RefuseSettingErrno(n)) return -1;
  return __real_pwrite(fd, buf, n, offset);
}

ssize_t __wrap_pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  if (RefuseSettingErrno(n)) return -1;
  return __real_pwrite64(fd, buf, n, offset);
}

int __wrap_fdatasync(int fd) {
  if (RefuseSettingErrno(0)) return -1;
  NoteFlush(fd);
  return __real_fdatasync(fd);
}

int __wrap_fsync(int fd) {
  NoteFlush(fd);
  return __real_fsync(fd);
}

int __wrap_rename(const char* from, const char* to) {
  if (RefuseSettingErrno(0)) return -1;
  return __real_rename(from, to);
}

int __wrap_statvfs(const char* path, struct statvfs* st) { return Report(__real_statvfs(path, st), st); }

int __wrap_statvfs64(const char* path, struct statvfs* st) {
  return Report(__real_statvfs64(path, st), st);
}
