// INFO (Redis's genRedisInfoString in server.c).

#include "server/command.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "server/dispatch.h"

namespace bitcask::server {

namespace {

void AppendInfoLine(std::string* s, std::string_view name, const std::string& value) {
  s->append(name);
  s->push_back(':');
  // One line per field, whatever a value holds (an error message naming a path, say).
  for (char c : value) s->push_back(c == '\r' || c == '\n' ? ' ' : c);
  s->append("\r\n");
}

// The process's resident memory, in bytes, from one read of /proc/self/status: all of it
// (VmRSS), the anonymous part (RssAnon: heap, key directory, buffers) and the pages of mapped
// files (RssFile: the data files, which the kernel can drop and read again). 0 for a field
// that cannot be read.
struct Resident {
  uint64_t all = 0, anon = 0, file = 0;
};

Resident ReadResident() {
  Resident r;
  const std::pair<std::string_view, uint64_t*> fields[] = {
      {"VmRSS:", &r.all}, {"RssAnon:", &r.anon}, {"RssFile:", &r.file}};
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      for (const auto& [name, out] : fields) {
        if (std::string_view(line).starts_with(name)) {
          *out = std::strtoull(line + name.size(), nullptr, 10) * 1024;  // "NNN kB"
        }
      }
    }
    std::fclose(f);
  }
  return r;
}

// Redis's bytesToHuman: 1023B, 1.00K, 2.50M, ...
std::string HumanBytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"K", "M", "G", "T", "P"};
  if (n < 1024) return std::to_string(n) + "B";
  double v = double(n) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    unit++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, kUnits[unit]);
  return buf;
}

double CpuSeconds(const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; }

