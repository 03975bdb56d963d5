// A TCP connection this server opens itself (a replica to its leader, MIGRATE to its target).

#ifndef BITCASK_SERVER_TCP_CONNECT_H_
#define BITCASK_SERVER_TCP_CONNECT_H_

#include <string>

#include "bitcask/status.h"

namespace bitcask::server {

// Connects to host:port (a name or an address, IPv4 or IPv6), giving up after timeout_ms per
// address tried. On success *fd is a non-blocking socket with TCP_NODELAY, the caller's to
// close; otherwise IOError naming the address and the reason.
Status ConnectTcp(const std::string& host, int port, int timeout_ms, int* fd);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_TCP_CONNECT_H_
