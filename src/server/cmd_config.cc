// CONFIG GET / SET / RESETSTAT / REWRITE (Redis's config.c).

#include "server/command.h"

#include <algorithm>

#include "server/fd_limit.h"
#include "server/glob.h"

namespace bitcask::server {

namespace {

// CONFIG GET pattern... / CONFIG SET name value... / CONFIG RESETSTAT.
struct ConfigParam {
  const char* name;
  bool mutable_at_runtime;
  std::string (*get)(const ServerConfig&);
  // Returns an error text, or empty on success.
  std::string (*set)(ServerConfig*, std::string_view);
};

std::string SetUint(uint64_t* field, std::string_view v) {
  uint64_t n;
  if (!ParseUint(v, &n)) return "argument couldn't be parsed into an integer";
  *field = n;
  return "";
}

const std::vector<ConfigParam>& ConfigParams() {
  static const std::vector<ConfigParam> params = {
      {"port", false, [](const ServerConfig& c) { return std::to_string(c.port); }, nullptr},
      {"bind", false, [](const ServerConfig& c) { return c.bind; }, nullptr},
      {"dir", false, [](const ServerConfig& c) { return c.dir; }, nullptr},
      {"databases", false, [](const ServerConfig&) { return std::string("1"); }, nullptr},
      {"appendonly", false, [](const ServerConfig&) { return std::string("yes"); }, nullptr},
      {"appendfsync", false,
       [](const ServerConfig& c) {
         return std::string(c.sync == "always" ? "always" : c.sync == "interval" ? "everysec" : "no");
       },
       nullptr},
      {"save", false, [](const ServerConfig&) { return std::string(); }, nullptr},
      {"requirepass", true, [](const ServerConfig& c) { return c.requirepass; },
       [](ServerConfig* c, std::string_view v) {
         c->requirepass = v;
         return std::string();
       }},
      {"maxclients", true, [](const ServerConfig& c) { return std::to_string(c.maxclients); },
       [](ServerConfig* c, std::string_view v) {
         uint64_t n;
         if (!ParseUint(v, &n)) return std::string("argument couldn't be parsed into an integer");
         // Raises the limit on open files to fit them, as at start-up (Redis's message).
         const ClientRoom room = MakeRoomForClients(n, ReservedDescriptors(EventLoops(*c)));
         if (room.clients < n) {
           return "The operating system is not able to handle the specified number of "
                  "clients, try with " + std::to_string(room.clients) +
                  " (the limit on open files, ulimit -n, is " +
                  std::to_string(room.open_files) + ")";
         }
         c->maxclients = n;
         return std::string();
       }},
      {"timeout", true, [](const ServerConfig& c) { return std::to_string(c.timeout_seconds); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->timeout_seconds, v); }},
      {"proto-max-bulk-len", true,
       [](const ServerConfig& c) { return std::to_string(c.proto_max_bulk_len); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->proto_max_bulk_len, v); }},
      {"client-query-buffer-limit", true,
       [](const ServerConfig& c) { return std::to_string(c.client_query_buffer_limit); },
       [](ServerConfig* c, std::string_view v) { return SetUint(&c->client_query_buffer_limit, v); }},
      {"loglevel", true, [](const ServerConfig& c) { return c.loglevel; },
       [](ServerConfig* c, std::string_view v) {
         if (v != "debug" && v != "verbose" && v != "notice" && v != "warning") {
           return std::string("argument(s) must be one of: debug, verbose, notice, warning");
         }
         c->loglevel = v;
         return std::string();
       }},
      {"bitcask-sync", false, [](const ServerConfig& c) { return c.sync; }, nullptr},
      {"bitcask-sync-interval-ms", false,
       [](const ServerConfig& c) { return std::to_string(c.sync_interval_ms); }, nullptr},
      {"bitcask-max-file-size", false,
       [](const ServerConfig& c) { return std::to_string(c.max_file_size); }, nullptr},
      {"bitcask-compression", false, [](const ServerConfig& c) { return c.compression; }, nullptr},
      {"http-port", false, [](const ServerConfig& c) { return std::to_string(c.http_port); },
       nullptr},
      {"http-metrics-auth", true,
       [](const ServerConfig& c) { return std::string(c.http_metrics_auth ? "yes" : "no"); },
       [](ServerConfig* c, std::string_view v) {
         if (v != "yes" && v != "no") return std::string("argument must be 'yes' or 'no'");
         c->http_metrics_auth = v == "yes";
         return std::string();
       }},
      {"busy-poll-us", false, [](const ServerConfig& c) { return std::to_string(c.busy_poll_us); },
       nullptr},
  };
  return params;
}

void Config(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  if (sub == "get" && c.args.size() >= 3) {
    const ServerConfig cfg = c.server.config();
    std::vector<std::pair<std::string, std::string>> found;
    for (const ConfigParam& p : ConfigParams()) {
      for (size_t i = 2; i < c.args.size(); i++) {
        if (GlobMatch(Lower(c.args[i]), p.name)) {
          found.emplace_back(p.name, p.get(cfg));
          break;
        }
      }
    }
    reply::ArrayHeader(c.out, found.size() * 2);
    for (const auto& [k, v] : found) {
      reply::Bulk(c.out, k);
      reply::Bulk(c.out, v);
    }
    return;
  }
  if (sub == "set" && c.args.size() >= 4 && c.args.size() % 2 == 0) {
    // Check everything first, then apply: all or nothing, as Redis does.
    ServerConfig next = c.server.config();
    for (size_t i = 2; i < c.args.size(); i += 2) {
      const std::string name = Lower(c.args[i]);
      auto p = std::find_if(ConfigParams().begin(), ConfigParams().end(),
                            [&](const ConfigParam& x) { return name == x.name; });
      if (p == ConfigParams().end()) {
        return Err(c, "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'");
      }
      if (!p->mutable_at_runtime) {
        return Err(c, "ERR CONFIG SET failed (possibly related to argument '" + name +
                          "') - can't set immutable config");
      }
      if (std::string e = p->set(&next, c.args[i + 1]); !e.empty()) {
        return Err(c, "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + e);
      }
    }
    c.server.UpdateConfig([&](ServerConfig* cfg) { *cfg = next; });
    return Ok(c);
  }
  if (sub == "resetstat" && c.args.size() == 2) {
    for (size_t i = 0; i < c.server.command_count(); i++) {
      c.server.command_stats(i).calls.Reset();
      c.server.command_stats(i).nanos.Reset();
      c.server.command_stats(i).errors.Reset();
      c.server.command_stats(i).rejected.Reset();
    }
    c.server.keyspace_hits.Reset();
    c.server.keyspace_misses.Reset();
    c.server.total_commands.Reset();
    return Ok(c);
  }
  if (sub == "rewrite") return Err(c, "ERR The server is running without a config file");
  if (sub == "get" || sub == "set" || sub == "resetstat") return SubcommandArity(c);
  UnknownSubcommand(c);
}

}  // namespace

std::span<const CommandSpec> ConfigCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
    {"config", -2, kCmdAdmin, 0, 0, 0, Config},
  };
  return kRows;
}

}  // namespace bitcask::server
