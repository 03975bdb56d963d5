#include "server/settings.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "server/fd_limit.h"
#include "server/replication.h"
#include "server/resp.h"
#include "server/state.h"
#include "util/file.h"
#include "util/text.h"

namespace bitcask::server {

namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

constexpr const char* kYesNo[] = {"yes", "no"};
constexpr const char* kFsyncModes[] = {"always", "everysec", "no"};
constexpr const char* kCompressions[] = {"none", "lz4", "zstd"};
constexpr const char* kLogLevels[] = {"debug", "verbose", "notice", "warning"};

std::string ApplyBacklogSize(ServerState& server, const ServerConfig& next) {
  server.replication().log().SetBacklogSize(static_cast<uint64_t>(next.repl_backlog_size));
  return "";
}

// CONFIG SET maxclients: the limit on open files must hold them, as at start-up.
std::string ApplyMaxclients(ServerState&, const ServerConfig& next) {
  const auto n = static_cast<uint64_t>(next.maxclients);
  const ClientRoom room = MakeRoomForClients(n, ReservedDescriptors(EventLoops(next)));
  if (room.clients >= n) return "";
  return "The operating system is not able to handle the specified number of clients, try with " +
         std::to_string(room.clients) + " (the limit on open files, ulimit -n, is " +
         std::to_string(room.open_files) + ")";
}

std::string ApplyLoglevel(ServerState& server, const ServerConfig& next) {
  server.log().SetLevel(next.loglevel);
  return "";
}

using C = ServerConfig;

const Setting kSettings[] = {
    // Where the server listens and who may talk to it.
    {.name = "bind",
     .type = SettingType::kString,
     .field = &C::bind,
     .help = "Address to listen on (RESP and HTTP); loopback unless you say otherwise"},
    {.name = "port",
     .type = SettingType::kInteger,
     .field = &C::port,
     .min = 0,
     .max = 65535,
     .help = "RESP port (0: any free port; the ready line says which)"},
    {.name = "http-port",
     .type = SettingType::kInteger,
     .field = &C::http_port,
     .min = 0,
     .max = 65535,
     .help = "HTTP port for /metrics, /health and the JSON API (0: off)"},
    {.name = "requirepass",
     .type = SettingType::kString,
     .field = &C::requirepass,
     .flags = kSettingMutable,
     .help = "Password of the user 'default': RESP clients AUTH with it, HTTP requests carry it"},
    {.name = "protected-mode",
     .type = SettingType::kBool,
     .field = &C::protected_mode,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "yes: without requirepass, serve only clients on the loopback interface (others "
             "get Redis's DENIED error)"},
    {.name = "http-metrics-auth",
     .type = SettingType::kBool,
     .field = &C::http_metrics_auth,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "yes: /metrics needs the password too (/health never does)"},
    {.name = "maxclients",
     .type = SettingType::kInteger,
     .field = &C::maxclients,
     .min = 1,
     .max = 1'000'000'000,
     .flags = kSettingMutable,
     .help = "Most RESP connections at once (lowered to what ulimit -n allows)",
     .apply = ApplyMaxclients},
    {.name = "timeout",
     .type = SettingType::kInteger,
     .field = &C::timeout,
     .min = 0,
     .max = std::numeric_limits<int32_t>::max(),
     .flags = kSettingMutable,
     .help = "Close clients idle this many seconds (0: never)"},
    {.name = "client-query-buffer-limit",
     .type = SettingType::kBytes,
     .field = &C::client_query_buffer_limit,
     .min = 1,
     .max = kMaxInt64,
     .flags = kSettingMutable,
     .help = "Largest unanswered input of one client, bytes"},
    {.name = "proto-max-bulk-len",
     .type = SettingType::kBytes,
     .field = &C::proto_max_bulk_len,
     .min = 1,
     .max = kMaxInt64,
     .flags = kSettingMutable,
     .help = "Largest bulk string (a key or a value) a client may send, bytes"},
    {.name = "http-max-body-bytes",
     .type = SettingType::kBytes,
     .field = &C::http_max_body_bytes,
     .min = 1,
     .max = kMaxInt64,
     .help = "Largest HTTP request body (413 beyond it), bytes"},
    {.name = "http-idle-timeout",
     .type = SettingType::kInteger,
     .field = &C::http_idle_timeout,
     .min = 1,
     .max = 86400,
     .help = "Close HTTP connections quiet this many seconds (their worker goes back)"},

    // The store.
    {.name = "dir",
     .type = SettingType::kString,
     .field = &C::dir,
     .help = "The store's directory (created if missing)"},
    {.name = "appendfsync",
     .type = SettingType::kEnum,
     .field = &C::appendfsync,
     .choices = kFsyncModes,
     .help = "When writes reach stable storage: always (before each reply, group commit), "
             "everysec (every sync-interval-ms), no (when the kernel flushes)"},
    {.name = "sync-interval-ms",
     .type = SettingType::kInteger,
     .field = &C::sync_interval_ms,
     .min = 1,
     .max = 3'600'000,
     .help = "Flush interval of appendfsync everysec, ms"},
    {.name = "max-file-size",
     .type = SettingType::kBytes,
     .field = &C::max_file_size,
     .min = 4096,
     .max = (int64_t{1} << 32) - 1,
     .help = "Data file size before the store starts a new one, bytes"},
    {.name = "compression",
     .type = SettingType::kEnum,
     .field = &C::compression,
     .choices = kCompressions,
     .help = "Compress records above 256 bytes: none, lz4 or zstd"},

    // Threads, logs.
    {.name = "io-threads",
     .type = SettingType::kInteger,
     .field = &C::io_threads,
     .min = 0,
     .max = 1024,
     .help = "Event-loop threads (0: one per core)"},
    {.name = "busy-poll-us",
     .type = SettingType::kInteger,
     .field = &C::busy_poll_us,
     .min = 0,
     .max = 1'000'000,
     .help = "After a busy round, an event loop polls this long before it sleeps (0: never)"},
    {.name = "logfile",
     .type = SettingType::kString,
     .field = &C::logfile,
     .help = "Log file, one JSON object per line (empty: stderr)"},
    {.name = "loglevel",
     .type = SettingType::kEnum,
     .field = &C::loglevel,
     .choices = kLogLevels,
     .flags = kSettingMutable,
     .help = "Least important messages logged",
     .apply = ApplyLoglevel},

    // Replication (docs/REPLICATION.md).
    {.name = "replicaof",
     .type = SettingType::kHostPort,
     .field = &C::replicaof,
     .help = "Follow this leader: 'host port' (at run time: REPLICAOF host port / NO ONE)"},
    {.name = "masterauth",
     .type = SettingType::kString,
     .field = &C::masterauth,
     .flags = kSettingMutable,
     .help = "Password this replica sends its leader"},
    {.name = "masteruser",
     .type = SettingType::kString,
     .field = &C::masteruser,
     .flags = kSettingMutable,
     .help = "User this replica authenticates as with its leader"},
    {.name = "repl-backlog-size",
     .type = SettingType::kBytes,
     .field = &C::repl_backlog_size,
     .min = 16384,
     .max = kMaxInt64,
     .flags = kSettingMutable,
     .help = "Stream kept for replicas that reconnect (PSYNC), bytes",
     .apply = ApplyBacklogSize},
    {.name = "repl-ping-replica-period",
     .type = SettingType::kInteger,
     .field = &C::repl_ping_replica_period,
     .min = 1,
     .max = 3600,
     .flags = kSettingMutable,
     .help = "Seconds between the PINGs a leader sends its replicas"},
    {.name = "repl-timeout",
     .type = SettingType::kInteger,
     .field = &C::repl_timeout,
     .min = 1,
     .max = 86400,
     .flags = kSettingMutable,
     .help =
         "Seconds without a sign from the other side after which a replication link is dropped"},
    {.name = "repl-diskless-sync",
     .type = SettingType::kBool,
     .field = &C::repl_diskless_sync,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "Send a full sync's RDB as it is made ($EOF: form, to replicas that take it); "
             "no: write it to disk first ($<length> form)"},
    {.name = "min-replicas-to-write",
     .type = SettingType::kInteger,
     .field = &C::min_replicas_to_write,
     .min = 0,
     .max = 1000,
     .flags = kSettingMutable,
     .help = "Refuse writes (NOREPLICAS) with fewer replicas than this acknowledging within "
             "min-replicas-max-lag (0: off)"},
    {.name = "min-replicas-max-lag",
     .type = SettingType::kInteger,
     .field = &C::min_replicas_max_lag,
     .min = 0,
     .max = 86400,
     .flags = kSettingMutable,
     .help = "Seconds since its last acknowledgement within which a replica counts as good"},
    {.name = "replica-read-only",
     .type = SettingType::kBool,
     .field = &C::replica_read_only,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "A replica refuses writes from clients (READONLY)"},
    {.name = "replica-priority",
     .type = SettingType::kInteger,
     .field = &C::replica_priority,
     .min = 0,
     .max = 1'000'000,
     .flags = kSettingMutable,
     .help = "Sentinel promotes lower first; 0: never"},
    {.name = "replica-announce-ip",
     .type = SettingType::kString,
     .field = &C::replica_announce_ip,
     .flags = kSettingMutable,
     .help = "Address this replica tells its leader (REPLCONF ip-address)"},
    {.name = "replica-announce-port",
     .type = SettingType::kInteger,
     .field = &C::replica_announce_port,
     .min = 0,
     .max = 65535,
     .flags = kSettingMutable,
     .help = "Port this replica tells its leader (0: its port)"},
    {.name = "replica-serve-stale-data",
     .type = SettingType::kBool,
     .field = &C::replica_serve_stale_data,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "no: while its link is down, a replica answers MASTERDOWN"},

    // Cluster mode (docs/CLUSTER.md).
    {.name = "cluster-enabled",
     .type = SettingType::kBool,
     .field = &C::cluster_enabled,
     .choices = kYesNo,
     .help = "Serve the Redis Cluster protocol: 16384 hash slots, a slot map set by CLUSTERX "
             "SETNODES, MOVED/ASK routing"},
    {.name = "cluster-config-file",
     .type = SettingType::kString,
     .field = &C::cluster_config_file,
     .help = "Where the slot map is kept (a relative path is inside dir)"},
    {.name = "cluster-announce-ip",
     .type = SettingType::kString,
     .field = &C::cluster_announce_ip,
     .help = "The address this node has in the slot map, when bind is not it (finds the "
             "node's own line by address and port)"},
    {.name = "cluster-require-full-coverage",
     .type = SettingType::kBool,
     .field = &C::cluster_require_full_coverage,
     .choices = kYesNo,
     .flags = kSettingMutable,
     .help = "no: serve the assigned slots even while some slot has no node"},

    // Redis's settings that have one value here; a config file written for Redis may name them.
    {.name = "databases",
     .type = SettingType::kInteger,
     .min = 1,
     .max = 1,
     .flags = kSettingFixed,
     .help = "bitcask-server has one database",
     .fixed = "1"},
    {.name = "appendonly",
     .type = SettingType::kBool,
     .choices = kYesNo,
     .flags = kSettingFixed,
     .help = "every write is appended to the store's log",
     .fixed = "yes"},
    {.name = "save",
     .type = SettingType::kString,
     .flags = kSettingFixed,
     .help = "no snapshots: every write is in the store's log (see appendfsync)",
     .fixed = ""},
};

bool IEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Join(std::span<const char* const> words, const char* sep) {
  std::string out;
  for (const char* w : words) out += (out.empty() ? "" : sep) + std::string(w);
  return out;
}

// A whole number as Redis's string2ll reads it.
bool ParseInteger(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Redis's memtoull: a number of bytes, with an optional unit (k 1000, kb 1024, m, mb, g, gb;
// any case).
bool ParseBytes(std::string_view s, int64_t* out) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) digits++;
  if (digits == 0) return false;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n);
  if (ec != std::errc()) return false;
  const std::string_view unit = s.substr(digits);
  uint64_t mul = 1;
  if (unit.empty() || IEqual(unit, "b"))
    mul = 1;
  else if (IEqual(unit, "k"))
    mul = 1000;
  else if (IEqual(unit, "kb"))
    mul = 1024;
  else if (IEqual(unit, "m"))
    mul = 1000 * 1000;
  else if (IEqual(unit, "mb"))
    mul = 1024 * 1024;
  else if (IEqual(unit, "g"))
    mul = 1000ull * 1000 * 1000;
  else if (IEqual(unit, "gb"))
    mul = 1024ull * 1024 * 1024;
  else
    return false;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, mul, &bytes) || bytes > uint64_t(kMaxInt64)) return false;
  *out = static_cast<int64_t>(bytes);
  return true;
}

