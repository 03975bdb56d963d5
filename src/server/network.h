// The RESP network layer of bitcask-server: an acceptor and one event loop (asio io_context)
// per core, each connection served by one loop. A connection reads, runs every complete
// command in what it read (so pipelined commands are answered in one write), writes the
// replies, and reads again.

#ifndef BITCASK_SERVER_NETWORK_H_
#define BITCASK_SERVER_NETWORK_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bitcask/status.h"
#include "server/log.h"
#include "server/state.h"

namespace bitcask::server {

class RespServer {
 public:
  RespServer(ServerState* state, Logger* log);
  ~RespServer();
  RespServer(const RespServer&) = delete;
  RespServer& operator=(const RespServer&) = delete;

  // Binds and listens (port 0: any free port; see state->bound_port).
  Status Start();
  // Serves until Stop() is called, on io_threads threads (this one included).
  void Run();
  // Stops accepting, closes connections, makes Run return. Any thread; idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_NETWORK_H_
