// Random damage to a closed store's files, as a failing disk, a stray write or a bad copy
// would leave it: flipped bytes, overwritten or zeroed runs, cut and lengthened files, in data
// and hint files alike. Whatever the damage:
//   - Open either succeeds or fails with Corruption (or NotSupported for a file header of a
//     newer version) whose message names the damaged store's directory;
//   - every value read back, by Get, GetView, MultiGet or an iterator, is one that was
//     written for that key at some point: damage never turns into data;
//   - salvage mode (RecoveryMode::kSkipCorrupt) opens the store, and it takes new writes that
//     survive a reopen;
//   - DB::Check, in a read-only salvage open (as `bitcask check` runs it), reports a problem
//     in the file a strict open refused, and none in a whole store.
// Then a data file is cut short under the open store (reads through the mapping meet SIGBUS):
// reads give written data or an error, and the process goes on. Rounds without damage check
// the other side: the store reads back exactly what the model says. Each round is
// reproducible from its seed, printed on failure.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bitcask/iterator.h"
#include "bitcask/write_batch.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

constexpr int kKeys = 40;

// Every value ever written for each key (a deleted key may come back in salvage mode with an
// older value: still written data), and what the store holds at the end.
struct History {
  std::map<std::string, std::set<std::string>> written;
  std::map<std::string, std::string> live;
};

class DamageTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.Sub("db"); }

  static std::string Key(std::mt19937_64& rng) { return "key-" + std::to_string(rng() % kKeys); }

  // Values of 0-700 bytes: random bytes, or text that compresses (so that some records carry
  // an lz4 or zstd value when the round compresses).
  static std::string Value(std::mt19937_64& rng) {
    const size_t n = rng() % 701;
    std::string v(n, '\0');
    if (rng() % 2 == 0) {
      for (char& c : v) c = static_cast<char>(rng());
    } else {
      for (size_t i = 0; i < n; i++) v[i] = "the quick brown fox "[(i + n) % 20];
    }
    return v;
  }

  static Options RoundOptions(std::mt19937_64& rng) {
    Options options;
    options.auto_merge = false;
    options.max_file_size = 4096u << (rng() % 3);  // several data files a round
    options.compression = static_cast<Compression>(rng() % 3);
    options.compression_min_bytes = 32;
    return options;
  }

  // A few hundred puts, deletes and batches, with a merge now and then (merged files come
  // with hint files), then Close (which writes hints for the files it sealed). Sometimes
  // every hint is removed, so that Open reads the data files themselves.
  void Fill(std::mt19937_64& rng, const Options& options, History* h) {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(options, dir(), &db));
    auto put = [h](const std::string& k, const std::string& v) {
      h->written[k].insert(v);
      h->live[k] = v;
    };
    const int ops = 100 + static_cast<int>(rng() % 300);
    for (int i = 0; i < ops; i++) {
      const unsigned what = rng() % 20;
      if (what < 12) {
        const std::string k = Key(rng), v = Value(rng);
        WriteOptions wo;
        // A far-off expiry: the record carries one, the key stays readable.
        if (rng() % 4 == 0) wo.ttl_ms = 3600 * 1000;
        ASSERT_OK(db->Put(k, v, wo));
        put(k, v);
      } else if (what < 16) {
        const std::string k = Key(rng);
        const Status s = db->Delete(k);
        ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
        h->live.erase(k);
      } else if (what < 19) {
        WriteBatch batch;
        for (int j = 1 + static_cast<int>(rng() % 8); j > 0; j--) {
          const std::string k = Key(rng);
          if (rng() % 4 == 0) {
            batch.Delete(k);
            h->live.erase(k);
          } else {
            const std::string v = Value(rng);
            batch.Put(k, v);
            put(k, v);
          }
        }
        ASSERT_OK(db->Write(batch));
      } else {
        ASSERT_OK(db->Merge());
      }
    }
    ASSERT_OK(db->Close());
    db.reset();
    if (rng() % 3 == 0) {
      for (const auto& e : std::filesystem::directory_iterator(dir())) {
        if (e.path().extension() == ".hint") std::filesystem::remove(e.path());
      }
    }
  }

  // One to four kinds of harm to randomly chosen files of the store (LOCK aside).
  void Damage(std::mt19937_64& rng, std::string* what) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      if (e.path().filename() != "LOCK") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty());
    for (int n = 1 + static_cast<int>(rng() % 4); n > 0; n--) {
      const std::string& path = files[rng() % files.size()];
      std::string bytes = ReadFile(path);
      const size_t size = bytes.size();
      const size_t at = size == 0 ? 0 : rng() % size;
      const size_t len = std::min<size_t>(1 + rng() % 64, size - at);
      const std::string name = std::filesystem::path(path).filename().string();
      switch (rng() % 5) {
        case 0:
          if (size == 0) break;
          bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
          *what += " flip " + name + "@" + std::to_string(at);
          break;
        case 1:
          for (size_t i = at; i < at + len; i++) bytes[i] = static_cast<char>(rng());
          *what += " scribble " + name + "@" + std::to_string(at) + "+" + std::to_string(len);
          break;
        case 2:
          std::fill(bytes.begin() + static_cast<ptrdiff_t>(at),
                    bytes.begin() + static_cast<ptrdiff_t>(at + len), '\0');
          *what += " zero " + name + "@" + std::to_string(at) + "+" + std::to_string(len);
          break;
        case 3:
          bytes.resize(at);
          *what += " cut " + name + "@" + std::to_string(at);
          break;
        default:
          for (size_t i = 1 + rng() % 64; i > 0; i--) bytes.push_back(static_cast<char>(rng()));
          *what += " lengthen " + name;
          break;
      }
      WriteFile(path, bytes);
    }
  }

  // Cuts a random data file of the (open) store to a random length.
  void CutUnderOpenStore(std::mt19937_64& rng, std::string* what) {
    std::vector<std::string> files = DataFiles(dir());
    ASSERT_FALSE(files.empty());
    const std::string path = dir() + "/" + files[rng() % files.size()];
    const uint64_t size = FileSize(path);
    const uint64_t at = size == 0 ? 0 : rng() % size;
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(at)), 0) << path;
    *what = " cut " + std::filesystem::path(path).filename().string() + "@" + std::to_string(at);
  }

  // Every way of reading gives a value written for that key, or no value; never other bytes.
  // With `cut_under`, a file was cut short under the open store: reads of its lost pages may
  // also fail with an IOError naming SIGBUS.
  void ExpectOnlyWrittenData(DB* db, const History& h, bool exact, bool cut_under = false) {
    auto expected_error = [&](const Status& s) {
      if (s.IsCorruption()) return s.ToString().find(dir()) != std::string::npos;
      const bool unreadable = cut_under && s.IsIOError() &&
                              s.ToString().find("SIGBUS") != std::string::npos &&
                              s.ToString().find(dir()) != std::string::npos;
      unreadable_reads_ += unreadable;
      return unreadable;
    };
    auto written = [&h](const std::string& k, const std::string& v) {
      auto it = h.written.find(k);
      return it != h.written.end() && it->second.count(v) != 0;
    };
    std::vector<std::string> keys;
    Status s = db->Keys(&keys);
    ASSERT_TRUE(s.ok() || expected_error(s)) << s.ToString();
    for (const std::string& k : keys) {
      EXPECT_TRUE(h.written.count(k)) << "a key never written: " << k;
    }
    std::vector<std::string_view> all;
    std::vector<std::string> names;
    for (int i = 0; i < kKeys; i++) names.push_back("key-" + std::to_string(i));
    for (const std::string& k : names) {
      all.push_back(k);
      std::string v;
      s = db->Get(k, &v);
      if (s.ok()) {
        EXPECT_TRUE(written(k, v)) << k << ": " << v.size() << " bytes never written";
      } else {
        EXPECT_TRUE(s.IsNotFound() || expected_error(s)) << k << ": " << s.ToString();
      }
      if (exact) {
        auto it = h.live.find(k);
        if (it == h.live.end()) {
          EXPECT_TRUE(s.IsNotFound()) << k << ": " << s.ToString();
        } else {
          EXPECT_TRUE(s.ok()) << k << ": " << s.ToString();
          EXPECT_EQ(v, it->second) << k;
        }
      }
      std::string seen;
      bool called = false;
      const Status vs = db->GetView(k, [&](std::string_view view) {
        called = true;
        seen = view;
      });
      EXPECT_EQ(vs.code(), s.code()) << k << ": " << vs.ToString() << " vs " << s.ToString();
      if (called) {
        EXPECT_TRUE(written(k, seen)) << k << ": a view of bytes never written";
      }
      EXPECT_EQ(called, vs.ok()) << k;
    }
    std::vector<std::string> values(all.size());
    std::vector<Status> statuses(all.size());
    db->MultiGet(all, values, statuses);
    for (size_t i = 0; i < all.size(); i++) {
      if (statuses[i].ok()) {
        EXPECT_TRUE(written(names[i], values[i])) << names[i];
      }
    }
    std::unique_ptr<Iterator> it = db->NewIterator();
    size_t visited = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_TRUE(written(std::string(it->key()), std::string(it->value()))) << it->key();
      visited++;
    }
    EXPECT_TRUE(it->status().ok() || expected_error(it->status())) << it->status().ToString();
    if (exact) {
      EXPECT_TRUE(it->status().ok()) << it->status().ToString();
      EXPECT_EQ(visited, h.live.size());
    }
  }

  TempDir tmp_;
  int unreadable_reads_ = 0;  // reads that met a page cut off under the open store
};

