#include "server/config.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace bitcask::server {

namespace {

Status ParseNumber(const std::string& name, const std::string& value, uint64_t* out) {
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
  if (ec != std::errc() || p != value.data() + value.size()) {
    return Status::InvalidArgument("'" + name + "' needs a non-negative integer, not '" + value + "'");
  }
  return Status::OK();
}

}  // namespace

Status ApplySetting(const std::string& name, const std::string& value, ServerConfig* c) {
  uint64_t n = 0;
  auto number = [&](auto* field) -> Status {
    Status s = ParseNumber(name, value, &n);
    if (s.ok()) *field = static_cast<std::remove_pointer_t<decltype(field)>>(n);
    return s;
  };
  if (name == "dir") c->dir = value;
  else if (name == "bind") c->bind = value;
  else if (name == "port") {
    if (Status s = number(&c->port); !s.ok()) return s;
    if (n > 65535) return Status::InvalidArgument("'port' must be between 0 and 65535");
  }
  else if (name == "http-port") {
    if (Status s = number(&c->http_port); !s.ok()) return s;
    if (n > 65535) return Status::InvalidArgument("'http-port' must be between 0 and 65535");
  }
  else if (name == "http-metrics-auth") {
    if (value != "yes" && value != "no") {
      return Status::InvalidArgument("'http-metrics-auth' is yes or no, not '" + value + "'");
    }
    c->http_metrics_auth = value == "yes";
  }
  else if (name == "requirepass") c->requirepass = value;
  else if (name == "maxclients") return number(&c->maxclients);
  else if (name == "timeout") return number(&c->timeout_seconds);
  else if (name == "client-query-buffer-limit") return number(&c->client_query_buffer_limit);
  else if (name == "proto-max-bulk-len") return number(&c->proto_max_bulk_len);
  else if (name == "http-max-body-bytes") return number(&c->http_max_body_bytes);
  else if (name == "http-idle-timeout") {
    if (Status s = number(&c->http_idle_timeout); !s.ok()) return s;
    if (c->http_idle_timeout == 0) {
      return Status::InvalidArgument("'http-idle-timeout' must be at least 1 second");
    }
  }
  else if (name == "sync" || name == "bitcask-sync") {
    if (value != "none" && value != "interval" && value != "always") {
      return Status::InvalidArgument("'sync' is none, interval or always, not '" + value + "'");
    }
    c->sync = value;
  } else if (name == "appendfsync") {  // Redis's spelling
    if (value == "always") c->sync = "always";
    else if (value == "everysec") c->sync = "interval";
    else if (value == "no") c->sync = "none";
    else return Status::InvalidArgument("'appendfsync' is always, everysec or no");
  }
  else if (name == "sync-interval-ms") return number(&c->sync_interval_ms);
  else if (name == "max-file-size") return number(&c->max_file_size);
  else if (name == "compression") {
    if (value != "none" && value != "lz4" && value != "zstd") {
      return Status::InvalidArgument("'compression' is none, lz4 or zstd, not '" + value + "'");
    }
    c->compression = value;
  }
  else if (name == "io-threads") return number(&c->io_threads);
  else if (name == "busy-poll-us") return number(&c->busy_poll_us);
  else if (name == "logfile") c->logfile = value;
  else if (name == "loglevel") c->loglevel = value;
  else return Status::InvalidArgument("unknown setting '" + name + "'");
  return Status::OK();
}

Status LoadConfigFile(const std::string& path, ServerConfig* config) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read config file " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); number++) {
    std::istringstream words(line);
    std::string name, value, extra;
    if (!(words >> name) || name[0] == '#') continue;
    std::getline(words >> std::ws, value);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    Status s = ApplySetting(name, value, config);
    if (!s.ok()) {
      return Status::InvalidArgument(path + " line " + std::to_string(number) + ": " +
                                     std::string(s.message()));
    }
  }
  return Status::OK();
}

Status EngineOptions(const ServerConfig& c, Options* o) {
  o->sync_mode = c.sync == "always" ? SyncMode::kAlways
                 : c.sync == "interval" ? SyncMode::kInterval
                                        : SyncMode::kNone;
  o->sync_interval_ms = c.sync_interval_ms;
  o->max_file_size = c.max_file_size;
  o->compression = c.compression == "lz4" ? Compression::kLz4
                   : c.compression == "zstd" ? Compression::kZstd
                                             : Compression::kNone;
  return Status::OK();
}

}  // namespace bitcask::server
