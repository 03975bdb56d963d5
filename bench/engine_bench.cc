// The seed's benchmark grid on the C++ engine, with the bare system-call floors beside it.
//
//   engine_bench [--quick] [--dir DIR] [--out FILE.md] [--n 1000,10000] [--v 100,1000]
//
// For every (N entries, V value bytes): sequential write, sequential read, random read,
// batch write (1000 per batch) and delete, in microseconds per operation, sync=none, one
// thread. In the same run, the floors: one write(2) appending a record of the same size and
// one pread(2) of that size at a random offset of a file in the page cache. Finally the key
// directory's memory per key at 1M keys. Prints a Markdown report (and writes it to --out).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "bitcask/db.h"

namespace {

using bitcask::bench::Die;
using bitcask::bench::Key;
using bitcask::bench::OpenFresh;
using bitcask::bench::ParseList;
using bitcask::bench::Permuted;
using bitcask::bench::RandomBytes;
using bitcask::bench::ShuffledOrder;
using bitcask::bench::Timer;

constexpr size_t kBatch = 1000;
constexpr size_t kRecordHeader = 27;  // docs/FORMAT.md

struct Cell {
  size_t n, v;
  double write, read, random_read, batch_write, del;  // us/op
  double floor_write, floor_pread;                    // us/op
};

// One measurement of every operation for (n, v).
// `shuffled` holds the keys in the random order `order` (which the pread floor reads in).
Cell MeasureOnce(const std::string& dir, size_t n, size_t v, const std::vector<std::string>& keys,
                 const std::vector<std::string>& shuffled, const std::vector<size_t>& order,
                 const std::string& value) {
  Cell c{n, v, 0, 0, 0, 0, 0, 0, 0};
  std::string got;
  {
    auto db = OpenFresh(dir + "/db");
    Timer t;
    for (size_t i = 0; i < n; i++) {
      if (auto s = db->Put(keys[i], value); !s.ok()) Die("put", s);
    }
    c.write = t.MicrosPer(n);
    t.Reset();
    for (size_t i = 0; i < n; i++) {
      if (auto s = db->Get(keys[i], &got); !s.ok()) Die("get", s);
    }
    c.read = t.MicrosPer(n);
    t.Reset();
    for (size_t i = 0; i < n; i++) {
      if (auto s = db->Get(shuffled[i], &got); !s.ok()) Die("get", s);
    }
    c.random_read = t.MicrosPer(n);
    t.Reset();
    for (size_t i = 0; i < n; i++) {
      if (auto s = db->Delete(keys[i]); !s.ok()) Die("delete", s);
    }
    c.del = t.MicrosPer(n);
  }
  {
    auto db = OpenFresh(dir + "/db");
    bitcask::WriteBatch batch;
    Timer t;
    for (size_t i = 0; i < n; i++) {
      batch.Put(keys[i], value);
      if (batch.Count() == kBatch || i + 1 == n) {
        if (auto s = db->Write(batch); !s.ok()) Die("write batch", s);
        batch.Clear();
      }
    }
    c.batch_write = t.MicrosPer(n);
  }
  std::filesystem::remove_all(dir + "/db");

  // Floors: the same record bytes through bare system calls.
  const std::string path = dir + "/floor";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) Die("open floor file", bitcask::Status::FromErrno(path, errno));
  const std::string record = std::string(kRecordHeader, 'h') + keys[0] + value;
  Timer t;
  for (size_t i = 0; i < n; i++) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
      Die("write floor", bitcask::Status::FromErrno(path, errno));
    }
  }
  c.floor_write = t.MicrosPer(n);
  std::string buf(record.size(), '\0');
  t.Reset();
  for (size_t i = 0; i < n; i++) {
    const off_t off = static_cast<off_t>(order[i] * record.size());
    if (::pread(fd, buf.data(), buf.size(), off) != static_cast<ssize_t>(buf.size())) {
      Die("pread floor", bitcask::Status::FromErrno(path, errno));
    }
  }
  c.floor_pread = t.MicrosPer(n);
  ::close(fd);
  std::filesystem::remove(path);
  return c;
}

