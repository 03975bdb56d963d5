// Figures for the engine's features, printed as Markdown:
//
//   feature_bench [--quick] [--dir DIR] [--out FILE.md]
//
//   open         Open time for 1M and 10M keys (V=100) from hint files and from data files
//                (--quick: 1M only), page cache warm.
//   merge        get and put latency (p50/p99/p999) while a merge runs, against the same
//                load without a merge.
//   index        random get before and after the ordered index exists; scan speed.
//   compression  JSON documents: bytes on disk, put and get time for none, lz4, zstd.
//   memory       keydir bytes per key at 10M keys of 16 bytes (--quick: 1M).
//   multiget     random gets one by one against MultiGet in groups, 1M keys (--quick: 100k).
//   flush        puts with SyncMode::kAlways from 1, 8 and 64 threads: time, flushes and bytes
//                on disk per put (each flush is followed by a sync mark), beside the floor
//                (write + fdatasync) measured in the same run.
//   space        disk use while one thread overwrites 1M keys at random for 20 s (--quick:
//                10 s) with the default options (automatic merges), against the live data.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "bitcask/db.h"

namespace bitcask::bench {
namespace {

std::unique_ptr<DB> OpenOrDie(const Options& o, const std::string& dir) {
  std::unique_ptr<DB> db;
  if (Status s = DB::Open(o, dir, &db); !s.ok()) Die("open", s);
  return db;
}

void Load(DB* db, size_t n, size_t v, uint64_t seed) {
  const std::string pool = RandomBytes((size_t{4} << 20) + v, seed);
  WriteBatch batch;
  for (size_t i = 0; i < n; i++) {
    batch.Put(Key(i), std::string_view(pool).substr((i * 7919) % (pool.size() - v), v));
    if (batch.Count() == 1000 || i + 1 == n) {
      if (Status s = db->Write(batch); !s.ok()) Die("write", s);
      batch.Clear();
    }
  }
}

uint64_t RemoveHints(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".hint") n += std::filesystem::remove(e.path());
  }
  return n;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// ---- open ---------------------------------------------------------------------------------

std::string OpenSection(const std::string& dir, const std::vector<size_t>& sizes) {
  std::ostringstream md;
  md << "### Open time (V=100, page cache warm)\n\n"
     << "| keys | data files | from hint files | from data files only | speed-up |\n"
     << "|--:|--:|--:|--:|--:|\n";
  for (size_t n : sizes) {
    const std::string d = dir + "/open";
    std::filesystem::remove_all(d);
    {
      Options o;
      o.auto_merge = false;
      auto db = OpenOrDie(o, d);
      Load(db.get(), n, 100, 1);
    }  // Close writes the hints (the background thread writes those of sealed files)
    Options o;
    o.auto_merge = false;
    Stats with, without;
    {
      auto db = OpenOrDie(o, d);  // first open warms the page cache for both runs
    }
    {
      auto db = OpenOrDie(o, d);
      Must(db->GetStats(&with), "stats");
      if (with.files_loaded_from_hints != with.data_files) {
        std::fprintf(stderr, "open: only %llu of %llu files had hints\n",
                     (unsigned long long)with.files_loaded_from_hints,
                     (unsigned long long)with.data_files);
      }
    }
    RemoveHints(d);
    {
      Options no_bg = o;
      auto db = OpenOrDie(no_bg, d);
      Must(db->GetStats(&without), "stats");
      Must(db->Close(), "close");  // (re-creates hints; irrelevant now)
    }
    char row[256];
    std::snprintf(row, sizeof row, "| %zu | %llu | %.0f ms | %.0f ms | %.1fx |\n", n,
                  (unsigned long long)with.data_files, with.open_micros / 1000.0,
                  without.open_micros / 1000.0, double(without.open_micros) / with.open_micros);
    md << row;
    std::printf("%s", row);
    std::filesystem::remove_all(d);
  }
  return md.str();
}

// ---- merge --------------------------------------------------------------------------------

struct Latencies {
  std::vector<double> get, put;
};

// Gets and puts (9:1) against n keys for `seconds`, timing every operation.
Latencies Traffic(DB* db, size_t n, double seconds, const std::atomic<bool>* until) {
  Latencies l;
  std::mt19937_64 rng(3);
  std::string v;
  const std::string value(100, 'u');
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (until != nullptr ? !until->load() : std::chrono::steady_clock::now() < end) {
    const std::string key = Key(rng() % n);
    const bool put = rng() % 10 == 0;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = put ? db->Put(key, value) : db->Get(key, &v);
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) Die("traffic", s);
    (put ? l.put : l.get).push_back(us);
  }
  return l;
}

