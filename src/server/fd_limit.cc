#include "server/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bitcask::server {

uint64_t ReservedDescriptors(unsigned event_loops) {
  // The store (lock, active file, a hint or merge output being written, a flush), the log,
  // two listening sockets, standard streams, a few HTTP connections: 32, as Redis keeps.
  // Each event loop holds an epoll descriptor and a wake-up eventfd.
  return 32 + 2 * uint64_t{event_loops};
}

ClientRoom MakeRoomForClients(uint64_t maxclients, uint64_t reserved) {
  ClientRoom room;
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    room.error = std::strerror(errno);
    room.clients = maxclients;
    return room;
  }
  const uint64_t wanted = maxclients + reserved;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    struct rlimit raised = limit;
    raised.rlim_cur =
        limit.rlim_max == RLIM_INFINITY ? wanted : std::min<uint64_t>(wanted, limit.rlim_max);
    if (raised.rlim_cur > limit.rlim_cur) {
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        limit = raised;
      } else {
        room.error = std::strerror(errno);
      }
    }
    if (limit.rlim_cur < wanted && room.error.empty()) {
      room.error = "the hard limit is " + std::to_string(limit.rlim_max);
    }
  }
  room.open_files = limit.rlim_cur;
  room.clients = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted
                     ? maxclients
                     : (limit.rlim_cur > reserved ? limit.rlim_cur - reserved : 0);
  return room;
}

}  // namespace bitcask::server
