#include "server/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "bitcask/version.h"
#include "server/dispatch.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

constexpr InfoSection kSections[] = {
    {"server", "Server", true},   {"clients", "Clients", true},
    {"memory", "Memory", true},   {"persistence", "Persistence", true},
    {"stats", "Stats", true},     {"replication", "Replication", true},
    {"cpu", "CPU", true},         {"commandstats", "Commandstats", false},
    {"cluster", "Cluster", true}, {"keyspace", "Keyspace", true},
};

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

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double CpuSeconds(const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; }

// Builders for the figures of one section.
class Section {
 public:
  Section(const char* name, const std::function<void(const Figure&)>& emit)
      : name_(name), emit_(emit) {}

  // A number both print.
  void Number(std::string_view info, const char* metric, const char* type, const char* help,
              double value, std::string text) {
    emit_(Figure{name_, info, metric, type, help, std::move(text), value});
  }
  void Count(std::string_view info, const char* metric, const char* help, uint64_t n) {
    Number(info, metric, "counter", help, double(n), std::to_string(n));
  }
  void Gauge(std::string_view info, const char* metric, const char* help, uint64_t n) {
    Number(info, metric, "gauge", help, double(n), std::to_string(n));
  }
  // Text only INFO shows.
  void Text(std::string_view info, std::string text) {
    emit_(Figure{name_, info, nullptr, "gauge", "", std::move(text), 0});
  }
  void Emit(const Figure& f) { emit_(f); }

 private:
  const char* name_;
  const std::function<void(const Figure&)>& emit_;
};

}  // namespace

std::span<const InfoSection> InfoSections() { return kSections; }