std::string MergeSection(const std::string& dir, size_t n) {
  const std::string d = dir + "/merge";
  std::filesystem::remove_all(d);
  Options o;
  o.auto_merge = false;
  o.max_file_size = 64 << 20;
  auto db = OpenOrDie(o, d);
  for (int round = 0; round < 3; round++) Load(db.get(), n, 100, 10 + round);  // 2/3 garbage
  Stats before;
  Must(db->GetStats(&before), "stats");
  const Latencies base = Traffic(db.get(), n, 3.0, nullptr);
  std::atomic<bool> done{false};
  double merge_seconds = 0;
  std::thread merger([&] {
    const auto t0 = std::chrono::steady_clock::now();
    if (Status s = db->Merge(); !s.ok()) Die("merge", s);
    merge_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    done = true;
  });
  const Latencies during = Traffic(db.get(), n, 0, &done);
  merger.join();
  Stats after;
  Must(db->GetStats(&after), "stats");
  std::ostringstream md;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "### Latency while a merge runs\n\n%zu keys (V=100) written three times: %.0f MiB "
                "in %llu files, %.0f%% dead. One thread runs 90%% gets / 10%% puts on random "
                "keys, timing each; another merges (%.1f s, %.0f MiB reclaimed). Microseconds.\n\n"
                "| | get p50 | get p99 | get p99.9 | put p50 | put p99 | put p99.9 | ops |\n"
                "|---|--:|--:|--:|--:|--:|--:|--:|\n",
                n, before.total_bytes / 1048576.0, (unsigned long long)before.data_files,
                100.0 * before.dead_bytes / before.total_bytes, merge_seconds,
                after.merge_bytes_reclaimed / 1048576.0);
  md << buf;
  for (const auto& [label, l] : {std::pair<const char*, const Latencies&>{"no merge (3 s)", base},
                                 {"during the merge", during}}) {
    std::snprintf(buf, sizeof buf, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %zu |\n",
                  label, Percentile(l.get, 0.5), Percentile(l.get, 0.99), Percentile(l.get, 0.999),
                  Percentile(l.put, 0.5), Percentile(l.put, 0.99), Percentile(l.put, 0.999),
                  l.get.size() + l.put.size());
    md << buf;
  }
  std::printf("%s", md.str().c_str());
  db.reset();
  std::filesystem::remove_all(d);
  return md.str();
}

// ---- space --------------------------------------------------------------------------------

