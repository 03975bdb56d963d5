// Runs one workload against one engine and prints the results as JSON lines. The driver
// (bench/peers/run_peers.py) runs every (engine, workload) pair in a process of its own, so
// memory figures belong to one engine only.
//
//   peer_bench --engine E --workload W --dir DIR [--n N] [--v V] [--threads T]
//              [--seconds S] [--ops OPS]
//
// Workloads:
//   grid     sequential write, sequential read, random read, delete of N keys; batch write
//            (1000 per batch) into a fresh store; disk bytes after writing; reopen time.
//   load     N keys written in batches of 1000; heap bytes per key, peak RSS, disk bytes,
//            reopen time, random reads of up to 1M of the keys.
//   mixed    N keys loaded, then OPS operations: 90% get, 10% put, keys drawn from a
//            scrambled Zipfian distribution (theta 0.99, as YCSB).
//   readers  N keys loaded, then for S seconds one writer thread puts random keys while T
//            reader threads get random keys.
//   sync     T threads put distinct keys for S seconds, each put flushed before it returns.
//
// Latencies are sampled on every 16th operation (so the clock reads barely touch the
// throughput); the mean comes from the wall time of the whole loop.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../bench_util.h"
#include "engines.h"

namespace bitcask::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string engine, workload, dir;
  size_t n = 100000, v = 100, threads = 1, ops = 1000000;
  double seconds = 5;
};

// Latency samples (microseconds) of one or more threads, plus the wall time and count.
struct OpStats {
  std::vector<float> samples;
  size_t ops = 0;
  double seconds = 0;

  void Merge(const OpStats& o) {
    samples.insert(samples.end(), o.samples.begin(), o.samples.end());
    ops += o.ops;
    seconds = std::max(seconds, o.seconds);
  }
  double Percentile(double p) {
    if (samples.empty()) return 0;
    const size_t i = std::min(samples.size() - 1, static_cast<size_t>(p * samples.size()));
    std::nth_element(samples.begin(), samples.begin() + i, samples.end());
    return samples[i];
  }
};

// Runs op(i) for i = 0, 1, ... while more(i), timing every 16th call.
template <typename More, typename Op>
OpStats RunTimed(More&& more, Op&& op, size_t expected_ops = 0) {
  OpStats st;
  st.samples.reserve(expected_ops / 16 + 1);
  const auto start = Clock::now();
  size_t i = 0;
  for (; more(i); i++) {
    if ((i & 15) == 0) {
      const auto t0 = Clock::now();
      op(i);
      st.samples.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
    } else {
      op(i);
    }
  }
  st.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  st.ops = i;
  return st;
}

// Runs op(i) for i in [0, n), timing every 16th call.
template <typename Op>
OpStats RunOps(size_t n, Op&& op) {
  return RunTimed([n](size_t i) { return i < n; }, op, n);
}

// Runs op(i) with i = 0, 1, ... until `stop` is set, timing every 16th call.
template <typename Op>
OpStats RunUntil(const std::atomic<bool>& stop, Op&& op) {
  return RunTimed([&stop](size_t) { return !stop.load(std::memory_order_relaxed); }, op);
}

class Reporter {
 public:
  explicit Reporter(const Args& a) : a_(a) {}
  void Op(const std::string& op, OpStats st, size_t threads) {
    std::printf(
        "{\"engine\":\"%s\",\"workload\":\"%s\",\"op\":\"%s\",\"n\":%zu,\"v\":%zu,"
        "\"threads\":%zu,\"ops\":%zu,\"seconds\":%.4f,\"mean_us\":%.4f,\"p50_us\":%.4f,"
        "\"p99_us\":%.4f,\"ops_per_sec\":%.1f}\n",
        a_.engine.c_str(), a_.workload.c_str(), op.c_str(), a_.n, a_.v, threads, st.ops, st.seconds,
        st.seconds * 1e6 * threads / std::max<size_t>(st.ops, 1), st.Percentile(0.5),
        st.Percentile(0.99), st.ops / std::max(st.seconds, 1e-9));
    std::fflush(stdout);
  }
  void Metric(const std::string& name, double value) {
    std::printf(
        "{\"engine\":\"%s\",\"workload\":\"%s\",\"metric\":\"%s\",\"n\":%zu,\"v\":%zu,"
        "\"value\":%.4f}\n",
        a_.engine.c_str(), a_.workload.c_str(), name.c_str(), a_.n, a_.v, value);
    std::fflush(stdout);
  }

