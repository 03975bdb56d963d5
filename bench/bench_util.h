// Small helpers shared by the benchmark programs.

#ifndef BITCASK_BENCH_BENCH_UTIL_H_
#define BITCASK_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bitcask/db.h"
#include "bitcask/status.h"

namespace bitcask::bench {

[[noreturn]] inline void Die(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// "Measured YYYY-MM-DD with: `command`." for the top of a result file.
inline std::string MeasuredLine(const std::string& command) {
  const std::time_t now = std::time(nullptr);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&now));
  return std::string("Measured ") + date + " with: `" + command + "`.";
}

// Dies (as Die) unless s is OK.
inline void Must(const Status& s, const char* what) {
  if (!s.ok()) Die(what, s);
}

// A store with default options in dir, emptied first.
inline std::unique_ptr<DB> OpenFresh(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::unique_ptr<DB> db;
  if (Status s = DB::Open(Options(), dir, &db); !s.ok()) Die("open", s);
  return db;
}

// Bytes of the regular files under dir now. A file deleted while it is listed (a merge or a
// compaction running meanwhile) counts as gone.
inline uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    std::error_code file_ec;
    if (!e.is_regular_file(file_ec)) continue;
    const uint64_t size = e.file_size(file_ec);
    if (!file_ec) total += size;
  }
  return total;
}

class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  void Reset() { start_ = std::chrono::steady_clock::now(); }
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double MicrosPer(size_t ops) const { return Seconds() * 1e6 / static_cast<double>(ops); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// 16-byte keys: "key-" and 12 digits, so byte order is numeric order.
inline std::string Key(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key-%012zu", i);
  return buf;
}

// 0..n-1 in a random order.
inline std::vector<size_t> ShuffledOrder(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; i++) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  return order;
}

// keys[order[0]], keys[order[1]], ... as a list of their own: a random-read loop then walks
// its keys front to back, so the only cache misses it times are the store's. (Indexing
// keys[] through a shuffled index costs the loop two misses of its own per key on large N,
// for the string and its bytes: a third of a random get at 1M keys.)
inline std::vector<std::string> Permuted(const std::vector<std::string>& keys,
                                         const std::vector<size_t>& order) {
  std::vector<std::string> out;
  out.reserve(order.size());
  for (size_t i : order) out.push_back(keys[i]);
  return out;
}

// Incompressible bytes.
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// "1000,10000" -> {1000, 10000}; accepts k/m suffixes ("100k", "1m").
inline std::vector<size_t> ParseList(const std::string& text) {
  std::vector<size_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    size_t v = std::strtoull(item.c_str(), &end, 10);
    if (end != nullptr && (*end == 'k' || *end == 'K')) v *= 1000;
    if (end != nullptr && (*end == 'm' || *end == 'M')) v *= 1000000;
    out.push_back(v);
  }
  return out;
}

}  // namespace bitcask::bench

#endif  // BITCASK_BENCH_BENCH_UTIL_H_