std::string SpaceSection(const std::string& dir, size_t n, double seconds) {
  const std::string d = dir + "/space";
  std::filesystem::remove_all(d);
  const Options defaults;  // automatic merges, as a user gets them
  auto db = OpenOrDie(defaults, d);
  const std::string pool = RandomBytes((size_t{4} << 20) + 500, 21);
  std::mt19937_64 rng(5);
  uint64_t bytes_put = 0;
  auto put = [&](size_t key) {
    const uint64_t r = rng();
    const size_t v = 100 + (r >> 32) % 401;  // 100-500 bytes
    const std::string_view value = std::string_view(pool).substr((r >> 8) % (pool.size() - v), v);
    if (Status s = db->Put(Key(key), value); !s.ok()) Die("put", s);
    bytes_put += v;
  };
  for (size_t i = 0; i < n; i++) put(i);
  Stats st;
  Must(db->GetStats(&st), "stats");
  const uint64_t merges_before = st.merges;
  bytes_put = 0;
  uint64_t puts = 0, samples = 0, sum = 0, peak = 0;
  const auto start = std::chrono::steady_clock::now();
  auto next_sample = start;
  while (true) {
    for (int i = 0; i < 1000; i++) put(rng() % n);
    puts += 1000;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_sample) continue;
    const uint64_t bytes = DirBytes(d);
    sum += bytes;
    peak = std::max(peak, bytes);
    samples++;
    next_sample = now + std::chrono::milliseconds(100);
    if (now - start >= std::chrono::duration<double>(seconds)) break;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Must(db->GetStats(&st), "stats");
  constexpr double kMiB = 1048576.0;
  const double live = static_cast<double>(st.total_bytes - st.dead_bytes);
  const double mean = static_cast<double>(sum) / static_cast<double>(samples);
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "### Disk space under overwrites\n\n%zu keys (values of 100-500 bytes; %.0f MiB "
                "of live records at the end) overwritten at random by one thread for %.0f s "
                "with the default options (%.0f MiB files, automatic merges): %llu puts, %.0f "
                "MiB of values, %llu merges. Disk use, sampled every 100 ms: %.0f MiB on "
                "average (%.1fx the live records), %.0f MiB at the peak (%.1fx), %.0f MiB at "
                "the end. The merge triggers are checked when a file fills up, not only every "
                "%.0f s (merge_check_interval_ms).\n",
                n, live / kMiB, elapsed, static_cast<double>(defaults.max_file_size) / kMiB,
                static_cast<unsigned long long>(puts), static_cast<double>(bytes_put) / kMiB,
                static_cast<unsigned long long>(st.merges - merges_before), mean / kMiB,
                mean / live, static_cast<double>(peak) / kMiB, static_cast<double>(peak) / live,
                static_cast<double>(DirBytes(d)) / kMiB, defaults.merge_check_interval_ms / 1000.0);
  std::printf("%s", buf);
  db.reset();
  std::filesystem::remove_all(d);
  return buf;
}

// ---- ordered index ------------------------------------------------------------------------

std::string IndexSection(const std::string& dir, size_t n) {
  const std::string d = dir + "/index";
  std::filesystem::remove_all(d);
  Options o;
  o.auto_merge = false;
  auto db = OpenOrDie(o, d);
  Load(db.get(), n, 100, 4);
  std::vector<std::string> keys(n);
  for (size_t i = 0; i < n; i++) keys[i] = Key(i);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; i++) order[i] = (i * 2654435761u) % n;
  std::string v;
  auto random_gets = [&] {
    Timer t;
    for (size_t i = 0; i < n; i++) {
      if (Status s = db->Get(keys[order[i]], &v); !s.ok()) Die("get", s);
    }
    return t.MicrosPer(n);
  };
  Stats s0;
  Must(db->GetStats(&s0), "stats");
  auto median_of_5 = [&] {
    std::vector<double> xs;
    for (int i = 0; i < 5; i++) xs.push_back(random_gets());
    std::sort(xs.begin(), xs.end());
    return xs[2];
  };
  const double before = median_of_5();
  Timer build;
  {
    auto it = db->NewIterator();
    it->SeekToFirst();  // builds the index
  }
  const double build_ms = build.Seconds() * 1000;
  Stats s1;
  Must(db->GetStats(&s1), "stats");
  const double after = median_of_5();
  // Scans: a full walk, and prefix scans of 100 keys each.
  Timer full;
  size_t walked = 0;
  {
    auto it = db->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) walked++;
  }
  const double full_us = full.MicrosPer(walked);
  Timer pref;
  const int scans = 1000;
  size_t got = 0;
  for (int i = 0; i < scans; i++) {
    IteratorOptions io;
    io.prefix = Key((i * 7919) % n).substr(0, 14);  // 100 keys share 14 of 16 bytes
    auto it = db->NewIterator(io);
    for (it->SeekToFirst(); it->Valid(); it->Next()) got++;
  }
  const double prefix_us = pref.MicrosPer(scans);
  std::ostringstream md;
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "### Ordered index\n\n%zu keys (V=100). The index is built by the first scan "
                "(%.0f ms here); gets never touch it. Random get, median of 5 passes over all "
                "keys: %.3f µs before it exists, %.3f µs after (%+.1f%%). It adds %.1f bytes per "
                "key to the keydir (%.1f -> %.1f). "
                "A full ordered walk costs %.3f µs per key; a prefix scan returning 100 keys "
                "%.0f µs (%zu keys in %d scans).\n",
                n, build_ms, before, after, 100.0 * (after - before) / before,
                double(s1.keydir_bytes - s0.keydir_bytes) / n, double(s0.keydir_bytes) / n,
                double(s1.keydir_bytes) / n, full_us, prefix_us, got, scans);
  md << buf;
  std::printf("%s", md.str().c_str());
  db.reset();
  std::filesystem::remove_all(d);
  return md.str();
}

