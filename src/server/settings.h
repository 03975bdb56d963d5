// Every setting of bitcask-server in one table, as Redis's standardConfig in config.c: its
// name (Redis's, where Redis has the setting), its type and the values it accepts, whether
// CONFIG SET may change it while the server runs, and what applying a change does. The table
// serves the command-line flags (--name value), the config file ("name value" lines,
// redis.conf style), CONFIG GET, CONFIG SET and CONFIG REWRITE alike, so a name CONFIG GET
// prints is one a config file and a flag accept, and a bad value gets the same error
// (naming the setting and what it accepts) wherever it comes from.
//
// ServerConfig holds the values; its initializers are the defaults.

#ifndef BITCASK_SERVER_SETTINGS_H_
#define BITCASK_SERVER_SETTINGS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "bitcask/options.h"
#include "bitcask/status.h"

namespace bitcask::server {

class ServerState;

struct ServerConfig {
  std::string dir = "bitcask-data";
  std::string bind = "127.0.0.1";
  int64_t port = 6380;
  int64_t http_port = 8380;  // 0: no HTTP API
  std::string requirepass;
  bool protected_mode = true;
  bool http_metrics_auth = false;
  int64_t maxclients = 10000;
  int64_t timeout = 0;  // seconds a client may stay idle; 0: forever
  int64_t client_query_buffer_limit = int64_t{1} << 30;
  int64_t proto_max_bulk_len = int64_t{512} << 20;
  int64_t http_max_body_bytes = int64_t{64} << 20;
  int64_t http_idle_timeout = 2;
  std::string appendfsync = "everysec";  // always | everysec | no
  int64_t sync_interval_ms = 1000;
  int64_t max_file_size = int64_t{256} << 20;
  std::string compression = "none";
  int64_t io_threads = 0;  // 0: one per core
  int64_t busy_poll_us = 30;
  std::string logfile;  // empty: stderr
  std::string loglevel = "notice";

  // Replication (docs/REPLICATION.md).
  std::string replicaof;  // "host port" of the leader; empty: this server leads
  std::string masterauth;
  std::string masteruser;
  int64_t repl_backlog_size = int64_t{1} << 20;
  int64_t repl_ping_replica_period = 10;
  int64_t repl_timeout = 60;
  bool repl_diskless_sync = true;
  int64_t min_replicas_to_write = 0;
  int64_t min_replicas_max_lag = 10;
  bool replica_read_only = true;
  int64_t replica_priority = 100;
  std::string replica_announce_ip;
  int64_t replica_announce_port = 0;
  bool replica_serve_stale_data = true;

  // Cluster mode (docs/CLUSTER.md).
  bool cluster_enabled = false;
  std::string cluster_config_file = "nodes.conf";
  std::string cluster_announce_ip;
  bool cluster_require_full_coverage = true;
};

enum class SettingType {
  kInteger,   // a whole number in [min, max]
  kBytes,     // the same, and Redis's units too: 64mb, 1gb, 512kb (1k is 1000, 1kb 1024)
  kBool,      // yes | no
  kEnum,      // one of choices
  kString,    // anything
  kHostPort,  // "host port", or empty (none); "no one" is empty too
};

enum SettingFlag : uint32_t {
  kSettingMutable = 1u << 0,  // CONFIG SET may change it at run time
  kSettingFixed = 1u << 1,    // Redis's setting, shown with the one value it has here
};

struct Setting {
  const char* name;
  SettingType type;
  // The value's place in ServerConfig; none for a fixed setting.
  std::variant<std::monostate, int64_t ServerConfig::*, bool ServerConfig::*,
               std::string ServerConfig::*>
      field = {};
  int64_t min = 0, max = 0;                   // kInteger, kBytes
  std::span<const char* const> choices = {};  // kBool, kEnum
  uint32_t flags = 0;
  const char* help = "";
  // A fixed setting's one value.
  const char* fixed = nullptr;
  // What a change at run time does beyond storing the value (raise the limit on open files,
  // set the logger's level): called by CONFIG SET with the configuration about to be stored;
  // returns an error text (then nothing is stored), or "".
  std::string (*apply)(ServerState& server, const ServerConfig& next) = nullptr;
};

// The table, in the order CONFIG GET lists it.
std::span<const Setting> Settings();
// The setting named (any case), or null.
const Setting* FindSetting(std::string_view name);

// Checks value against the setting and stores it in *config. On a bad value returns what the
// setting accepts, as Redis words it after "argument ": "must be between 0 and 65535
// inclusive", "must be one of the following: always, everysec, no", ... and changes nothing.
std::string ParseSetting(const Setting& setting, std::string_view value, ServerConfig* config);
// The value as CONFIG GET shows it and a config file holds it.
std::string FormatSetting(const Setting& setting, const ServerConfig& config);
// What a setting accepts, for --help: "INT in [0, 65535]", "always|everysec|no", ...
std::string DescribeSetting(const Setting& setting);

// Applies one setting from a flag or a config file: InvalidArgument "'port' must be between
// 0 and 65535 inclusive, not '70000'", or "unknown setting 'x'".
Status ApplySetting(std::string_view name, std::string_view value, ServerConfig* config);

// Applies the settings of a config file (redis.conf style: "name value" lines, '#' comments,
// quoted values as Redis reads them). InvalidArgument names the file, the line and what is
// wrong.
Status LoadConfigFile(const std::string& path, ServerConfig* config);

// CONFIG REWRITE: rewrites the config file so that it holds config. Lines of settings keep
// their place (with the new value), comments and blank lines stay, a setting named twice is
// kept once, and settings that differ from their default and were not in the file are
// added at the end. The new file replaces the old one atomically (written beside it, flushed,
// renamed).
Status RewriteConfigFile(const std::string& path, const ServerConfig& config);

// appendfsync always: every reply waits until a flush of the store covers the writes it could
// reflect. The server flushes once per event-loop round for all the round's writes (group
// commit, as Redis's beforeSleep), the HTTP API once per request, a replica once per read of
// its leader's stream; the store itself flushes no write on its own (EngineOptions).
bool SyncBeforeReply(const ServerConfig& config);

// The engine options a configuration asks for.
Options EngineOptions(const ServerConfig& config);

// Event-loop threads for a configuration: io_threads, or one per core when it is 0.
unsigned EventLoops(const ServerConfig& config);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_SETTINGS_H_