// A value as a config file holds it: bare if it is one plain word, else in double quotes with
// Redis's escapes (which the file's reader, SplitInline, undoes).
std::string QuoteForFile(std::string_view v) {
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\';
  });
  return plain ? std::string(v) : util::Quote(v, /*hex_bytes=*/true);
}

// A config file's line for a setting: "name value".
std::string SettingLine(const Setting& s, const ServerConfig& config) {
  const std::string value = FormatSetting(s, config);
  // "host port" is two words, as Redis writes replicaof.
  return std::string(s.name) + " " +
         (s.type == SettingType::kHostPort ? value : QuoteForFile(value)) + "\n";
}

// Splits a config file line into words as Redis's sdssplitargs does; false for unbalanced
// quotes.
bool SplitLine(const std::string& line, std::vector<std::string>* words) {
  std::vector<std::string_view> views;
  std::vector<std::string> unescaped;
  if (!SplitInline(line, &views, &unescaped)) return false;
  words->assign(views.begin(), views.end());
  return true;
}

std::string JoinValue(const std::vector<std::string>& words) {
  std::string value;
  for (size_t i = 1; i < words.size(); i++) value += (i > 1 ? " " : "") + words[i];
  return value;
}

}  // namespace

std::span<const Setting> Settings() { return kSettings; }