// Small grids finish in microseconds; repeat them to about 100k operations (three times at
// least) and take the median of each figure.
Cell Measure(const std::string& dir, size_t n, size_t v) {
  std::vector<std::string> keys(n);
  for (size_t i = 0; i < n; i++) keys[i] = Key(i);
  const std::vector<size_t> order = ShuffledOrder(n, n * 31 + v);
  const std::vector<std::string> shuffled = Permuted(keys, order);
  const std::string value = RandomBytes(v, n + v);
  // At least three runs, for the median to mean something on a shared machine, except for
  // cells that write over 200 MB per run.
  const size_t reps = n * v > (200u << 20) ? 1 : std::clamp<size_t>(100000 / n, 3, 25);
  std::vector<Cell> runs;
  for (size_t r = 0; r < reps; r++)
    runs.push_back(MeasureOnce(dir, n, v, keys, shuffled, order, value));
  auto median = [&](double Cell::*field) {
    std::vector<double> xs;
    for (const Cell& c : runs) xs.push_back(c.*field);
    std::nth_element(xs.begin(), xs.begin() + xs.size() / 2, xs.end());
    return xs[xs.size() / 2];
  };
  Cell out{n, v, 0, 0, 0, 0, 0, 0, 0};
  for (auto f : {&Cell::write, &Cell::read, &Cell::random_read, &Cell::batch_write, &Cell::del,
                 &Cell::floor_write, &Cell::floor_pread}) {
    out.*f = median(f);
  }
  return out;
}

// Anonymous resident memory of this process (heap), in bytes.
uint64_t RssAnonBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10) * 1024;
  }
  return 0;
}

std::string MemoryReport(const std::string& dir, size_t n) {
  std::filesystem::remove_all(dir + "/mem");
  std::string key;
  const std::string value = RandomBytes(100, 7);
  const uint64_t before = RssAnonBytes();
  uint64_t key_bytes = 0;
  bitcask::Stats stats;
  {
    std::unique_ptr<bitcask::DB> db;
    if (auto s = bitcask::DB::Open(bitcask::Options(), dir + "/mem", &db); !s.ok()) Die("open", s);
    for (size_t i = 0; i < n; i++) {
      key = Key(i);
      key_bytes += key.size();
      if (auto s = db->Put(key, value); !s.ok()) Die("put", s);
    }
    const uint64_t after = std::max(RssAnonBytes(), before);
    if (auto s = db->GetStats(&stats); !s.ok()) Die("stats", s);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "Key directory at %zu keys of %zu bytes (V=100): process heap grew by %.1f "
                  "bytes/key, %.1f beyond the key bytes; the keydir's own count is %.1f "
                  "bytes/key (%.1f beyond the key bytes).\n",
                  n, key.size(), double(after - before) / n, double(after - before - key_bytes) / n,
                  double(stats.keydir_bytes) / n, double(stats.keydir_bytes - key_bytes) / n);
    std::filesystem::remove_all(dir + "/mem");
    return buf;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> ns = {1000, 10000, 100000, 1000000};
  std::vector<size_t> vs = {100, 1000, 10000};
  std::string dir = "/tmp/bitcask-bench";
  std::string out_path;
  size_t mem_keys = 1000000;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--quick") {
      ns = {1000, 10000, 100000};
      mem_keys = 1000000;
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--n" && i + 1 < argc) {
      ns = ParseList(argv[++i]);
    } else if (a == "--v" && i + 1 < argc) {
      vs = ParseList(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--dir DIR] [--out FILE] [--n LIST] [--v LIST]\n",
                   argv[0]);
      return 2;
    }
  }
  std::filesystem::create_directories(dir);
  // First, while the heap holds nothing else: later cells leave freed memory behind that
  // would blur the difference.
  const std::string mem = MemoryReport(dir, mem_keys);

  std::ostringstream md;
  md << "# Engine, one thread\n\n"
     << bitcask::bench::MeasuredLine("make bench") << " (`./build/bench/engine_bench"
     << (out_path.empty() ? "" : " --out " + out_path) << "`)\n\n";
  md << "Times are in microseconds per operation (one thread, sync=none, 16-byte keys, random "
        "values). `write(2)` and `pread(2)` are the floors: one bare system call per record of "
        "the same size. Each figure is the median of at least three runs (one for cells that "
        "write over 200 MB). `write / batch` is how many times cheaper a put is in a batch of "
        "1000.\n\n";
  md << "| (N, V) | batch_write | delete | random_read | read | write | write(2) floor | "
        "pread(2) floor | write / floor | random_read / floor | write / batch |\n";
  md << "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  std::printf("%s", md.str().c_str());
  for (size_t n : ns) {
    for (size_t v : vs) {
      const Cell c = Measure(dir, n, v);
      char row[512];
      std::snprintf(row, sizeof row,
                    "| (%zu, %zu) | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2fx | "
                    "%.2fx | %.2fx |\n",
                    n, v, c.batch_write, c.del, c.random_read, c.read, c.write, c.floor_write,
                    c.floor_pread, c.write / c.floor_write, c.random_read / c.floor_pread,
                    c.write / c.batch_write);
      md << row;
      std::printf("%s", row);
      std::fflush(stdout);
    }
  }
  md << "\n" << mem;
  std::printf("\n%s", mem.c_str());
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    out << md.str();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
