// The connected clients as the whole server sees them (CLIENT LIST, CLIENT KILL, PUBLISH to
// subscribers, the replicas a leader streams to): each connection registers a handle that
// any thread may use to describe, kill or write to it. The connection does the work on its
// own event loop; the handle only queues it there.

#ifndef BITCASK_SERVER_CLIENTS_H_
#define BITCASK_SERVER_CLIENTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace bitcask::server {

// What CLIENT LIST shows of a client, as Redis 7.0 names it.
struct ClientInfo {
  uint64_t id = 0;
  std::string addr;   // peer ip:port
  std::string laddr;  // local ip:port
  std::string name;
  int64_t age_s = 0;
  int64_t idle_s = 0;
  std::string flags;  // Redis's letters: S replica, M master, P pub/sub, x in MULTI; N none
  int64_t sub = 0, psub = 0;
  int64_t multi = -1;  // commands queued, -1 outside MULTI
  std::string cmd;     // the last command, lowercase ("NULL" before the first)
  // normal | master | replica | pubsub (CLIENT KILL TYPE, CLIENT LIST TYPE)
  std::string type = "normal";
};

class ClientHandle {
 public:
  virtual ~ClientHandle() = default;
  virtual uint64_t id() const = 0;
  virtual ClientInfo Info() const = 0;
  // Queues bytes to be written to the client (a pub/sub message).
  virtual void Push(std::string bytes) = 0;
  // Closes the connection (once what is queued for it is written).
  virtual void Kill() = 0;
  // A replica's connection: the stream it sends has more (or its full sync's next piece is
  // ready). Calls made before the connection gets to it count once.
  virtual void Wake() {}
};

class ClientRegistry {
 public:
  void Add(const std::shared_ptr<ClientHandle>& client);
  void Remove(uint64_t id);
  std::shared_ptr<ClientHandle> Find(uint64_t id) const;
  // Every live client, in id order.
  std::vector<std::shared_ptr<ClientHandle>> All() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<ClientHandle>> clients_;  // guarded by mu_
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_CLIENTS_H_
