// How many clients the process's limit on open files (RLIMIT_NOFILE, `ulimit -n`) leaves room
// for. Each client holds one descriptor; so do the store's files, the log, the listening
// sockets, the event loops and HTTP connections, for which a reserve is kept. Debian's default
// soft limit is 1024, below the default maxclients (10000): as Redis does, the server raises
// the soft limit up to the hard one, and serves fewer clients if that is not enough.

#ifndef BITCASK_SERVER_FD_LIMIT_H_
#define BITCASK_SERVER_FD_LIMIT_H_

#include <cstdint>
#include <string>

namespace bitcask::server {

// Descriptors kept for everything but clients, with this many event loops (EventLoops).
uint64_t ReservedDescriptors(unsigned event_loops);

struct ClientRoom {
  uint64_t clients = 0;     // clients the limit allows now, at most the number asked for
  uint64_t open_files = 0;  // the soft limit now
  std::string error;        // why it could not be raised far enough (setrlimit's error)
};

// Raises the soft limit on open files, if need be and as far as the hard limit allows, to
// hold `maxclients` clients beside `reserved` other descriptors; says how many it holds.
ClientRoom MakeRoomForClients(uint64_t maxclients, uint64_t reserved);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_FD_LIMIT_H_
