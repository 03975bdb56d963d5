// What a power cut would leave of a store, recorded while power_writer runs (it is
// crash_writer linked with this file, whose WriterEnv gives the store an Env that sees the
// engine's flushes and namespace changes before they reach the kernel). With
// BITCASK_POWER_SHADOW naming a directory (the shadow), each one is recorded there first:
//
//   f-INO-GEN   a file's whole contents as an fdatasync/fsync of it began: durable once it
//               returns (later bytes may or may not be; PowerCutImage decides)
//   listing     "INO GEN NAME" per regular file of the store directory, as an fsync of the
//               directory began: the names a power cut keeps for sure
//   gen-INO     the generation of inode INO: it goes up when the inode's last name is
//               dropped (unlink, or a rename over it), so that a reused inode number is not
//               taken for the file it once was
//
// Each record is written to a temporary name and renamed, so a SIGKILL in the middle leaves
// the previous one. Without the variable every call goes straight through.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "bitcask/env.h"

namespace {

std::mutex mu;
std::map<ino_t, unsigned long> generations;  // guarded by mu

const char* Shadow() {
  static const char* shadow = std::getenv("BITCASK_POWER_SHADOW");
  return shadow != nullptr && *shadow != '\0' ? shadow : nullptr;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "power_recorder: %s: errno %d\n", what.c_str(), errno);
  std::abort();
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail("write " + path);
    done += static_cast<size_t>(n);
  }
}

// Caller holds mu. Replaces shadow/name with data.
void Record(const std::string& name, const std::string& data) {
  const std::string path = std::string(Shadow()) + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail("open " + tmp);
  WriteAll(fd, data, tmp);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) Fail("rename " + tmp);
}

// Caller holds mu.
void RecordFile(int fd, const struct stat& st) {
  if (st.st_nlink == 0) return;  // no name left: nothing a power cut could keep of it
  // Through /proc, so that a file opened write-only is read too.
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  const int in = ::open(proc.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) Fail("open " + proc);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::pread(in, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("read " + proc);
    if (n == 0) {
      data.resize(done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(in);
  Record("f-" + std::to_string(st.st_ino) + "-" + std::to_string(generations[st.st_ino]), data);
}

// Caller holds mu.
void RecordListing(int dir_fd) {
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) Fail("open directory");
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) Fail("fdopendir");
  std::string listing;
  while (const struct dirent* e = ::readdir(d)) {
    struct stat st;
    if (::fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    listing += std::to_string(st.st_ino) + " " + std::to_string(generations[st.st_ino]) + " " +
               e->d_name + "\n";
  }
  ::closedir(d);
  Record("listing", listing);
}

void BeforeFlush(int fd) {
  if (Shadow() == nullptr) return;
  struct stat st;
  if (::fstat(fd, &st) != 0) return;  // the real call reports it
  std::lock_guard l(mu);
  if (S_ISDIR(st.st_mode)) {
    RecordListing(fd);
  } else if (S_ISREG(st.st_mode)) {
    RecordFile(fd, st);
  }
}

// Before path loses a name: if it is the inode's last, later files may get its number.
void BeforeDrop(const char* path) {
  if (Shadow() == nullptr) return;
  struct stat st;
  if (::lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) return;
  std::lock_guard l(mu);
  const unsigned long gen = ++generations[st.st_ino];
  Record("gen-" + std::to_string(st.st_ino), std::to_string(gen));
}

// The operating system's Env, recording before each flush, rename and removal.
class RecordingEnv : public bitcask::EnvWrapper {
 public:
  RecordingEnv() : EnvWrapper(bitcask::Env::Default()) {}

  bitcask::Status SyncData(int fd, const std::string& path) override {
    BeforeFlush(fd);
    return EnvWrapper::SyncData(fd, path);
  }
  bitcask::Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      BeforeFlush(fd);
      ::close(fd);
    }
    return EnvWrapper::SyncDir(dir);
  }
  bitcask::Status RenameFile(const std::string& from, const std::string& to) override {
    BeforeDrop(to.c_str());
    return EnvWrapper::RenameFile(from, to);
  }
  bitcask::Status RemoveFile(const std::string& path) override {
    BeforeDrop(path.c_str());
    return EnvWrapper::RemoveFile(path);
  }
};

}  // namespace

namespace bitcask::test {

// crash_writer's Env: this recorder, when there is a shadow to record into.
Env* WriterEnv() {
  static RecordingEnv env;
  return Shadow() != nullptr ? &env : nullptr;
}

}  // namespace bitcask::test
