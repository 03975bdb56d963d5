#include "server/http.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "bitcask/version.h"
#include "server/auth.h"
#include "server/command.h"
#include "server/dispatch.h"
#include "server/metrics.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

using nlohmann::json;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void Problem(httplib::Response& res, int status, const std::string& detail) {
  Reply(res, status, json{{"detail", detail}});
}

// A write over HTTP obeys what RESP writes obey: a read-only replica refuses it, and so does
// a leader without min-replicas-to-write good replicas. Replies and returns true if refused.
bool RefuseWrite(ServerState* state, httplib::Response& res) {
  if (state->replica_read_only_now()) {
    Problem(res, 409, "READONLY You can't write against a read only replica.");
    return true;
  }
  if (!state->replication().EnoughGoodReplicas()) {
    Problem(res, 503, "NOREPLICAS Not enough good replicas to write.");
    return true;
  }
  return false;
}

// Cluster mode: a key whose slot this node does not serve gets 421 with the redirect a RESP
// client would get (MOVED <slot> <host>:<port>, CROSSSLOT, CLUSTERDOWN ...), as the command
// that does the same over RESP (args) is routed.
bool Misrouted(ServerState* state, const std::vector<std::string>& args, httplib::Response& res) {
  if (!state->cluster().enabled()) return false;
  const std::string error = HttpRoute(*state, args);
  if (error.empty()) return false;
  Problem(res, 421, error);
  return true;
}

// The JSON value a stored value stands for (see http.h).
json StoredToJson(const std::string& stored) {
  json v = json::parse(stored, nullptr, /*allow_exceptions=*/false);
  if (!v.is_discarded()) return v;
  return json(stored);
}

std::string JsonToStored(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Parses a JSON object body; replies 400 and returns false if it is not one.
bool ParseBody(const httplib::Request& req, httplib::Response& res, json* body) {
  *body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body->is_discarded() || !body->is_object()) {
    Problem(res, 400, "the request body must be a JSON object");
    return false;
  }
  return true;
}

}  // namespace

struct HttpServer::Impl {
  ServerState* state;
  Logger* log;
  httplib::Server http;
  std::thread thread;

  // With a password set, every endpoint but /health (and /metrics, unless
  // http-metrics-auth is yes) answers 401 and does nothing without it. Without one, in
  // protected mode, a client not on the loopback interface gets 403 (but for /health).
  httplib::Server::HandlerResponse Guard(const httplib::Request& req, httplib::Response& res) {
    using Handled = httplib::Server::HandlerResponse;
    const ServerConfig cfg = state->config();
    if (req.path != "/health" && ProtectedModeRefuses(cfg, req.remote_addr)) {
      Problem(res, 403, kProtectedModeError);
      return Handled::Handled;
    }
    if (!AuthRequired(cfg) || req.path == "/health" ||
        (req.path == "/metrics" && !cfg.http_metrics_auth)) {
      return Handled::Unhandled;
    }
    const std::optional<Credentials> given =
        req.has_header("Authorization")
            ? ParseAuthorizationHeader(req.get_header_value("Authorization"))
            : std::nullopt;
    if (given && CredentialsValid(cfg, given->user, given->password)) return Handled::Unhandled;
    res.set_header("WWW-Authenticate", "Basic realm=\"bitcask-server\", charset=\"UTF-8\"");
    if (!given) {
      Problem(res, 401,
              "authentication required: send the password as HTTP Basic credentials of the user "
              "'default' (curl -u default:PASSWORD) or as 'Authorization: Bearer PASSWORD'");
    } else {
      state->auth_failures++;
      log->Log(Logger::kWarning, "HTTP authentication failed",
               {{"client", req.remote_addr + ":" + std::to_string(req.remote_port)},
                {"user", given->user},
                {"path", req.path}});
      Problem(res, 401, "invalid username-password pair or user is disabled");
    }
    return Handled::Handled;
  }