const Setting* FindSetting(std::string_view name) {
  for (const Setting& s : kSettings) {
    if (IEqual(s.name, name)) return &s;
  }
  return nullptr;
}

std::string DescribeSetting(const Setting& s) {
  if (s.flags & kSettingFixed) return std::string("only ") + (*s.fixed ? s.fixed : "\"\"");
  switch (s.type) {
    case SettingType::kInteger:
      return "INT in [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]";
    case SettingType::kBytes:
      return "BYTES (64mb, 1gb...) in [" + std::to_string(s.min) + ", " + std::to_string(s.max) +
             "]";
    case SettingType::kBool:
    case SettingType::kEnum:
      return Join(s.choices, "|");
    case SettingType::kString:
      return "TEXT";
    case SettingType::kHostPort:
      return "'HOST PORT'";
  }
  return "";
}

std::string ParseSetting(const Setting& s, std::string_view value, ServerConfig* config) {
  if (s.flags & kSettingFixed) {
    if (value == s.fixed) return "";
    return std::string("must be ") + (*s.fixed ? "'" + std::string(s.fixed) + "'" : "\"\"") + ": " +
           s.help;
  }
  switch (s.type) {
    case SettingType::kInteger:
    case SettingType::kBytes: {
      int64_t n = 0;
      if (s.type == SettingType::kInteger ? !ParseInteger(value, &n) : !ParseBytes(value, &n)) {
        if (s.type == SettingType::kBytes) {
          return "must be a memory value (bytes, or with a unit: 512kb, 64mb, 1gb) between " +
                 std::to_string(s.min) + " and " + std::to_string(s.max) + " inclusive";
        }
        return "couldn't be parsed into an integer between " + std::to_string(s.min) + " and " +
               std::to_string(s.max) + " inclusive";
      }
      if (n < s.min || n > s.max) {
        return "must be between " + std::to_string(s.min) + " and " + std::to_string(s.max) +
               " inclusive";
      }
      config->*std::get<int64_t ServerConfig::*>(s.field) = n;
      return "";
    }
    case SettingType::kBool: {
      if (!IEqual(value, "yes") && !IEqual(value, "no")) return "must be 'yes' or 'no'";
      config->*std::get<bool ServerConfig::*>(s.field) = IEqual(value, "yes");
      return "";
    }
    case SettingType::kEnum: {
      for (const char* choice : s.choices) {
        if (IEqual(value, choice)) {
          config->*std::get<std::string ServerConfig::*>(s.field) = choice;
          return "";
        }
      }
      return "must be one of the following: " + Join(s.choices, ", ");
    }
    case SettingType::kString:
      config->*std::get<std::string ServerConfig::*>(s.field) = std::string(value);
      return "";
    case SettingType::kHostPort: {
      std::istringstream words{std::string(value)};
      std::string host, port, extra;
      words >> host >> port >> extra;
      std::string result;
      if (host.empty() || (IEqual(host, "no") && IEqual(port, "one") && extra.empty())) {
        result.clear();
      } else {
        int64_t p = -1;
        if (port.empty() || !extra.empty() || !ParseInteger(port, &p) || p < 0 || p > 65535) {
          return "must be 'host port' with a port between 0 and 65535 (or empty)";
        }
        result = host + " " + port;
      }
      config->*std::get<std::string ServerConfig::*>(s.field) = result;
      return "";
    }
  }
  return "has an unknown type";
}

