// DataFile: one append-only file of records, memory-mapped.
//
// Reads go through a shared mapping of the whole file, without a system call. The active file
// is written through the same mapping: the writer reserves disk blocks ahead of the write
// position (posix_fallocate, so a full disk is an error, not a SIGBUS), copies each record
// into the mapping and then publishes the new end with a release store. A record copied into
// a shared mapping is in the kernel's page cache at once, so it survives a crash of the
// process; SyncData makes it survive a power loss.
//
// Invariants: bytes below size() never change; bytes between size() and the allocated end
// are zero (fresh blocks) or a torn record; readers only touch bytes below a size() they
// loaded with acquire ordering.

#ifndef BITCASK_ENGINE_DATA_FILE_H_
#define BITCASK_ENGINE_DATA_FILE_H_

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "bitcask/status.h"
#include "engine/file_util.h"

namespace bitcask::engine {

std::string DataFileName(const std::string& dir, uint32_t id);

class DataFile {
 public:
  // Writes smaller than this are copied into the mapping; larger ones go out with pwritev,
  // where the kernel's whole-page copy beats zeroing fresh mapped pages and copying over them
  // (measured crossover on the development VM: about 1.2 KB).
  static constexpr size_t kMappedWriteMax = 1280;
  // The same with huge pages (see AppendLocked).
  static constexpr size_t kHugeMappedWriteMax = 4096;

  // Creates file `id` with its header, mapped for appends of up to `capacity` bytes in all.
  // The header is flushed before any record is written, so a power cut cannot leave records
  // behind a header that never reached the disk.
  // With `temporary`, the file is written as NNNNNNNN.data.tmp (ignored and deleted by Open)
  // until Publish renames it into place: merge outputs exist only once complete (and flushed
  // whole, so they skip the early flush).
  // With `huge_pages`, the mapping asks for 2 MiB pages and the writer maps 2 MiB at a time:
  // far fewer page faults per byte appended, but an fdatasync then writes back whole 2 MiB
  // folios, so it suits files that are synced rarely (see SetHugePages).
  static Status Create(Env* env, const std::string& dir, uint32_t id, uint64_t capacity,
                       std::unique_ptr<DataFile>* out, bool temporary = false,
                       bool huge_pages = false);
  // Opens an existing file. If `writable`, maps max(capacity, file size) bytes for appends;
  // size() is the file size until the caller sets the valid end with TruncateTo.
  static Status Open(Env* env, const std::string& dir, uint32_t id, bool writable,
                     uint64_t capacity, std::unique_ptr<DataFile>* out, bool huge_pages = false);

  uint32_t id() const { return id_; }
  // The file's name once published (error messages use it even while it is temporary).
  const std::string& path() const { return path_; }
  // Its name on disk now: path(), or the temporary name until Publish.
  const std::string& disk_path() const { return temp_path_.empty() ? path_ : temp_path_; }
  bool published() const { return temp_path_.empty(); }
  // Start of the mapping; bytes [0, size()) are readable.
  const char* base() const { return map_.data(); }
  // End of the last published record.
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // Whether a page of the mapping failed to read or write (SIGBUS; map_faults.h): it reads
  // as zeros until the file is mapped again. Cheap: a writer asks after each copy.
  bool faulted() const { return map_.faulted(); }
  // The error for bytes at `offset` on such a page.
  Status Unreadable(uint64_t offset) const;
  // Bytes of mapping (and therefore of records) this file can hold.
  uint64_t capacity() const { return map_.length(); }
  bool writable() const { return writable_.load(std::memory_order_acquire); }
  // The format version of the file header: a file created now has format::kDataFormatVersion;
  // one opened has what its header says once recovery checked it (set_format_version).
  uint16_t format_version() const { return format_version_; }
  void set_format_version(uint16_t v) { format_version_ = v; }

  // --- Writer side: one thread at a time (the DB's write lock). ---

