// A replica's link to its leader, on a thread of its own (blocking sockets, a poll for
// timeouts): connect, handshake (PING, AUTH, REPLCONF listening-port / ip-address / capa,
// PSYNC), a full sync or a continuation, then the stream applied command by command, with
// REPLCONF ACK every second and on GETACK. A lost link is retried every second, with PSYNC
// from what was applied.

#ifndef BITCASK_SERVER_REPLICA_LINK_H_
#define BITCASK_SERVER_REPLICA_LINK_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "bitcask/status.h"

namespace bitcask::server {

class ServerState;
class Replication;

class ReplicaLink {
 public:
  // What ROLE and INFO replication say of the link.
  struct Info {
    std::string host;
    int port = 0;
    // none | connect | connecting | handshake | sync | connected
    std::string state = "connect";
    bool up = false;
    int64_t down_since_ms = 0;  // 0: never up since REPLICAOF
    int64_t last_io_ms = 0;     // 0: no data yet
    bool sync_in_progress = false;
    int64_t sync_total_bytes = -1, sync_read_bytes = 0;
    uint64_t read_offset = 0;     // stream bytes received
    uint64_t applied_offset = 0;  // stream bytes applied (-1 in ROLE before a master link)
    std::string last_error;
  };

  // Follows the leader at host:port; each connection asks PSYNC to continue from the position
  // `replication` holds (PSYNC ? -1 without one).
  ReplicaLink(ServerState* server, Replication* replication, std::string host, int port);
  ~ReplicaLink();
  ReplicaLink(const ReplicaLink&) = delete;
  ReplicaLink& operator=(const ReplicaLink&) = delete;

  void Start();
  // Closes the link; the thread ends soon after (it swaps in no store after this).
  void RequestStop();
  // RequestStop, and joins the thread. Not from a thread that holds the store in use (a
  // command): the link may be waiting to swap the store in.
  void Stop();
  Info info() const;
  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  class Connection;
  void Run();
  // One session: connect, handshake, sync, stream; returns why it ended.
  Status Session();
  Status Handshake(Connection& c);
  Status LoadFullSync(Connection& c, const std::string& replid, uint64_t offset);
  Status Stream(Connection& c);
  void SetState(const std::string& state);
  void NoteError(const Status& s);

  ServerState* server_;
  Replication* replication_;
  const std::string host_;
  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> socket_{-1};  // the live socket, shut down by Stop
  std::thread thread_;
  mutable std::mutex mu_;
  Info info_;  // guarded by mu_
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_REPLICA_LINK_H_