std::string FormatSetting(const Setting& s, const ServerConfig& config) {
  if (s.flags & kSettingFixed) return s.fixed;
  return std::visit(
      [&](auto field) -> std::string {
        using F = decltype(field);
        if constexpr (std::is_same_v<F, std::monostate>) {
          return "";
        } else if constexpr (std::is_same_v<F, bool ServerConfig::*>) {
          return config.*field ? "yes" : "no";
        } else if constexpr (std::is_same_v<F, int64_t ServerConfig::*>) {
          return std::to_string(config.*field);
        } else {
          return config.*field;
        }
      },
      s.field);
}

Status ApplySetting(std::string_view name, std::string_view value, ServerConfig* config) {
  const Setting* s = FindSetting(name);
  if (s == nullptr) {
    return Status::InvalidArgument("unknown setting '" + std::string(name) +
                                   "' (bitcask-server --help lists them all)");
  }
  if (std::string why = ParseSetting(*s, value, config); !why.empty()) {
    return Status::InvalidArgument("'" + std::string(s->name) + "' " + why + ", not '" +
                                   std::string(value) + "'");
  }
  return Status::OK();
}

Status LoadConfigFile(const std::string& path, ServerConfig* config) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read config file " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); number++) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> words;
    const auto fail = [&](const std::string& why) {
      return Status::InvalidArgument(path + " line " + std::to_string(number) + " ('" + line +
                                     "'): " + why);
    };
    if (!SplitLine(line, &words)) return fail("unbalanced quotes");
    if (words.empty() || words[0][0] == '#') continue;
    if (words.size() == 1) return fail("'" + words[0] + "' needs a value");
    if (Status s = ApplySetting(words[0], JoinValue(words), config); !s.ok()) {
      return fail(std::string(s.message()));
    }
  }
  return Status::OK();
}