  void Routes() {
    http.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return Guard(req, res); });
    if (SyncBeforeReply(state->config())) {
      // appendfsync always: no answer before a flush covers what it wrote or read.
      http.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
        ServerState::StoreUse use(state);
        if (Status s = state->db().Sync(); !s.ok()) {
          Problem(res, 500, "flushing the store failed: " + s.ToString());
        }
      });
    }
    http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      ServerState::StoreUse use(state);
      DB& db = state->db();
      uint64_t n = 0;
      const Status s = db.Count(&n);
      Reply(res, s.ok() ? 200 : 500,
            json{{"status", s.ok() ? "running" : s.ToString()},
                 {"service", "bitcask-server"},
                 {"version", BITCASK_VERSION},
                 {"data_dir", state->config().dir},
                 {"keys_count", n}});
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      ServerState::StoreUse use(state);
      DB& db = state->db();
      // Unhealthy too when the store refuses every write after a failed flush: a restart
      // (which reopens it) is what brings it back.
      Stats st;
      Status s = db.GetStats(&st);
      if (s.ok() && !st.write_error.empty()) {
        s = Status::IOError("writes are refused until a restart: " + st.write_error);
      }
      if (s.ok())
        return Reply(res, 200, json{{"status", "healthy"}, {"service", "bitcask-server"}});
      Reply(res, 503, json{{"status", "unhealthy"}, {"detail", s.ToString()}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      ServerState::StoreUse use(state);
      res.set_content(PrometheusMetrics(*state), "text/plain; version=0.0.4");
    });
    http.Post("/put", [this](const httplib::Request& req, httplib::Response& res) {
      ServerState::StoreUse use(state);
      if (RefuseWrite(state, res)) return;
      DB& db = state->db();
      json body;
      if (!ParseBody(req, res, &body)) return;
      if (!body.contains("key") || !body["key"].is_string() || !body.contains("value")) {
        return Problem(res, 400, "expected {\"key\": string, \"value\": any JSON value}");
      }
      const std::string key = body["key"];
      if (Misrouted(state, {"set", key, ""}, res)) return;
      WriteOptions w;
      if (body.contains("ttl")) {
        if (!body["ttl"].is_number() || body["ttl"].get<double>() <= 0) {
          return Problem(res, 400, "ttl must be a positive number of seconds");
        }
        w.ttl_ms = static_cast<uint64_t>(body["ttl"].get<double>() * 1000);
      }
      KeyLocks::Guard lock(&state->key_locks(), {key});
      const Status s = db.Put(key, JsonToStored(body["value"]), w);
      if (s.IsInvalidArgument()) return Problem(res, 400, s.ToString());
      if (!s.ok()) return Problem(res, 500, s.ToString());
      Reply(res, 200, json{{"status", "success"}, {"key", key}});
    });
    http.Post("/batch", [this](const httplib::Request& req, httplib::Response& res) {
      ServerState::StoreUse use(state);
      if (RefuseWrite(state, res)) return;
      DB& db = state->db();
      json body;
      if (!ParseBody(req, res, &body)) return;
      if (!body.contains("data") || !body["data"].is_object()) {
        return Problem(res, 400, "expected {\"data\": {key: value, ...}}");
      }
      WriteBatch batch;
      std::vector<std::string> keys, mset = {"mset"};
      for (const auto& [k, v] : body["data"].items()) {
        batch.Put(k, JsonToStored(v));
        keys.push_back(k);
        mset.insert(mset.end(), {k, ""});
      }
      if (Misrouted(state, mset, res)) return;
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      KeyLocks::Guard lock(&state->key_locks(), views);
      const Status s = db.Write(batch);
      if (s.IsInvalidArgument()) return Problem(res, 400, s.ToString());
      if (!s.ok()) return Problem(res, 500, s.ToString());
      Reply(res, 200, json{{"status", "success"}, {"count", batch.Count()}});
    });
    http.Get(R"(/get/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      ServerState::StoreUse use(state);
      DB& db = state->db();
      const std::string key = req.matches[1];
      if (Misrouted(state, {"get", key}, res)) return;
      std::string value;
      const Status s = db.Get(key, &value);
      if (s.IsNotFound())
        return Reply(res, 404, json{{"key", key}, {"value", nullptr}, {"found", false}});
      if (!s.ok()) return Problem(res, s.IsInvalidArgument() ? 400 : 500, s.ToString());
      Reply(res, 200, json{{"key", key}, {"value", StoredToJson(value)}, {"found", true}});
    });
    http.Delete(R"(/delete/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      ServerState::StoreUse use(state);
      if (RefuseWrite(state, res)) return;
      DB& db = state->db();
      const std::string key = req.matches[1];
      if (Misrouted(state, {"del", key}, res)) return;
      KeyLocks::Guard lock(&state->key_locks(), {key});
      const Status s = db.Delete(key);
      if (s.IsNotFound()) return Reply(res, 404, json{{"key", key}, {"deleted", false}});
      if (!s.ok()) return Problem(res, s.IsInvalidArgument() ? 400 : 500, s.ToString());
      Reply(res, 200, json{{"key", key}, {"deleted", true}});
    });
    http.Get("/keys", [this](const httplib::Request& req, httplib::Response& res) {
      ServerState::StoreUse use(state);
      DB& db = state->db();
      IteratorOptions o;
      if (req.has_param("prefix")) o.prefix = req.get_param_value("prefix");
      size_t limit = SIZE_MAX;
      if (req.has_param("limit")) {
        try {
          limit = std::stoul(req.get_param_value("limit"));
        } catch (...) {
          return Problem(res, 400, "limit must be a non-negative integer");
        }
      }
      json keys = json::array();
      auto it = db.NewIterator(o);
      for (it->SeekToFirst(); it->Valid() && keys.size() < limit; it->Next()) {
        keys.push_back(std::string(it->key()));
      }
      if (!it->status().ok()) return Problem(res, 500, it->status().ToString());
      Reply(res, 200, json{{"keys", keys}, {"count", keys.size()}});
    });
    // The same as FLUSHDB.
    http.Post("/clear", [this](const httplib::Request&, httplib::Response& res) {
      ServerState::StoreUse use(state);
      if (RefuseWrite(state, res)) return;
      if (Status s = FlushKeyspace(*state, state->keyspace()); !s.ok()) {
        return Problem(res, 500, s.ToString());
      }
      Reply(res, 200, json{{"status", "success"}, {"message", "Database cleared"}});
    });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "internal error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          Problem(res, 500, what);
        });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const char* why = res.status == 413   ? "the request body is too large"
                        : res.status == 404 ? "no such endpoint"
                                            : "bad request";
      Problem(res, res.status, why);
    });
  }
};