 private:
  const Args& a_;
};

uint64_t ProcStatus(const char* field) {  // kB fields of /proc/self/status, in bytes
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line[len] == ':') {
      return std::strtoull(line.c_str() + len + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// Incompressible values, a different one for each key: slices of a 4 MiB random pool at
// offsets that differ key to key (one value for every key would let LevelDB's and RocksDB's
// block compression shrink the data, which the real workloads would not).
class Values {
 public:
  explicit Values(size_t v) : v_(v), pool_(RandomBytes((size_t{4} << 20) + v, v)) {}
  std::string_view For(size_t i) const {
    return std::string_view(pool_).substr((i * 7919) % (pool_.size() - v_), v_);
  }

 private:
  size_t v_;
  std::string pool_;
};

std::vector<std::string> MakeKeys(size_t n) {
  std::vector<std::string> keys(n);
  for (size_t i = 0; i < n; i++) keys[i] = Key(i);
  return keys;
}

// Writes the n keys in batches of 1000 (the values of key i + shift), timed per key.
OpStats Batched(size_t n, Engine* e, const std::vector<std::string>& keys, const Values& values,
                size_t shift) {
  std::vector<std::pair<std::string_view, std::string_view>> kvs;
  const size_t batches = (n + 999) / 1000;
  OpStats st = RunOps(batches, [&](size_t b) {
    kvs.clear();
    for (size_t i = b * 1000; i < std::min(n, b * 1000 + 1000); i++) {
      kvs.emplace_back(keys[i], values.For(i + shift));
    }
    e->WriteBatch(kvs);
  });
  st.ops = n;  // per key, not per batch
  for (auto& s : st.samples) s /= 1000;
  return st;
}

// Closes, reopens and reads one key: the time a restart takes before the store serves.
double ReopenMillis(Engine* e, const std::string& dir, const std::string& probe) {
  e->Close();
  const auto t0 = Clock::now();
  e->Open(dir, EngineConfig{});
  std::string v;
  if (!e->Get(probe, &v)) {
    std::fprintf(stderr, "%s: key %s missing after reopen\n", e->name(), probe.c_str());
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void MustGet(Engine* e, const std::string& key, std::string* v) {
  if (!e->Get(key, v)) {
    std::fprintf(stderr, "%s: key %s missing\n", e->name(), key.c_str());
    std::exit(1);
  }
}

// YCSB's scrambled Zipfian generator (Gray et al., "Quickly generating billion-record
// synthetic databases"), theta 0.99: a few keys are hot, spread over the key space.
class Zipfian {
 public:
  Zipfian(size_t n, double theta, uint64_t seed) : n_(n), theta_(theta), rng_(seed) {
    for (size_t i = 1; i <= n; i++) zetan_ += 1.0 / std::pow(double(i), theta);
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1 - std::pow(2.0 / n, 1 - theta)) / (1 - zeta2 / zetan_);
  }
  size_t Next() {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    const double uz = u * zetan_;
    size_t rank;
    if (uz < 1.0) {
      rank = 0;
    } else if (uz < 1.0 + std::pow(0.5, theta_)) {
      rank = 1;
    } else {
      rank = static_cast<size_t>(n_ * std::pow(eta_ * u - eta_ + 1, alpha_));
    }
    // FNV-1a of the rank scrambles hot keys across the key space.
    uint64_t h = 14695981039346656037ull;
    for (int b = 0; b < 8; b++) h = (h ^ ((rank >> (8 * b)) & 0xff)) * 1099511628211ull;
    return h % n_;
  }

 private:
  size_t n_;
  double theta_, zetan_ = 0, alpha_, eta_;
  std::mt19937_64 rng_;
};

void Grid(const Args& a, Engine* e, Reporter* r) {
  const auto keys = MakeKeys(a.n);
  const auto shuffled = Permuted(keys, ShuffledOrder(a.n, 42));
  const Values values(a.v);
  const std::string db = a.dir + "/db";
  std::string got;
  e->Open(db, EngineConfig{.expected_keys = a.n});
  r->Op("write", RunOps(a.n, [&](size_t i) { e->Put(keys[i], values.For(i)); }), 1);
  r->Op("read", RunOps(a.n, [&](size_t i) { MustGet(e, keys[i], &got); }), 1);
  r->Op("random_read", RunOps(a.n, [&](size_t i) { MustGet(e, shuffled[i], &got); }), 1);
  r->Op("batch_overwrite", Batched(a.n, e, keys, values, 1), 1);
  e->Close();
  r->Metric("disk_bytes", double(DirBytes(db)));
  r->Metric("open_ms", ReopenMillis(e, db, keys[a.n / 2]));
  r->Op("delete", RunOps(a.n, [&](size_t i) { e->Delete(keys[i]); }), 1);
  e->Close();
  std::filesystem::remove_all(db);

  e->Open(db, EngineConfig{.expected_keys = a.n});
  const OpStats st = Batched(a.n, e, keys, values, 0);
  r->Op("batch_write", st, 1);
  e->Close();
}

void Load(const Args& a, Engine* e, Reporter* r) {
  const Values values(a.v);
  const std::string db = a.dir + "/db";
  std::vector<std::string> keys = MakeKeys(a.n);
  const uint64_t base_anon = ProcStatus("RssAnon");
  e->Open(db, EngineConfig{.expected_keys = a.n});
  const auto t0 = Clock::now();
  Batched(keys.size(), e, keys, values, 0);
  r->Metric("load_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
  // The key strings the benchmark itself holds are not the engine's memory.
  const uint64_t anon = ProcStatus("RssAnon");
  r->Metric("heap_bytes_per_key", double(anon - std::min(anon, base_anon)) / a.n);
  r->Metric("rss_file_bytes_per_key", double(ProcStatus("RssFile")) / a.n);
  r->Metric("logical_bytes", double(a.n * (keys[0].size() + a.v)));
  e->Close();
  r->Metric("disk_bytes", double(DirBytes(db)));
  r->Metric("open_ms", ReopenMillis(e, db, keys[a.n / 3]));
  const size_t reads = std::min<size_t>(a.n, 1000000);
  std::mt19937_64 rng(9);
  std::vector<size_t> picks(reads);
  for (auto& p : picks) p = rng() % a.n;
  std::string got;
  r->Op("random_read", RunOps(reads, [&](size_t i) { MustGet(e, keys[picks[i]], &got); }), 1);
  r->Metric("peak_rss_bytes", double(ProcStatus("VmHWM")));
  e->Close();
}

void Mixed(const Args& a, Engine* e, Reporter* r) {
  const auto keys = MakeKeys(a.n);
  const Values values(a.v);
  e->Open(a.dir + "/db", EngineConfig{.expected_keys = a.n});
  Batched(keys.size(), e, keys, values, 0);
  Zipfian zipf(a.n, 0.99, 5);
  std::vector<uint32_t> picks(a.ops);
  for (auto& p : picks) p = static_cast<uint32_t>(zipf.Next());
  std::mt19937 coin(11);
  std::vector<bool> is_put(a.ops);
  for (size_t i = 0; i < a.ops; i++) is_put[i] = coin() % 10 == 0;
  // Time gets and puts apart: one pass, each op timed into its own stats.
  OpStats gets, puts;
  std::string got;
  const auto start = Clock::now();
  for (size_t i = 0; i < a.ops; i++) {
    const bool timed = (i & 15) == 0;
    const auto t0 = timed ? Clock::now() : Clock::time_point();
    if (is_put[i]) {
      e->Put(keys[picks[i]], values.For(i));
      puts.ops++;
    } else {
      MustGet(e, keys[picks[i]], &got);
      gets.ops++;
    }
    if (timed) {
      const float us = std::chrono::duration<float, std::micro>(Clock::now() - t0).count();
      (is_put[i] ? puts : gets).samples.push_back(us);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  OpStats all;
  all.ops = a.ops;
  all.seconds = secs;
  all.samples = gets.samples;
  all.samples.insert(all.samples.end(), puts.samples.begin(), puts.samples.end());
  gets.seconds = puts.seconds = secs;
  r->Op("mixed_90_10", all, 1);
  r->Op("mixed_get", gets, 1);
  r->Op("mixed_put", puts, 1);
  e->Close();
}

void Readers(const Args& a, Engine* e, Reporter* r) {
  const auto keys = MakeKeys(a.n);
  const Values values(a.v);
  e->Open(a.dir + "/db", EngineConfig{.expected_keys = a.n});
  Batched(keys.size(), e, keys, values, 0);
  std::atomic<bool> stop{false};
  std::vector<OpStats> reader_stats(a.threads);
  OpStats writer_stats;
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    std::mt19937_64 rng(1);
    writer_stats = RunUntil(stop, [&](size_t i) { e->Put(keys[rng() % a.n], values.For(i)); });
  });
  for (size_t t = 0; t < a.threads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      std::string got;
      reader_stats[t] = RunUntil(stop, [&](size_t) { MustGet(e, keys[rng() % a.n], &got); });
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  OpStats readers;
  for (const auto& s : reader_stats) readers.Merge(s);
  r->Op("readers_get", readers, a.threads);
  r->Op("readers_writer_put", writer_stats, 1);
  e->Close();
}

void Sync(const Args& a, Engine* e, Reporter* r) {
  const Values values(a.v);
  e->Open(a.dir + "/db", EngineConfig{.sync = true});
  std::atomic<bool> stop{false};
  std::vector<OpStats> stats(a.threads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < a.threads; t++) {
    threads.emplace_back([&, t] {
      const std::string prefix = "t" + std::to_string(t) + "-";
      stats[t] =
          RunUntil(stop, [&](size_t i) { e->Put(prefix + std::to_string(i), values.For(i)); });
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  OpStats all;
  for (const auto& s : stats) all.Merge(s);
  r->Op("sync_put", all, a.threads);
  e->Close();
}

}  // namespace
}  // namespace bitcask::bench

int main(int argc, char** argv) {
  using namespace bitcask::bench;
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--engine")
      a.engine = v;
    else if (k == "--workload")
      a.workload = v;
    else if (k == "--dir")
      a.dir = v;
    else if (k == "--n")
      a.n = ParseList(v).at(0);
    else if (k == "--v")
      a.v = ParseList(v).at(0);
    else if (k == "--threads")
      a.threads = ParseList(v).at(0);
    else if (k == "--ops")
      a.ops = ParseList(v).at(0);
    else if (k == "--seconds")
      a.seconds = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  auto engine = MakeEngine(a.engine);
  if (engine == nullptr || a.dir.empty()) {
    std::fprintf(stderr,
                 "usage: peer_bench --engine bitcask|lmdb|leveldb|rocksdb|tkrzw --workload "
                 "grid|load|mixed|readers|sync --dir DIR [--n N] [--v V] [--threads T] "
                 "[--seconds S] [--ops OPS]\n");
    return 2;
  }
  std::filesystem::remove_all(a.dir);
  std::filesystem::create_directories(a.dir);
  Reporter r(a);
  if (a.workload == "grid")
    Grid(a, engine.get(), &r);
  else if (a.workload == "load")
    Load(a, engine.get(), &r);
  else if (a.workload == "mixed")
    Mixed(a, engine.get(), &r);
  else if (a.workload == "readers")
    Readers(a, engine.get(), &r);
  else if (a.workload == "sync")
    Sync(a, engine.get(), &r);
  else {
    std::fprintf(stderr, "unknown workload %s\n", a.workload.c_str());
    return 2;
  }
  std::filesystem::remove_all(a.dir);
  return 0;
}
