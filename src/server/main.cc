// bitcask-server: a Redis-protocol (RESP2) server over a bitcask store, with Prometheus
// metrics, a health check and a JSON data API over HTTP.
//
//   bitcask-server --dir DIR --port 6380 [--http-port 8380] [--config FILE] ...
//
// SIGTERM, SIGINT and SHUTDOWN flush the store and close it before exiting.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "bitcask/version.h"
#include "server/fd_limit.h"
#include "server/http.h"
#include "server/log.h"
#include "server/network.h"
#include "server/replication.h"
#include "server/state.h"

using namespace bitcask;
using namespace bitcask::server;

int main(int argc, char** argv) {
  ServerConfig cfg;
  std::string config_file;
  CLI::App app{
      "bitcask-server: a Redis-protocol server over a bitcask store.\n"
      "Every setting is a flag, a config file line (name value) and a CONFIG GET/SET "
      "name alike."};
  app.set_version_flag(
      "--version", "bitcask-server " BITCASK_VERSION " (Redis protocol " BITCASK_REDIS_VERSION ")");
  app.add_option("--config", config_file,
                 "Config file (redis.conf style: 'name value' lines); flags override it")
      ->check(CLI::ExistingFile);
  // Flags given on the command line override the file: record them, apply after it. Each is
  // checked as it is read, by the same rules as the file and CONFIG SET.
  std::vector<std::pair<std::string, std::string>> flags;
  for (const Setting& setting : Settings()) {
    const Setting* s = &setting;
    app.add_option_function<std::string>(
           std::string("--") + s->name,
           [&flags, s](const std::string& v) { flags.emplace_back(s->name, v); },
           std::string(s->help) + " (default: " + FormatSetting(*s, ServerConfig()) + ")")
        ->type_name(DescribeSetting(*s))
        ->check(CLI::Validator(
            [s](std::string& v) {
              ServerConfig scratch;
              const std::string why = ParseSetting(*s, v, &scratch);
              return why.empty() ? why
                                 : "'" + std::string(s->name) + "' " + why + ", not '" + v + "'";
            },
            ""));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (!config_file.empty()) {
    config_file = std::filesystem::absolute(config_file).string();  // CONFIG REWRITE's target
    if (Status s = LoadConfigFile(config_file, &cfg); !s.ok()) {
      std::fprintf(stderr, "bitcask-server: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  for (const auto& [name, value] : flags) {
    if (Status s = ApplySetting(name, value, &cfg); !s.ok()) {
      std::fprintf(stderr, "bitcask-server: --%s: %s\n", name.c_str(),
                   std::string(s.message()).c_str());
      return 2;
    }
  }

  Logger log;
  if (!log.Open(cfg.logfile)) {
    std::fprintf(stderr, "bitcask-server: cannot open log file %s\n", cfg.logfile.c_str());
    return 2;
  }
  log.SetLevel(cfg.loglevel);

  // Each client takes a descriptor: make the limit on open files hold maxclients of them, or
  // serve fewer (Redis does the same).
  const uint64_t reserved = ReservedDescriptors(EventLoops(cfg));
  if (const ClientRoom room = MakeRoomForClients(uint64_t(cfg.maxclients), reserved);
      room.clients < uint64_t(cfg.maxclients)) {
    if (room.clients == 0) {
      std::fprintf(stderr,
                   "bitcask-server: the limit on open files (ulimit -n) is %llu; the server "
                   "needs more than %llu (%s)\n",
                   (unsigned long long)room.open_files, (unsigned long long)reserved,
                   room.error.c_str());
      return 1;
    }
    const std::string message = "maxclients " + std::to_string(cfg.maxclients) + " needs " +
                                std::to_string(uint64_t(cfg.maxclients) + reserved) +
                                " open files, but the limit (ulimit -n) " + "stays at " +
                                std::to_string(room.open_files) + " (" + room.error +
                                "): serving at most " + std::to_string(room.clients) + " clients";
    log.Log(Logger::kWarning, "maxclients reduced to fit the limit on open files",
            {{"requested", std::to_string(cfg.maxclients)},
             {"maxclients", std::to_string(room.clients)},
             {"open_files_limit", std::to_string(room.open_files)},
             {"error", room.error}});
    std::fprintf(stderr, "bitcask-server: %s\n", message.c_str());
    cfg.maxclients = int64_t(room.clients);
  }

  // Signals go to one thread (sigwait), never into the middle of the event loops.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // As Redis: closing the terminal it was started from does not stop the server (SIGHUP's
  // default would end it on the spot, without flushing or closing the store).
  signal(SIGHUP, SIG_IGN);

  // The state first: the store tells its replication of every write (CommitListener).
  ServerState state(cfg, &log);
  state.config_file = config_file;
  Options options = EngineOptions(cfg);
  options.commit_listener = state.commit_listener();
  std::unique_ptr<DB> db;
  Status opened = ServerState::RecoverInterruptedSwap(cfg.dir);
  if (opened.ok()) opened = DB::Open(options, cfg.dir, &db);
  if (Status s = opened; !s.ok()) {
    log.Log(Logger::kWarning, "cannot open the store", {{"dir", cfg.dir}, {"error", s.ToString()}});
    std::fprintf(stderr, "bitcask-server: %s\n", s.ToString().c_str());
    // Damage, or a page the disk cannot read (which a salvage open skips in the same way).
    if (s.IsCorruption() || (s.IsIOError() && s.ToString().find("SIGBUS") != std::string::npos)) {
      std::fprintf(stderr,
                   "bitcask-server: the store is damaged. `bitcask -d %s check` lists the damage; "
                   "`bitcask -d %s merge --salvage` rewrites the store without the damaged "
                   "records (or `repair --output NEWDIR` copies what is readable elsewhere)\n",
                   cfg.dir.c_str(), cfg.dir.c_str());
    }
    return 1;
  }
  Stats stats;
  (void)db->GetStats(&stats);
  if (cfg.cluster_enabled) {
    // Before the store is set: setting it builds the per-slot key index.
    std::string announce = cfg.cluster_announce_ip;
    if (announce.empty()) announce = cfg.bind.substr(0, cfg.bind.find(' '));
    if (announce == "0.0.0.0" || announce == "::" || announce == "*") announce.clear();
    std::string file = cfg.cluster_config_file;
    if (!file.empty() && file[0] != '/') file = cfg.dir + "/" + file;
    state.cluster().Enable(file, announce);
  }
  if (Status s = state.SetStore(std::move(db)); !s.ok()) {
    std::fprintf(stderr, "bitcask-server: %s\n", s.ToString().c_str());
    return 1;
  }
  RespServer resp(&state, &log);
  if (Status s = resp.Start(); !s.ok()) {
    std::fprintf(stderr, "bitcask-server: %s\n", s.ToString().c_str());
    return 1;
  }
  if (cfg.cluster_enabled) {
    if (Status s = state.cluster().Load(state.bound_port); !s.ok()) {
      log.Log(Logger::kWarning, "cannot read the cluster map", {{"error", s.ToString()}});
      std::fprintf(stderr, "bitcask-server: cannot read the cluster map: %s\n",
                   s.ToString().c_str());
      return 1;
    }
  }
  HttpServer http(&state, &log);
  if (cfg.http_port > 0) {
    if (Status s = http.Start(); !s.ok()) {
      std::fprintf(stderr, "bitcask-server: %s\n", s.ToString().c_str());
      return 1;
    }
  } else {
    log.Log(Logger::kNotice, "HTTP API off (http-port 0): no /metrics, /health or JSON API");
  }
  state.request_shutdown = [&resp] { resp.Stop(); };
  state.replication().Start();  // follows its leader if replicaof is set
  std::atomic<bool> exiting{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!exiting) {
      log.Log(Logger::kNotice, "signal received, shutting down", {{"signal", std::to_string(sig)}});
      resp.Stop();
    }
  });

  log.Log(Logger::kNotice, "ready",
          {{"port", std::to_string(state.bound_port)},
           {"http_port", std::to_string(state.bound_http_port)},
           {"dir", cfg.dir},
           {"keys", std::to_string(stats.live_keys)},
           {"open_ms", std::to_string(stats.open_micros / 1000)}});
  std::printf("bitcask-server ready on %s:%d (http %s); connect with: redis-cli -p %d\n",
              cfg.bind.c_str(), state.bound_port,
              state.bound_http_port > 0 ? std::to_string(state.bound_http_port).c_str() : "off",
              state.bound_port);
  if (state.bound_http_port > 0) {
    std::printf(
        "  metrics http://%s:%d/metrics  health http://%s:%d/health  "
        "JSON API http://%s:%d/get/KEY (docs/SERVER.md)\n",
        cfg.bind.c_str(), state.bound_http_port, cfg.bind.c_str(), state.bound_http_port,
        cfg.bind.c_str(), state.bound_http_port);
  }
  std::fflush(stdout);

  resp.Run();

  http.Stop();
  state.replication().Stop();  // the link to a leader, the replicas' streams
  Status closed;
  {
    ServerState::StoreUse use(&state);
    closed = state.db().Close();  // flushes every acknowledged write
  }
  log.Log(closed.ok() ? Logger::kNotice : Logger::kWarning, "store closed",
          {{"status", closed.ToString()}});
  // The stream position the store now holds, for PSYNC after the restart.
  if (closed.ok()) state.replication().SavePosition();
  // Wake the signal thread if no signal came (SHUTDOWN); it sees `exiting` and just returns.
  exiting = true;
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return closed.ok() ? 0 : 1;
}