// ---- multiget -----------------------------------------------------------------------------

std::string MultiGetSection(const std::string& dir, size_t n) {
  const std::string d = dir + "/multiget";
  std::filesystem::remove_all(d);
  Options o;
  o.auto_merge = false;
  auto db = OpenOrDie(o, d);
  Load(db.get(), n, 100, 5);
  std::vector<std::string> keys(n);
  for (size_t i = 0; i < n; i++) keys[i] = Key((i * 2654435761u) % n);  // random order
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::string v;
  auto one_by_one = [&] {
    Timer t;
    for (size_t i = 0; i < n; i++) {
      if (Status s = db->Get(views[i], &v); !s.ok()) Die("get", s);
    }
    return t.MicrosPer(n);
  };
  auto batched = [&](size_t group) {
    std::vector<std::string> values(group);
    std::vector<Status> statuses(group);
    Timer t;
    for (size_t i = 0; i < n; i += group) {
      const size_t m = std::min(group, n - i);
      db->MultiGet(std::span(views).subspan(i, m), std::span(values).first(m),
                   std::span(statuses).first(m));
      for (size_t j = 0; j < m; j++) {
        if (!statuses[j].ok()) Die("multiget", statuses[j]);
      }
    }
    return t.MicrosPer(n);
  };
  auto median_of_5 = [](const auto& f) {
    std::vector<double> xs;
    for (int i = 0; i < 5; i++) xs.push_back(f());
    std::sort(xs.begin(), xs.end());
    return xs[2];
  };
  const double single = median_of_5(one_by_one);
  const double g16 = median_of_5([&] { return batched(16); });
  const double g100 = median_of_5([&] { return batched(100); });
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "### MultiGet\n\n%zu keys (V=100), all read once in random order, median of 5 "
                "passes. One Get per key: %.3f µs per key. MultiGet of 16 keys: %.3f µs per key "
                "(%.2fx); of 100 keys: %.3f µs per key (%.2fx).\n",
                n, single, g16, single / g16, g100, single / g100);
  std::printf("%s", buf);
  db.reset();
  std::filesystem::remove_all(d);
  return buf;
}

// ---- compression --------------------------------------------------------------------------

// A sensor report of about 1 KB: a header and a few dozen readings, the shape IoT stores hold.
std::string Json(size_t i) {
  std::mt19937 rng(static_cast<uint32_t>(i));
  std::string doc = "{\"device_id\": \"sensor-" + std::to_string(i % 5000) +
                    "\", \"site\": \"building-" + std::to_string(rng() % 5) +
                    "\", \"firmware\": \"2." + std::to_string(rng() % 10) + "\", \"status\": \"" +
                    (rng() % 10 ? "ok" : "degraded") + "\", \"readings\": [";
  for (int r = 0; r < 12; r++) {
    char buf[96];
    std::snprintf(buf, sizeof buf,
                  "%s{\"t\": %zu, \"temperature\": %.2f, \"humidity\": %d, \"battery\": %d}",
                  r ? ", " : "", 1700000000 + i * 60 + r * 5, 15 + double(rng() % 2000) / 100,
                  static_cast<int>(rng() % 100), static_cast<int>(rng() % 100));
    doc += buf;
  }
  return doc + "]}";
}