Status CollectFigures(ServerState& srv, const std::function<bool(std::string_view)>& want,
                      const std::function<void(const Figure&)>& emit) {
  const ServerConfig cfg = srv.config();
  Stats st;
  const Status stats_status = srv.db().GetStats(&st);
  const bool have_stats = stats_status.ok();
  const int64_t uptime_ms = NowUnixMillis() - srv.start_unix_ms;
  auto wanted = [&](const char* s) { return !want || want(s); };

  if (wanted("server")) {
    Section s("server", emit);
    s.Text("redis_version", BITCASK_REDIS_VERSION);
    s.Text("bitcask_version", BITCASK_VERSION);
    s.Text("redis_mode", srv.cluster().enabled() ? "cluster" : "standalone");
    s.Text("os", "Linux");
    s.Text("arch_bits", "64");
    s.Text("process_id", std::to_string(getpid()));
    s.Text("run_id", srv.replication().run_id());
    s.Text("tcp_port", std::to_string(srv.bound_port));
    s.Number("uptime_in_seconds", "bitcask_uptime_seconds", "gauge",
             "Seconds since the server started.", double(uptime_ms) / 1000.0,
             std::to_string(uptime_ms / 1000));
    s.Text("uptime_in_days", std::to_string(uptime_ms / 1000 / 86400));
  }
  if (wanted("clients")) {
    Section s("clients", emit);
    s.Gauge("connected_clients", "bitcask_connected_clients", "Open client connections.",
            srv.connected_clients.load());
    s.Text("maxclients", std::to_string(cfg.maxclients));
    s.Gauge("blocked_clients", "bitcask_blocked_clients",
            "Clients waiting for a command that runs off the event loop (CHECKPOINT).",
            srv.blocked_clients.load());
  }
  if (wanted("memory")) {
    // used_memory: what the server itself holds in memory (Redis: what its allocator holds).
    // The mapped data files' pages are page cache, counted apart: the kernel can drop them.
    Section s("memory", emit);
    const Resident resident = ReadResident();
    s.Gauge("used_memory", "bitcask_resident_anonymous_bytes",
            "Resident memory of the process but mapped files (heap, key directory, buffers).",
            resident.anon);
    s.Text("used_memory_human", HumanBytes(resident.anon));
    s.Gauge("used_memory_rss", "bitcask_resident_bytes", "Resident memory of the process.",
            resident.all);
    s.Text("used_memory_rss_human", HumanBytes(resident.all));
    s.Text("maxmemory", "0");
    s.Text("maxmemory_human", "0B");
    s.Text("maxmemory_policy", "noeviction");
    if (have_stats) {
      s.Gauge("keydir_bytes", "bitcask_keydir_bytes", "Memory of the key directory.",
              st.keydir_bytes);
    }
    s.Gauge("bitcask_mapped_file_rss", "bitcask_resident_mapped_file_bytes",
            "Pages of the data files in memory (page cache, which the kernel can drop).",
            resident.file);
  }
  if (wanted("persistence")) {
    Section s("persistence", emit);
    s.Text("loading", "0");
    s.Text("aof_enabled", "1");
    s.Text("aof_rewrite_in_progress", srv.background_running() ? "1" : "0");
    if (have_stats) {
      // Redis's field for "did the last rewrite work", which monitoring already watches: here
      // the last merge, automatic ones included.
      s.Text("aof_last_bgrewrite_status", st.last_merge_error.empty() ? "ok" : "err");
      // Redis's field for a failed append or fsync: here a failed flush, after which every
      // write is refused until a restart (bitcask_write_error says why).
      s.Text("aof_last_write_status", st.write_error.empty() ? "ok" : "err");
      s.Text("bitcask_write_error", st.write_error);
    }
    s.Text("last_save_time", std::to_string(srv.last_save_unix.load()));
    s.Text("last_background_job", srv.background_last());
    s.Text("appendfsync", cfg.appendfsync);
    if (have_stats) {
      s.Gauge("bitcask_data_files", "bitcask_data_files", "Data files.", st.data_files);
      s.Gauge("bitcask_total_bytes", "bitcask_data_bytes", "Bytes in data files.", st.total_bytes);
      s.Gauge("bitcask_dead_bytes", "bitcask_dead_bytes", "Bytes a merge would reclaim.",
              st.dead_bytes);
      const double frag = st.total_bytes ? double(st.dead_bytes) / double(st.total_bytes) : 0.0;
      s.Number("bitcask_fragmentation", "bitcask_fragmentation_ratio", "gauge",
               "Dead bytes / all bytes.", frag, Fixed(frag, 4));
      s.Count("bitcask_merges", "bitcask_merges_total", "Merges completed.", st.merges);
      s.Number("bitcask_merge_seconds", "bitcask_merge_seconds_total", "counter",
               "Time spent merging.", st.merge_micros / 1e6, Fixed(st.merge_micros / 1e6, 6));
      s.Count("bitcask_merge_bytes_reclaimed", "bitcask_merge_reclaimed_bytes_total",
              "Bytes merges gave back.", st.merge_bytes_reclaimed);
      s.Count("bitcask_merge_failures", "bitcask_merge_failures_total",
              "Merges that stopped with an error (a full disk, most often).", st.merge_failures);
      s.Text("bitcask_last_merge_error", st.last_merge_error);
      s.Count("bitcask_syncs", "bitcask_syncs_total", "Flushes to stable storage.", st.syncs);
      s.Number("bitcask_open_seconds", "bitcask_open_seconds", "gauge",
               "Time the store took to open.", st.open_micros / 1e6,
               Fixed(st.open_micros / 1e6, 6));
    }
  }
  if (wanted("stats")) {
    Section s("stats", emit);
    s.Count("total_connections_received", "bitcask_connections_total", "Connections accepted.",
            srv.total_connections.load());
    s.Count("total_commands_processed", "bitcask_commands_processed_total", "Commands processed.",
            srv.total_commands.load());
    s.Count("rejected_connections", "bitcask_rejected_connections_total",
            "Connections refused (maxclients).", srv.rejected_connections.load());
    s.Count("keyspace_hits", "bitcask_keyspace_hits_total", "Reads that found their key.",
            srv.keyspace_hits.load());
    s.Count("keyspace_misses", "bitcask_keyspace_misses_total", "Reads that did not.",
            srv.keyspace_misses.load());
    uint64_t errors = 0;
    for (size_t i = 0; i < srv.command_count(); i++) errors += srv.command_stats(i).errors;
    s.Count("total_error_replies", "bitcask_error_replies_total", "Error replies.", errors);
    s.Count("acl_access_denied_auth", "bitcask_auth_failures_total",
            "AUTH, HELLO AUTH and HTTP requests with wrong credentials.", srv.auth_failures.load());
    s.Count("", "bitcask_protocol_errors_total", "Malformed requests.", srv.protocol_errors.load());
    if (have_stats) {
      s.Count("bitcask_puts", "bitcask_puts_total", "Puts by the engine.", st.puts);
      s.Count("bitcask_gets", "bitcask_gets_total", "Gets by the engine.", st.gets);
      s.Count("bitcask_deletes", "bitcask_deletes_total", "Deletes by the engine.", st.deletes);
      const std::pair<const char*, const LatencyStats*> ops[] = {{"get", &st.get_latency},
                                                                 {"put", &st.put_latency},
                                                                 {"delete", &st.delete_latency},
                                                                 {"batch", &st.batch_latency}};
      for (const auto& [op, l] : ops) {
        char text[160];
        std::snprintf(text, sizeof text, "p50=%.2f,p99=%.2f,p999=%.2f", l->p50_us, l->p99_us,
                      l->p999_us);
        const std::string info = std::string("bitcask_") + op + "_latency_us";
        const std::string labels = std::string("op=\"") + op + "\"";
        s.Emit(Figure{"stats", info, "bitcask_engine_latency_seconds", "summary",
                      "Engine latency by operation (sampled).", text, 0, labels, l});
      }
    }
  }
  if (wanted("replication")) {
    // Replication's own lines, in Redis 7.0's order (Sentinel reads some of them).
    Section s("replication", emit);
    std::istringstream lines(srv.replication().InfoSection());
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      if (name == "connected_slaves") {
        s.Gauge(name, "bitcask_connected_replicas", "Replicas attached.", std::stoull(value));
      } else if (name == "master_repl_offset") {
        s.Gauge(name, "bitcask_repl_offset", "Bytes of the replication stream so far.",
                std::stoull(value));
      } else {
        s.Text(name, value);
      }
    }
    s.Gauge("", "bitcask_replica", "1 if this server is a replica.",
            srv.replication().is_replica() ? 1 : 0);
  }
  if (wanted("cpu")) {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    Section s("cpu", emit);
    s.Number("used_cpu_sys", "bitcask_cpu_system_seconds_total", "counter",
             "CPU time in the kernel.", CpuSeconds(ru.ru_stime), Fixed(CpuSeconds(ru.ru_stime), 6));
    s.Number("used_cpu_user", "bitcask_cpu_user_seconds_total", "counter",
             "CPU time in the process.", CpuSeconds(ru.ru_utime),
             Fixed(CpuSeconds(ru.ru_utime), 6));
  }
  if (wanted("commandstats")) {
    Section s("commandstats", emit);
    const auto& table = AllCommands();
    for (size_t i = 0; i < table.size(); i++) {
      const CommandStats& cs = srv.command_stats(i);
      const uint64_t calls = cs.calls;
      if (calls == 0 && cs.rejected.load() == 0) continue;
      char stats[256];
      std::snprintf(stats, sizeof stats,
                    "calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                    (unsigned long long)calls, (unsigned long long)(cs.nanos.load() / 1000),
                    calls ? double(cs.nanos.load()) / 1000.0 / double(calls) : 0.0,
                    (unsigned long long)cs.rejected.load(), (unsigned long long)cs.errors.load());
      s.Text(std::string("cmdstat_") + table[i].name, stats);
    }
  }
  if (wanted("cluster")) {
    Section s("cluster", emit);
    s.Text("cluster_enabled", srv.cluster().enabled() ? "1" : "0");
  }
  if (wanted("keyspace") && have_stats) {
    Section s("keyspace", emit);
    const std::string db0 = "keys=" + std::to_string(st.live_keys) +
                            ",expires=" + std::to_string(st.expiring_keys) +
                            ",avg_ttl=" + std::to_string(st.avg_ttl_ms);
    // Redis lists a database only once it has keys.
    s.Number(st.live_keys > 0 ? "db0" : "", "bitcask_keys", "gauge", "Live keys.",
             double(st.live_keys), db0);
    s.Gauge("", "bitcask_expiring_keys", "Live keys with an expiry.", st.expiring_keys);
  }
  return stats_status;
}

