// A disk that fills up or fails, simulated (disk_trouble.cc): for the tests of what a store
// does when it cannot get disk space. Only in binaries linked with disk_trouble.cc and its
// --wrap options (disk_trouble_test).

#ifndef BITCASK_TESTS_DISK_TROUBLE_H_
#define BITCASK_TESTS_DISK_TROUBLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bitcask::test {

// From now on the disk has `bytes` of space left: an allocation (posix_fallocate) or a
// hint write (pwrite) that needs more fails with ENOSPC, and what succeeds uses it up;
// statvfs reports what is left.
void SetDiskFree(int64_t bytes);
// After `calls` more allocations, hint writes, flushes (fdatasync) and renames, every one
// fails with ENOSPC.
void FailDiskAfter(int64_t calls);
// No limit any more: every call goes through.
void HealDisk();
// Calls refused so far.
uint64_t DiskFailures();
// Paths flushed (fdatasync, fsync) since the last call, in order; clears the record.
std::vector<std::string> TakeFlushedPaths();

}  // namespace bitcask::test

#endif  // BITCASK_TESTS_DISK_TROUBLE_H_