std::string CompressionSection(const std::string& dir, size_t n) {
  std::vector<std::string> docs(n);
  uint64_t raw = 0;
  for (size_t i = 0; i < n; i++) {
    docs[i] = Json(i);
    raw += docs[i].size() + 16;
  }
  std::ostringstream md;
  md << "### Compression of JSON documents\n\n"
     << n << " IoT sensor documents of about " << raw / n - 16
     << " bytes (compression_min_bytes = 256, zstd level 1).\n\n"
     << "| codec | bytes on disk | ratio | put µs | get µs |\n|---|--:|--:|--:|--:|\n";
  for (const auto& [name, c] : {std::pair<const char*, Compression>{"none", Compression::kNone},
                                {"lz4", Compression::kLz4},
                                {"zstd", Compression::kZstd}}) {
    const std::string d = dir + "/compression";
    std::filesystem::remove_all(d);
    Options o;
    o.compression = c;
    o.auto_merge = false;
    auto db = OpenOrDie(o, d);
    Timer t;
    for (size_t i = 0; i < n; i++) {
      if (Status s = db->Put(Key(i), docs[i]); !s.ok()) Die("put", s);
    }
    const double put_us = t.MicrosPer(n);
    std::string v;
    t.Reset();
    for (size_t i = 0; i < n; i++) {
      if (Status s = db->Get(Key((i * 7919) % n), &v); !s.ok()) Die("get", s);
    }
    const double get_us = t.MicrosPer(n);
    Stats st;
    Must(db->GetStats(&st), "stats");
    char row[256];
    std::snprintf(row, sizeof row, "| %s | %.1f MiB | %.2fx | %.2f | %.2f |\n", name,
                  st.total_bytes / 1048576.0, double(raw) / st.total_bytes, put_us, get_us);
    md << row;
    db.reset();
    std::filesystem::remove_all(d);
  }
  std::printf("%s", md.str().c_str());
  return md.str();
}

// ---- flush ---------------------------------------------------------------------------------

// The floor a flushed put cannot go under: write 178 bytes (a record and a sync mark) into an
// allocated file and fdatasync it, one after the other; microseconds per flush.
double FlushFloorMicros(const std::string& dir, size_t flushes) {
  const std::string path = dir + "/floor";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) Die("open", Status::IOError(path + ": " + std::strerror(errno)));
  const std::string bytes(178, 'f');
  // Allocated and flushed ahead, as the store's files are: a flush writes data, not the size.
  if (::posix_fallocate(fd, 0, off_t(flushes * bytes.size())) != 0 || ::fsync(fd) != 0) {
    Die("fallocate", Status::IOError(path));
  }
  Timer t;
  for (size_t i = 0; i < flushes; i++) {
    const off_t at = off_t(i * bytes.size());
    if (::pwrite(fd, bytes.data(), bytes.size(), at) != ssize_t(bytes.size()) ||
        ::fdatasync(fd) != 0) {
      Die("write + fdatasync", Status::IOError(path + ": " + std::strerror(errno)));
    }
  }
  const double us = t.MicrosPer(flushes);
  ::close(fd);
  std::filesystem::remove(path);
  return us;
}