  // Makes sure n bytes past size() are allocated on disk. The caller checks
  // size() + n <= capacity() first.
  Status Reserve(uint64_t n) {
    const uint64_t end = size_.load(std::memory_order_relaxed) + n;
    if (end > allocated_) [[unlikely]]
      return AllocateTo(end);
    return Status::OK();
  }
  // Where to copy bytes [offset, offset + n) of the reserved space through the mapping; maps
  // the pages writable ahead of time.
  char* MappedForWrite(uint64_t offset, uint64_t n) {
    if (offset + n > populated_) [[unlikely]]
      Populate(offset, offset + n);
    return map_.data() + offset;
  }
  // Writes the pieces back to back at offset with pwritev. Cheaper than the mapping for large
  // records: the kernel copies whole pages without zeroing them first.
  Status WriteVectored(uint64_t offset, std::span<const std::string_view> pieces);
  // Publishes n bytes written past size().
  void Commit(uint64_t n) {
    size_.store(size_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  // Maps the rest of the file (from the next 2 MiB boundary past what is mapped already) in
  // 2 MiB pages, or in 4 KiB pages, as flushes turn out to come far apart or close together.
  void SetHugePages(bool on);
  bool huge_pages() const { return huge_pages_; }
  // Records below this size are copied into the mapping rather than written with pwritev.
  size_t mapped_write_max() const { return huge_pages_ ? kHugeMappedWriteMax : kMappedWriteMax; }
  // Drops whatever was written past size() by a write that failed half way.
  Status DiscardUncommitted() { return TruncateTo(size()); }
  // Appends pieces that together form whole records (merge copies records) and publishes
  // them.
  Status Append(std::initializer_list<std::string_view> pieces);
  // Renames a temporary file to its final name. Seal it first.
  Status Publish();
  // Flushes the file's data to stable storage. A sealed file has given its descriptor back
  // (see Seal): it is opened again for its one flush, and later calls return at once.
  Status Sync() const;
  // Cuts the file back to `size` (the end of the last valid record) and makes it the append
  // position.
  Status TruncateTo(uint64_t size);
  // Read-only files: records end at `size`; the file is left as it is. What follows is zeros,
  // damage a salvage open skipped, or, if `may_end_early` (the newest file, or one a power
  // cut left unflushed at the end), possibly an unfinished end. Check still reads it (see
  // check_end), judging it by the same rules.
  void SetValidEnd(uint64_t size, bool may_end_early) {
    check_end_ = this->size();
    tail_may_be_torn_ = may_end_early;
    size_.store(size, std::memory_order_release);
  }
  // A file Open will not append to, ended early because a power cut left its tail unflushed:
  // cuts it to `size` on disk (so that no later sync mark ever covers the damage) and makes
  // that its end for reads and Check.
  Status CutUnfinishedTail(uint64_t size);
  // Where Check stops reading: the end of the file as opened, or of the records written since.
  uint64_t check_end() const { return std::max(size(), check_end_); }
  // Whether the bytes up to check_end() may end in an unfinished end (as SetValidEnd was
  // told by a read-only open), which is no damage.
  bool tail_may_be_torn() const { return tail_may_be_torn_; }
  // Ends appends for good: trims preallocated space, flushes if `sync`, maps read-only and
  // closes the file's descriptor. Reads go through the mapping and need none, so a store
  // holds descriptors only for the files it writes, however many files it has.
  Status Seal(bool sync);

  // Whether the file holds a sync mark (format version 2; see recovery.h), up to check_end().
  bool HasSyncMark() const;

  // Bytes of records in this file that no longer hold a live value.
  std::atomic<uint64_t> dead_bytes{0};

 private:
  DataFile(Env* env, uint32_t id, std::string path) : env_(env), id_(id), path_(std::move(path)) {}
  // Create's work once the file exists: map it, allocate and write the header.
  Status Initialize(uint64_t capacity, bool temporary, bool huge_pages);
  // The slow paths of Reserve and MappedForWrite: allocate on disk up to at least `end`; map
  // writable the pages of [offset, end) and some ahead.
  Status AllocateTo(uint64_t end);
  void Populate(uint64_t offset, uint64_t end);

  Env* const env_;
  const uint32_t id_;
  const std::string path_;
  std::string temp_path_;  // non-empty while the file is temporary
  // Open while the file is writable. Seal closes it under fd_mu_, which Sync holds (it runs
  // on any thread), or leaves that to a Sync running then; the writer's own calls read it
  // without the lock, only while the file is writable.
  mutable std::mutex fd_mu_;
  mutable FileDescriptor fd_;
  mutable bool flushed_ = false;  // guarded by fd_mu_: closed, and flushed since
  MemoryMap map_;
  std::atomic<bool> writable_{false};  // set false by Seal, read by background jobs
  std::atomic<uint64_t> size_{0};
  uint64_t allocated_ = 0;         // file size on disk, >= size_
  uint64_t populated_ = 0;         // end of the pages mapped writable ahead of size_
  uint64_t check_end_ = 0;         // set once, by Open's recovery (SetValidEnd)
  bool tail_may_be_torn_ = false;  // likewise
  bool huge_pages_ = false;
  uint16_t format_version_ = 0;
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_DATA_FILE_H_