Status InfoText(ServerState& server, const std::vector<std::string>& wanted, std::string* out) {
  auto asked = [&](std::string_view w) { return std::count(wanted.begin(), wanted.end(), w) > 0; };
  const bool everything = asked("all") || asked("everything");
  const bool defaults = wanted.empty() || asked("default");
  std::map<std::string, std::string, std::less<>> lines;  // by section
  for (const InfoSection& s : kSections) {
    if (everything || asked(s.name) || (defaults && s.by_default)) lines[s.name];
  }
  const Status s = CollectFigures(
      server, [&](std::string_view section) { return lines.count(section) > 0; },
      [&](const Figure& f) {
        if (f.info.empty()) return;
        std::string& text = lines[f.section];
        text.append(f.info);
        text.push_back(':');
        // One line per field, whatever a value holds (an error message naming a path, say).
        for (char c : f.text) text.push_back(c == '\r' || c == '\n' ? ' ' : c);
        text.append("\r\n");
      });
  if (!s.ok()) return s;
  out->clear();
  for (const InfoSection& section : kSections) {
    auto it = lines.find(section.name);
    if (it == lines.end()) continue;
    *out += std::string("# ") + section.title + "\r\n" + it->second + "\r\n";
  }
  return Status::OK();
}

namespace {

void AppendValue(std::string* out, const std::string& name_and_labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", v);
  *out += name_and_labels + buf;
}

void AppendHeader(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void AppendSummary(std::string* out, const std::string& name, const std::string& labels,
                   const LatencyStats& l) {
  const std::string sep = labels.empty() ? "" : ",";
  AppendValue(out, name + "{" + labels + sep + "quantile=\"0.5\"}", l.p50_us / 1e6);
  AppendValue(out, name + "{" + labels + sep + "quantile=\"0.99\"}", l.p99_us / 1e6);
  AppendValue(out, name + "{" + labels + sep + "quantile=\"0.999\"}", l.p999_us / 1e6);
  AppendValue(out, name + "_count{" + labels + "}", double(l.samples));
}

}  // namespace

std::string PrometheusMetrics(ServerState& server) {
  std::string out;
  const auto& table = AllCommands();
  // Per command: calls, errors, refusals, time.
  const struct {
    const char* name;
    const char* help;
    Counter CommandStats::*counter;
  } per_command[] = {
      {"bitcask_commands_total", "Commands processed, by command.", &CommandStats::calls},
      {"bitcask_command_errors_total", "Error replies, by command.", &CommandStats::errors},
      {"bitcask_command_rejected_total",
       "Commands refused before running (wrong arity, not authenticated), by command.",
       &CommandStats::rejected},
  };
  for (const auto& family : per_command) {
    AppendHeader(&out, family.name, "counter", family.help);
    for (size_t i = 0; i < table.size(); i++) {
      AppendValue(&out, std::string(family.name) + "{command=\"" + table[i].name + "\"}",
                  double((server.command_stats(i).*family.counter).load()));
    }
  }
  AppendHeader(&out, "bitcask_command_duration_seconds", "summary",
               "Time to run a command (the server's side, without the network), by command.");
  for (size_t i = 0; i < table.size(); i++) {
    if (server.command_stats(i).calls == 0) continue;
    AppendSummary(&out, "bitcask_command_duration_seconds",
                  std::string("command=\"") + table[i].name + "\"",
                  server.command_stats(i).latency.Summary());
  }
  // Everything INFO reports that has a metric name (a family's header once).
  std::string_view last;
  (void)CollectFigures(server, nullptr, [&](const Figure& f) {
    if (f.metric == nullptr) return;
    if (last != f.metric) AppendHeader(&out, f.metric, f.type, f.help);
    last = f.metric;
    if (f.summary != nullptr) {
      AppendSummary(&out, f.metric, std::string(f.labels), *f.summary);
    } else {
      AppendValue(&out,
                  f.labels.empty() ? std::string(f.metric)
                                   : std::string(f.metric) + "{" + std::string(f.labels) + "}",
                  f.value);
    }
  });
  return out;
}

}  // namespace bitcask::server