void Info(CommandContext& c) {
  std::vector<std::string> wanted;
  for (size_t i = 1; i < c.args.size(); i++) wanted.push_back(Lower(c.args[i]));
  const bool all = wanted.empty() || std::count(wanted.begin(), wanted.end(), "all") ||
                   std::count(wanted.begin(), wanted.end(), "everything");
  auto want = [&](const char* section, bool by_default = true) {
    return (all && by_default) || std::count(wanted.begin(), wanted.end(), section) ||
           (wanted.empty() && by_default) ||
           (std::count(wanted.begin(), wanted.end(), "default") && by_default);
  };
  ServerState& srv = c.server;
  const ServerConfig cfg = srv.config();
  Stats st;
  const Status ss = srv.db().GetStats(&st);
  if (!ss.ok()) return StoreError(c, ss);
  const int64_t uptime = (NowUnixMillis() - srv.start_unix_ms) / 1000;
  std::string s;
  if (want("server")) {
    s += "# Server\r\n";
    AppendInfoLine(&s, "redis_version", "7.0.0");
    AppendInfoLine(&s, "bitcask_version", "0.1.0");
    AppendInfoLine(&s, "redis_mode", "standalone");
    AppendInfoLine(&s, "os", "Linux");
    AppendInfoLine(&s, "arch_bits", "64");
    AppendInfoLine(&s, "process_id", std::to_string(getpid()));
    AppendInfoLine(&s, "tcp_port", std::to_string(srv.bound_port));
    AppendInfoLine(&s, "uptime_in_seconds", std::to_string(uptime));
    AppendInfoLine(&s, "uptime_in_days", std::to_string(uptime / 86400));
    s += "\r\n";
  }
  if (want("clients")) {
    s += "# Clients\r\n";
    AppendInfoLine(&s, "connected_clients", std::to_string(srv.connected_clients.load()));
    AppendInfoLine(&s, "maxclients", std::to_string(cfg.maxclients));
    AppendInfoLine(&s, "blocked_clients", std::to_string(srv.blocked_clients.load()));
    s += "\r\n";
  }
  if (want("memory")) {
    // used_memory: what the server itself holds in memory (Redis: what its allocator holds).
    // The mapped data files' pages are page cache, counted apart: the kernel can drop them.
    s += "# Memory\r\n";
    const Resident resident = ReadResident();
    AppendInfoLine(&s, "used_memory", std::to_string(resident.anon));
    AppendInfoLine(&s, "used_memory_human", HumanBytes(resident.anon));
    AppendInfoLine(&s, "used_memory_rss", std::to_string(resident.all));
    AppendInfoLine(&s, "used_memory_rss_human", HumanBytes(resident.all));
    AppendInfoLine(&s, "maxmemory", "0");
    AppendInfoLine(&s, "maxmemory_human", "0B");
    AppendInfoLine(&s, "maxmemory_policy", "noeviction");
    AppendInfoLine(&s, "keydir_bytes", std::to_string(st.keydir_bytes));
    AppendInfoLine(&s, "bitcask_mapped_file_rss", std::to_string(resident.file));
    s += "\r\n";
  }
  if (want("persistence")) {
    s += "# Persistence\r\n";
    AppendInfoLine(&s, "loading", "0");
    AppendInfoLine(&s, "aof_enabled", "1");
    AppendInfoLine(&s, "aof_rewrite_in_progress", srv.background_running() ? "1" : "0");
    // Redis's field for "did the last rewrite work", which monitoring already watches: here
    // the last merge, automatic ones included.
    AppendInfoLine(&s, "aof_last_bgrewrite_status", st.last_merge_error.empty() ? "ok" : "err");
    // Redis's field for a failed append or fsync: here a failed flush, after which every
    // write is refused until a restart (bitcask_write_error says why).
    AppendInfoLine(&s, "aof_last_write_status", st.write_error.empty() ? "ok" : "err");
    AppendInfoLine(&s, "bitcask_write_error", st.write_error);
    AppendInfoLine(&s, "last_save_time", std::to_string(srv.last_save_unix.load()));
    AppendInfoLine(&s, "last_background_job", srv.background_last());
    AppendInfoLine(&s, "appendfsync", cfg.appendfsync);
    AppendInfoLine(&s, "bitcask_data_files", std::to_string(st.data_files));
    AppendInfoLine(&s, "bitcask_total_bytes", std::to_string(st.total_bytes));
    AppendInfoLine(&s, "bitcask_dead_bytes", std::to_string(st.dead_bytes));
    char frag[32];
    std::snprintf(frag, sizeof frag, "%.4f",
                  st.total_bytes ? double(st.dead_bytes) / double(st.total_bytes) : 0.0);
    AppendInfoLine(&s, "bitcask_fragmentation", frag);
    AppendInfoLine(&s, "bitcask_merges", std::to_string(st.merges));
    AppendInfoLine(&s, "bitcask_merge_seconds", std::to_string(st.merge_micros / 1e6));
    AppendInfoLine(&s, "bitcask_merge_bytes_reclaimed", std::to_string(st.merge_bytes_reclaimed));
    AppendInfoLine(&s, "bitcask_merge_failures", std::to_string(st.merge_failures));
    AppendInfoLine(&s, "bitcask_last_merge_error", st.last_merge_error);
    AppendInfoLine(&s, "bitcask_syncs", std::to_string(st.syncs));
    AppendInfoLine(&s, "bitcask_open_seconds", std::to_string(st.open_micros / 1e6));
    s += "\r\n";
  }
  if (want("stats")) {
    s += "# Stats\r\n";
    AppendInfoLine(&s, "total_connections_received", std::to_string(srv.total_connections.load()));
    AppendInfoLine(&s, "total_commands_processed", std::to_string(srv.total_commands.load()));
    AppendInfoLine(&s, "rejected_connections", std::to_string(srv.rejected_connections.load()));
    AppendInfoLine(&s, "keyspace_hits", std::to_string(srv.keyspace_hits.load()));
    AppendInfoLine(&s, "keyspace_misses", std::to_string(srv.keyspace_misses.load()));
    AppendInfoLine(&s, "total_error_replies", std::to_string([&] {
                     uint64_t n = 0;
                     for (size_t i = 0; i < srv.command_count(); i++) n += srv.command_stats(i).errors;
                     return n;
                   }()));
    AppendInfoLine(&s, "acl_access_denied_auth", std::to_string(srv.auth_failures.load()));
    AppendInfoLine(&s, "bitcask_puts", std::to_string(st.puts));
    AppendInfoLine(&s, "bitcask_gets", std::to_string(st.gets));
    AppendInfoLine(&s, "bitcask_deletes", std::to_string(st.deletes));
    char lat[256];
    std::snprintf(lat, sizeof lat, "p50=%.2f,p99=%.2f,p999=%.2f", st.get_latency.p50_us,
                  st.get_latency.p99_us, st.get_latency.p999_us);
    AppendInfoLine(&s, "bitcask_get_latency_us", lat);
    std::snprintf(lat, sizeof lat, "p50=%.2f,p99=%.2f,p999=%.2f", st.put_latency.p50_us,
                  st.put_latency.p99_us, st.put_latency.p999_us);
    AppendInfoLine(&s, "bitcask_put_latency_us", lat);
    s += "\r\n";
  }
  if (want("replication")) {
    s += "# Replication\r\n";
    AppendInfoLine(&s, "role", "master");
    AppendInfoLine(&s, "connected_slaves", "0");
    AppendInfoLine(&s, "master_repl_offset", "0");
    s += "\r\n";
  }
  if (want("cpu")) {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    char t[32];
    s += "# CPU\r\n";
    std::snprintf(t, sizeof t, "%.6f", CpuSeconds(ru.ru_stime));
    AppendInfoLine(&s, "used_cpu_sys", t);
    std::snprintf(t, sizeof t, "%.6f", CpuSeconds(ru.ru_utime));
    AppendInfoLine(&s, "used_cpu_user", t);
    s += "\r\n";
  }
  if (want("commandstats", false)) {
    s += "# Commandstats\r\n";
    const auto& table = AllCommands();
    for (size_t i = 0; i < table.size(); i++) {
      const CommandStats& cs = srv.command_stats(i);
      const uint64_t calls = cs.calls;
      if (calls == 0 && cs.rejected.load() == 0) continue;
      char line[256];
      std::snprintf(line, sizeof line,
                    "calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                    (unsigned long long)calls, (unsigned long long)(cs.nanos.load() / 1000),
                    calls ? double(cs.nanos.load()) / 1000.0 / double(calls) : 0.0,
                    (unsigned long long)cs.rejected.load(), (unsigned long long)cs.errors.load());
      AppendInfoLine(&s, std::string("cmdstat_") + table[i].name, line);
    }
    s += "\r\n";
  }
  if (want("keyspace")) {
    s += "# Keyspace\r\n";
    if (st.live_keys > 0) {
      AppendInfoLine(&s, "db0", "keys=" + std::to_string(st.live_keys) +
                                    ",expires=" + std::to_string(st.expiring_keys) +
                                    ",avg_ttl=" + std::to_string(st.avg_ttl_ms));
    }
    s += "\r\n";
  }
  reply::Bulk(c.out, s);
}

}  // namespace

std::span<const CommandSpec> InfoCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
    {"info", -1, 0, 0, 0, 0, Info},
  };
  return kRows;
}

}  // namespace bitcask::server