TEST_F(DamageTest, DamageIsReportedOrSkippedNeverReturnedAsData) {
  // BITCASK_DAMAGE_ROUNDS / BITCASK_DAMAGE_FIRST_SEED run more rounds (a soak) or replay one.
  const char* rounds_env = std::getenv("BITCASK_DAMAGE_ROUNDS");
  const char* first_env = std::getenv("BITCASK_DAMAGE_FIRST_SEED");
  const uint64_t rounds = rounds_env != nullptr ? std::strtoull(rounds_env, nullptr, 10) : 120;
  const uint64_t first = first_env != nullptr ? std::strtoull(first_env, nullptr, 10) : 1;
  int refused = 0, opened_strict = 0, intact = 0;
  for (uint64_t seed = first; seed < first + rounds; seed++) {
    std::filesystem::remove_all(dir());
    std::mt19937_64 rng(seed);
    const Options options = RoundOptions(rng);
    History h;
    ASSERT_NO_FATAL_FAILURE(Fill(rng, options, &h)) << "seed " << seed;
    const bool damage = seed % 6 != 0;  // one round in six stays whole
    std::string what;
    if (damage) {
      ASSERT_NO_FATAL_FAILURE(Damage(rng, &what)) << "seed " << seed;
    }
    SCOPED_TRACE("seed " + std::to_string(seed) + (damage ? ", damage:" + what : ", no damage"));

    // Read-only first: it changes nothing on disk, so the writable opens see the same damage.
    std::string refused_file;  // the file a strict open named, if it refused the store
    for (const bool read_only : {true, false}) {
      Options strict = options;
      strict.read_only = read_only;
      std::unique_ptr<DB> db;
      const Status s = DB::Open(strict, dir(), &db);
      if (!damage) {
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
      if (s.ok()) {
        opened_strict++;
        ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, !damage));
        if (!damage) intact++;
      } else {
        refused++;
        EXPECT_TRUE(s.IsCorruption() || s.IsNotSupported()) << s.ToString();
        const std::string msg = s.ToString();
        const size_t at = msg.find(dir() + "/");
        ASSERT_NE(at, std::string::npos) << msg;
        refused_file = msg.substr(at, msg.find_first_of(": ", at) - at);
      }
    }

    Options salvage = options;
    salvage.recovery_mode = RecoveryMode::kSkipCorrupt;
    // Read-only first, as `bitcask check` opens a store: Check finds what made the strict open
    // refuse, and nothing in a whole store. (A writable salvage open may then cut the damage
    // away with a torn tail.)
    {
      Options check = salvage;
      check.read_only = true;
      std::unique_ptr<DB> db;
      const Status s = DB::Open(check, dir(), &db);
      if (!s.ok()) {
        // Only a file of a newer format version is refused; random damage makes none.
        ADD_FAILURE() << "salvage refused: " << s.ToString();
        continue;
      }
      ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, !damage));
      CheckReport report;
      const Status cs = db->Check(&report);
      EXPECT_TRUE(cs.ok() || cs.IsCorruption()) << cs.ToString();
      EXPECT_EQ(cs.ok(), report.problems.empty()) << cs.ToString();
      if (!damage) {
        EXPECT_TRUE(report.problems.empty()) << report.problems[0].reason;
      }
      if (!refused_file.empty()) {
        bool found = false;
        for (const CheckProblem& p : report.problems) found |= p.path == refused_file;
        EXPECT_TRUE(found) << "Check missed " << refused_file << " (" << report.problems.size()
                           << " problems)";
      }
    }
    {
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(salvage, dir(), &db));
      ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, !damage));
      // The salvaged store takes writes, and a merge, which rewrites what verifies into
      // sound files: a strict open then finds nothing wrong.
      ASSERT_OK(db->Put("after-salvage", "written"));
      h.written["after-salvage"].insert("written");
      h.live["after-salvage"] = "written";
      ASSERT_OK(db->Merge());
      ASSERT_OK(db->Close());
    }
    {
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(options, dir(), &db));
      ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, !damage));
      CheckReport report;
      const Status cs = db->Check(&report);
      EXPECT_TRUE(cs.ok()) << cs.ToString();
    }
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(salvage, dir(), &db));
    std::string v;
    ASSERT_OK(db->Get("after-salvage", &v));
    EXPECT_EQ(v, "written");

    // A data file cut short under the open store (another program, or a disk that stops
    // reading pages, which a read through the mapping meets as SIGBUS): reads give written
    // data or an error, Check, Merge and writes answer, the process goes on, and the store
    // opens again in salvage mode.
    h.written["after-cut"].insert("written");
    ASSERT_NO_FATAL_FAILURE(CutUnderOpenStore(rng, &what));
    SCOPED_TRACE("then cut under the open store:" + what);
    ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, false, /*cut_under=*/true));
    CheckReport report;
    const Status cs = db->Check(&report);
    EXPECT_TRUE(cs.ok() || cs.IsCorruption() || cs.IsIOError()) << cs.ToString();
    const Status m = db->Merge();
    EXPECT_TRUE(m.ok() || m.IsCorruption() || m.IsIOError()) << m.ToString();
    const Status w = db->Put("after-cut", "written");
    EXPECT_TRUE(w.ok() || w.IsIOError()) << w.ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, false, /*cut_under=*/true));
    db.reset();
    ASSERT_OK(DB::Open(salvage, dir(), &db));
    ASSERT_NO_FATAL_FAILURE(ExpectOnlyWrittenData(db.get(), h, false));
  }
  // The whole rounds read back exactly. And over enough rounds, the damage took both ways:
  // refused by a strict open, and opened (damage only in hints, in the torn tail, or in
  // records a hint stands for, found when read).
  int whole_rounds = 0;
  for (uint64_t seed = first; seed < first + rounds; seed++) whole_rounds += seed % 6 == 0;
  EXPECT_EQ(intact, 2 * whole_rounds);
  if (rounds >= 60) {
    EXPECT_GT(refused, 0);
    EXPECT_GT(opened_strict, 2 * whole_rounds);
    EXPECT_GT(unreadable_reads_, 0);
  }
}

}  // namespace
}  // namespace bitcask::test
