#include "server/tcp_connect.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace bitcask::server {

Status ConnectTcp(const std::string& host, int port, int timeout_ms, int* fd) {
  *fd = -1;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Status::IOError("resolve " + host + ": " + ::gai_strerror(rc));
  Status s = Status::IOError("connect " + host + ":" + std::to_string(port) + ": no address");
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int sock = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0) continue;
    int rcc = ::connect(sock, a->ai_addr, a->ai_addrlen);
    if (rcc != 0 && errno == EINPROGRESS) {
      pollfd p{sock, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      rcc = ::poll(&p, 1, timeout_ms) == 1 &&
                    ::getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
                ? 0
                : -1;
      if (rcc != 0) errno = err != 0 ? err : ETIMEDOUT;
    }
    if (rcc == 0) {
      const int one = 1;
      ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      *fd = sock;
      s = Status::OK();
      break;
    }
    s = Status::FromErrno("connect " + host + ":" + std::to_string(port), errno);
    ::close(sock);
  }
  ::freeaddrinfo(res);
  return s;
}

}  // namespace bitcask::server
