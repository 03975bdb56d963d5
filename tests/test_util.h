// Helpers shared by the test suites.

#ifndef BITCASK_TESTS_TEST_UTIL_H_
#define BITCASK_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bitcask/db.h"

namespace bitcask::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The operating system's Env with a clock tests move by hand. Atomic: a store's background
// thread reads it meanwhile.
class ManualClock : public EnvWrapper {
 public:
  explicit ManualClock(uint64_t now_ms) : EnvWrapper(Env::Default()), now_(now_ms) {}
  uint64_t NowUnixMillis() override { return now_.load(std::memory_order_relaxed); }
  uint64_t NowMillis() const { return now_.load(std::memory_order_relaxed); }
  void Advance(uint64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }
  void Set(uint64_t now_ms) { now_.store(now_ms, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> now_;
};

// Base fixture: a temp dir and helpers to open the store in it.
class DBTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.Sub("db"); }
  // Opens dir() with options; with env_ set, through it unless options name an Env.
  Status Open(const Options& options = Options()) {
    Options o = options;
    if (o.env == nullptr) o.env = env_;
    return DB::Open(o, dir(), &db_);
  }
  void Reopen(const Options& options = Options()) {
    db_.reset();
    ASSERT_TRUE(Open(options).ok());
  }
  // The value of key, or "NOT_FOUND", or the error.
  std::string Get(const std::string& key);
  // The store holds exactly these keys with these values.
  void ExpectExactly(const std::map<std::string, std::string>& expected);
  // After a power_writer run on dir() was killed: moves its store aside and calls check
  // (which opens dir()) on `images` stores a power cut could have left (PowerCutImage with
  // seeds 0, 1, ...), built in dir() one after another. The store is closed after each; the
  // last image stays in dir().
  void ForEachPowerCut(const std::string& shadow, uint32_t images,
                       const std::function<void()>& check);

  TempDir tmp_;
  // For tests of expiry (Options::clock). Declared before db_ so that it outlives the store:
  // a store's background thread reads the clock until the store is closed.
  ManualClock clock_{1'000'000};
  // The Env Open uses when its options name none (null: the operating system's). A fixture
  // that sets it to one of its own members closes db_ before that member goes.
  Env* env_ = nullptr;
  std::unique_ptr<DB> db_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);
uint64_t FileSize(const std::string& path);
// Puts keys k0..k<n-1> with values v<i> and 100 bytes more; ExpectNumbered checks them.
void PutNumbered(DB* db, int n);
void ExpectNumbered(DB* db, int n);
// Names of the data files in dir, sorted.
std::vector<std::string> DataFiles(const std::string& dir);

// Power cuts, simulated. power_writer is crash_writer with its flushes and renames recorded
// in a shadow directory (see power_recorder.cc); from that record and the store it left in
// the page cache when it was killed, PowerCutImage builds a store as a power cut could have
// left it.
//
// Records every file now in dir as durable: the state a power_writer run starts from.
void SeedPowerShadow(const std::string& dir, const std::string& shadow);
// Builds in `out` (which must not exist) one store a power cut could leave of `killed`.
// seed 0: exactly what was flushed, nothing more (files as their last fdatasync began, names
// as the last fsync of the directory saw them). Other seeds: for each name, its flushed or
// its latest version (present or not), and of a file's flushed and latest contents a random
// one of the two sizes and, per 4 KiB page, a random one of the two pages.
void PowerCutImage(const std::string& killed, const std::string& shadow, const std::string& out,
                   uint32_t seed);

}  // namespace bitcask::test

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const ::bitcask::Status _s = (expr);                    \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                     \
  do {                                                      \
    const ::bitcask::Status _s = (expr);                    \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

#endif  // BITCASK_TESTS_TEST_UTIL_H_