std::string FlushSection(const std::string& dir, size_t puts) {
  const double floor = FlushFloorMicros(dir, std::max<size_t>(200, puts / 20));
  std::ostringstream md;
  md << "### Flushed writes (SyncMode::kAlways)\n\n"
     << puts << " puts (V=100) acknowledged only once flushed with `fdatasync`; writers share "
     << "flushes (group commit). Bytes on disk per put include the record (143 bytes), and the "
     << "sync mark (35 bytes) written after each flush. The floor, measured in the same run: "
     << "one `pwrite` of 178 bytes into an allocated file + `fdatasync` takes " << std::fixed
     << std::setprecision(1) << floor
     << " us, so T writers sharing every flush would pay floor / T per put.\n\n"
     << "| threads | us per put | floor / threads | flushes per put | puts per flush | bytes on "
        "disk per put |\n|--:|--:|--:|--:|--:|--:|\n";
  for (const size_t threads : {size_t{1}, size_t{8}, size_t{64}}) {
    const std::string d = dir + "/flush";
    std::filesystem::remove_all(d);
    Options o;
    o.sync_mode = SyncMode::kAlways;
    o.auto_merge = false;
    auto db = OpenOrDie(o, d);
    const std::string value(100, 'v');
    Timer t;
    std::vector<std::thread> workers;
    for (size_t w = 0; w < threads; w++) {
      workers.emplace_back([&, w] {
        for (size_t i = w; i < puts; i += threads) {
          if (Status s = db->Put(Key(i), value); !s.ok()) Die("put", s);
        }
      });
    }
    for (auto& w : workers) w.join();
    const double us = t.MicrosPer(puts);
    Stats st;
    Must(db->GetStats(&st), "stats");
    char row[200];
    std::snprintf(row, sizeof row, "| %zu | %.1f | %.1f | %.3f | %.1f | %.1f |\n", threads, us,
                  floor / double(threads), double(st.syncs) / puts, double(puts) / st.syncs,
                  double(st.total_bytes - 16) / puts);
    md << row;
    db.reset();
    std::filesystem::remove_all(d);
  }
  std::printf("%s", md.str().c_str());
  return md.str();
}

// ---- memory -------------------------------------------------------------------------------

uint64_t RssAnon() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10) * 1024;
  }
  return 0;
}

std::string MemorySection(const std::string& dir, size_t n) {
  const std::string d = dir + "/memory";
  std::filesystem::remove_all(d);
  Options o;
  o.auto_merge = false;
  const uint64_t before = RssAnon();
  auto db = OpenOrDie(o, d);
  Load(db.get(), n, 100, 6);
  const uint64_t after = RssAnon();
  Stats st;
  Must(db->GetStats(&st), "stats");
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "### Key directory memory\n\n%zu keys of 16 bytes (V=100): the keydir holds "
                "%.1f bytes per key, %.1f beyond the key bytes; the process heap grew by %.1f "
                "bytes per key. Riak's documentation puts its keydir at about 40 bytes of "
                "overhead per key plus the key (\"static bitcask per-key overhead\").\n",
                n, double(st.keydir_bytes) / n, double(st.keydir_bytes) / n - 16,
                double(after - before) / n);
  std::printf("%s", buf);
  db.reset();
  std::filesystem::remove_all(d);
  return buf;
}

}  // namespace
}  // namespace bitcask::bench

int main(int argc, char** argv) {
  using namespace bitcask::bench;
  bool quick = false;
  std::string dir = "/tmp/bitcask-feature-bench", out, only;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--out" && i + 1 < argc)
      out = argv[++i];
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--dir DIR] [--out FILE] "
                   "[--only memory|open|merge|index|compression|multiget|flush|space]\n",
                   argv[0]);
      return 2;
    }
  }
  std::filesystem::create_directories(dir);
  std::string md =
      "## Engine features\n\n" +
      bitcask::bench::MeasuredLine("./build/bench/feature_bench" +
                                   (only.empty() ? "" : " --only " + only)) +
      " (`make bench` runs every section). Same machine as [engine.md](engine.md).\n\n";
  auto want = [&](const char* name) { return only.empty() || only == name; };
  if (want("memory")) md += MemorySection(dir, quick ? 1000000 : 10000000) + "\n";
  if (want("open")) {
    md += OpenSection(
              dir, quick ? std::vector<size_t>{1000000} : std::vector<size_t>{1000000, 10000000}) +
          "\n";
  }
  if (want("merge")) md += MergeSection(dir, 1000000) + "\n";
  if (want("index")) md += IndexSection(dir, 1000000) + "\n";
  if (want("compression")) md += CompressionSection(dir, 200000) + "\n";
  if (want("multiget")) md += MultiGetSection(dir, quick ? 100000 : 1000000) + "\n";
  if (want("flush")) md += FlushSection(dir, quick ? 2000 : 20000) + "\n";
  if (want("space")) md += SpaceSection(dir, 1000000, quick ? 10 : 20) + "\n";
  if (!out.empty()) std::ofstream(out) << md;
  std::filesystem::remove_all(dir);
  return 0;
}
