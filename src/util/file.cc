#include "util/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace bitcask::util {

Status ReplaceFile(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  auto fail = [&](const char* step) {
    const Status s = Status::FromErrno(step + (" " + tmp), errno);
    ::close(fd);
    std::remove(tmp.c_str());
    return s;
  };
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += size_t(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status s = Status::FromErrno("rename " + tmp + " to " + path, errno);
    std::remove(tmp.c_str());
    return s;
  }
  return Status::OK();
}

}  // namespace bitcask::util