HttpServer::HttpServer(ServerState* state, Logger* log) : impl_(std::make_unique<Impl>()) {
  impl_->state = state;
  impl_->log = log;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  const ServerConfig cfg = impl_->state->config();
  impl_->http.set_payload_max_length(static_cast<size_t>(cfg.http_max_body_bytes));
  // A connection holds a worker while it waits for a request: the library's default of 8
  // workers, each waiting up to 5 s, let 8 idle connections (a client pool kept open, a port
  // scanner) hold /health up for seconds, and a health probe times out. Workers are cheap
  // while they wait; a quiet connection is closed after http-idle-timeout (2 s).
  impl_->http.new_task_queue = [] {
    return new httplib::ThreadPool(std::max(32u, 8 * std::thread::hardware_concurrency()));
  };
  const auto idle = static_cast<time_t>(cfg.http_idle_timeout);
  impl_->http.set_read_timeout(idle, 0);
  impl_->http.set_keep_alive_timeout(idle);
  impl_->Routes();
  if (!impl_->http.bind_to_port(cfg.bind, cfg.http_port)) {
    return Status::IOError("HTTP listen on " + cfg.bind + ":" + std::to_string(cfg.http_port) +
                           " failed");
  }
  impl_->state->bound_http_port = cfg.http_port;
  impl_->thread = std::thread([this] { impl_->http.listen_after_bind(); });
  return Status::OK();
}

void HttpServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->http.stop();
  impl_->thread.join();
}

}  // namespace bitcask::server
