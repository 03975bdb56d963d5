// Env::Default(): the operating system's files, directories and clock (POSIX, Linux).

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bitcask/env.h"

namespace bitcask {

namespace {

constexpr size_t kHugePageSize = size_t{2} << 20;

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
         std::to_string(limit) +
         "; each data file takes one: use a larger max_file_size and merge, " +
         "or raise vm.max_map_count)";
}

class PosixEnv final : public Env {
 public:
  Status OpenFile(const std::string& path, int flags, uint32_t mode, int* fd) override {
    int f = -1;
    do {
      f = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
    } while (f < 0 && errno == EINTR);
    if (f < 0) {
      const int err = errno;
      if (err == ENOENT && !(flags & O_CREAT)) return Status::NotFound(path);
      return Status::FromErrno("open " + path, err);
    }
    *fd = f;
    return Status::OK();
  }

  Status FileSize(int fd, const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat " + path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Allocate(int fd, uint64_t offset, uint64_t length, const std::string& path) override {
    // posix_fallocate returns the error number instead of setting errno; glibc falls back to
    // writing zeros on file systems without fallocate.
    int err;
    do {
      err = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
    } while (err == EINTR);
    if (err != 0) {
      return Status::FromErrno("allocate " + std::to_string(length) + " bytes in " + path, err);
    }
    return Status::OK();
  }

  Status Truncate(int fd, uint64_t size, const std::string& path) override {
    int rc;
    do {
      rc = ::ftruncate(fd, static_cast<off_t>(size));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return Status::FromErrno("truncate " + path, errno);
    return Status::OK();
  }

  Status WriteAt(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                 const std::string& path) override {
    std::vector<struct iovec> rest;
    rest.reserve(pieces.size());
    for (std::string_view p : pieces) {
      if (!p.empty()) rest.push_back({const_cast<char*>(p.data()), p.size()});
    }
    size_t first = 0;
    while (first < rest.size()) {
      const int count = static_cast<int>(std::min<size_t>(rest.size() - first, IOV_MAX));
      const ssize_t w = ::pwritev(fd, rest.data() + first, count, static_cast<off_t>(offset));
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

  Status ReadAt(int fd, uint64_t offset, char* buf, size_t n, size_t* read,
                const std::string& path) override {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read " + path, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *read = got;
    return Status::OK();
  }

  Status SyncData(int fd, const std::string& path) override {
    int rc;
    do {
      rc = ::fdatasync(fd);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return Status::FromErrno("fdatasync " + path, errno);
    return Status::OK();
  }

  Status MapFile(int fd, size_t length, bool writable, bool huge_aligned, const std::string& path,
                 char** data) override {
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
        if (const std::string why = MapCountHint(); !why.empty()) {
          return Status::IOError("mmap " + path + ": " + std::strerror(err) + why);
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
    *data = static_cast<char*>(p);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno("rename " + from + " to " + to, errno);
    }
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
    return Status::OK();
  }

  Status LinkFile(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::OK();
    const int err = errno;
    if (err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP) {
      return Status::NotSupported("link " + from + " to " + to + ": " + std::strerror(err));
    }
    return Status::FromErrno("link " + from + " to " + to, err);
  }

  Status FileExists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return Status::OK();
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound(path);
    return Status::FromErrno("stat " + path, errno);
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
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

  Status CreateDir(const std::string& dir, bool* created) override {
    *created = false;
    if (::mkdir(dir.c_str(), 0755) == 0) {
      *created = true;
      return Status::OK();
    }
    if (errno == ENOENT) {  // a parent is missing: create it too, like mkdir -p
      const size_t last = dir.find_last_not_of('/');
      const size_t slash = last == std::string::npos ? std::string::npos : dir.rfind('/', last);
      if (slash != std::string::npos && slash != 0) {
        bool parent_created = false;
        if (Status s = CreateDir(dir.substr(0, slash), &parent_created); !s.ok()) return s;
        if (::mkdir(dir.c_str(), 0755) == 0) {
          *created = true;
          return Status::OK();
        }
      }
    }
    if (errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
    if (!S_ISDIR(st.st_mode))
      return Status::InvalidArgument(dir + " exists and is not a directory");
    return Status::OK();
  }

  Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return Status::FromErrno("rmdir " + dir, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = -1;
    if (Status s = OpenFile(dir, O_RDONLY | O_DIRECTORY, 0, &fd); !s.ok()) return s;
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno("fsync " + dir, err);
    return Status::OK();
  }

  Status FreeSpace(const std::string& path, uint64_t* bytes) override {
    struct statvfs st;
    if (::statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
    *bytes = uint64_t{st.f_bavail} * st.f_frsize;
    return Status::OK();
  }

  Status LockFile(const std::string& path, int* fd) override {
    int f = -1;
    if (Status s = OpenFile(path, O_RDWR | O_CREAT, 0644, &f); !s.ok()) return s;
    if (::flock(f, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(f);
      if (err == EWOULDBLOCK) return Status::Busy(path + ": locked by another holder");
      return Status::FromErrno("flock " + path, err);
    }
    *fd = f;
    return Status::OK();
  }

  uint64_t NowUnixMillis() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();  // never destroyed: stores may outlive statics
  return env;
}

}  // namespace bitcask