Status RewriteConfigFile(const std::string& path, const ServerConfig& config) {
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    if (!in) return Status::IOError("cannot read config file " + path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::set<const Setting*> written;
  std::string out;
  for (const std::string& line : lines) {
    std::vector<std::string> words;
    const Setting* s = SplitLine(line, &words) && !words.empty() ? FindSetting(words[0]) : nullptr;
    if (s == nullptr) {
      out += line + "\n";  // comments, blank lines
    } else if (written.insert(s).second &&
               !(s->type == SettingType::kHostPort && FormatSetting(*s, config).empty())) {
      out += SettingLine(*s, config);
    }
  }
  const ServerConfig defaults;
  bool header = false;
  for (const Setting& s : kSettings) {
    if (written.count(&s) || (s.flags & kSettingFixed) ||
        FormatSetting(s, config) == FormatSetting(s, defaults)) {
      continue;
    }
    if (!header) out += "# Generated by CONFIG REWRITE\n";
    header = true;
    out += SettingLine(s, config);
  }
  if (Status s = util::ReplaceFile(path, out); !s.ok()) {
    return Status::IOError("cannot rewrite config file " + path + ": " + std::string(s.message()));
  }
  return Status::OK();
}

bool SyncBeforeReply(const ServerConfig& c) { return c.appendfsync == "always"; }

Options EngineOptions(const ServerConfig& c) {
  Options o;
  // always: the server flushes before it replies (SyncBeforeReply), not the store per write.
  o.sync_mode = c.appendfsync == "everysec" ? SyncMode::kInterval : SyncMode::kNone;
  o.huge_pages = !SyncBeforeReply(c);  // flushed every round: 2 MiB pages would be written whole
  o.sync_interval_ms = static_cast<uint32_t>(c.sync_interval_ms);
  o.max_file_size = static_cast<uint64_t>(c.max_file_size);
  o.compression = c.compression == "lz4"    ? Compression::kLz4
                  : c.compression == "zstd" ? Compression::kZstd
                                            : Compression::kNone;
  return o;
}

unsigned EventLoops(const ServerConfig& config) {
  return config.io_threads > 0 ? unsigned(config.io_threads)
                               : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace bitcask::server
