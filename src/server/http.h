// The HTTP side of bitcask-server (cpp-httplib, from Debian): Prometheus /metrics, /health,
// and the seed project's small JSON data API (GET /, POST /put, POST /batch, GET /get/{key},
// DELETE /delete/{key}, GET /keys, POST /clear).
//
// Values written over HTTP are stored as compact JSON text, so they come back over HTTP as
// the same JSON value and a Redis client sees JSON. A value written by a Redis client is
// returned as the JSON it holds, or as a string if it is not JSON.

#ifndef BITCASK_SERVER_HTTP_H_
#define BITCASK_SERVER_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "bitcask/status.h"
#include "server/log.h"
#include "server/state.h"

namespace bitcask::server {

class HttpServer {
 public:
  HttpServer(ServerState* state, Logger* log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on the configured bind address and http_port and serves from its own threads.
  // With requirepass set, every endpoint but /health (and /metrics, unless
  // http-metrics-auth) needs the password (server/auth.h).
  Status Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_HTTP_H_
