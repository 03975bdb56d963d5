// Many threads at once: mixed operations end in the state a model predicts, batches are
// seen whole, and Close races with everything else without harm. Also run under
// ThreadSanitizer by `make test`.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace bitcask::test {
namespace {

constexpr int kThreads = 8;

// Values carry the owner and a counter, so any reader can check a value it did not write.
std::string ValueOf(int thread, int n) {
  return "t" + std::to_string(thread) + ":" + std::to_string(n) + ":" +
         std::string(static_cast<size_t>(n % 64), 'x');
}
bool WellFormed(const std::string& key, const std::string& value) {
  // key "t<thread>-<k>"; value "t<thread>:<n>:<x * (n % 64)>"
  const std::string owner = key.substr(0, key.find('-'));
  if (value.rfind(owner + ":", 0) != 0) return false;
  const size_t colon = value.find(':', owner.size() + 1);
  if (colon == std::string::npos) return false;
  const int n = std::stoi(value.substr(owner.size() + 1, colon - owner.size() - 1));
  return value.size() - colon - 1 == static_cast<size_t>(n % 64);
}

TEST_F(DBTest, MixedOperationsFromEightThreadsMatchTheModel) {
  Options options;
  options.max_file_size = 256 * 1024;  // rotate often while threads race
  ASSERT_OK(Open(options));
  std::vector<std::map<std::string, std::string>> models(kThreads);
  std::atomic<int> bad_reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto& model = models[t];
      for (int n = 0; n < 20000; n++) {
        const int op = static_cast<int>(rng() % 10);
        const std::string own = "t" + std::to_string(t) + "-" + std::to_string(rng() % 500);
        std::string value;
        if (op < 4) {
          const std::string v = ValueOf(t, n);
          if (!db_->Put(own, v).ok()) bad_reads++;
          model[own] = v;
        } else if (op < 5) {
          const Status s = db_->Delete(own);
          if (s.ok() != (model.erase(own) == 1)) bad_reads++;
        } else if (op < 6) {
          WriteBatch batch;
          const std::string other = "t" + std::to_string(t) + "-" + std::to_string(rng() % 500);
          batch.Put(own, ValueOf(t, n));
          batch.Delete(other);
          if (!db_->Write(batch).ok()) bad_reads++;
          model[own] = ValueOf(t, n);
          model.erase(other);
        } else {
          // Read own keys (exact) and other threads' keys (well-formed or absent).
          Status s = db_->Get(own, &value);
          auto it = model.find(own);
          if (it == model.end() ? !s.IsNotFound() : !(s.ok() && value == it->second)) bad_reads++;
          const std::string foreign =
              "t" + std::to_string(rng() % kThreads) + "-" + std::to_string(rng() % 500);
          // Half of them in place: the view must be as whole as a copy.
          if (rng() % 2 == 0) {
            s = db_->Get(foreign, &value);
          } else {
            value.clear();
            s = db_->GetView(foreign, [&](std::string_view v) { value.assign(v); });
          }
          if (!(s.IsNotFound() || (s.ok() && WellFormed(foreign, value)))) bad_reads++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad_reads.load(), 0);

  std::map<std::string, std::string> expected;
  for (const auto& m : models) expected.insert(m.begin(), m.end());
  for (int round = 0; round < 2; round++) {
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(expected));
    Reopen(options);
  }
}

// Update is atomic against every other write: eight threads incrementing the same few
// counters, while others overwrite unrelated keys, lose no increment.
TEST_F(DBTest, ConcurrentUpdatesLoseNoIncrement) {
  ASSERT_OK(Open());
  constexpr int kCounters = 3;
  constexpr int kIncrements = 400;
  auto increment = [](const std::string* cur, uint64_t*, std::string* next) {
    *next = std::to_string(cur == nullptr ? 1 : std::stoll(*cur) + 1);
    return DB::UpdateAction::kPut;
  };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; i++) {
        if (!db_->Update("counter" + std::to_string(i % kCounters), increment).ok()) failures++;
        if (!db_->Put("t" + std::to_string(t) + "-" + std::to_string(i % 10), ValueOf(t, i)).ok()) {
          failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  int total = 0;
  for (int c = 0; c < kCounters; c++) {
    std::string v;
    ASSERT_OK(db_->Get("counter" + std::to_string(c), &v));
    total += std::stoi(v);
  }
  EXPECT_EQ(total, kThreads * kIncrements);
  Reopen();
  std::string v;
  ASSERT_OK(db_->Get("counter0", &v));
  const int per_thread = (kIncrements + kCounters - 1) / kCounters;  // i % kCounters == 0
  EXPECT_EQ(std::stoi(v), kThreads * per_thread);
}

TEST_F(DBTest, ReadersNeverSeeHalfABatch) {
  ASSERT_OK(Open());
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread writer([&] {
    for (int i = 1; i <= 20000; i++) {
      WriteBatch batch;
      // Keys chosen to land in different shards.
      for (const char* k : {"alpha", "beta", "gamma", "delta"}) batch.Put(k, std::to_string(i));
      ASSERT_OK(db_->Write(batch));
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; r++) {
    readers.emplace_back([&] {
      std::string a, d;
      while (!stop) {
        // The batch writes alpha before delta; if batches were visible piecemeal a reader
        // could see a newer alpha than delta when reading delta first.
        const bool got_d = db_->Get("delta", &d).ok();
        const bool got_a = db_->Get("alpha", &a).ok();
        if (got_d && (!got_a || std::stoi(a) < std::stoi(d))) torn++;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
}

// Keys and Count see one moment: a batch that moves keys (as RENAME does) is in them whole,
// so no moved key is ever missing or doubled, and the count never moves. (Shard by shard,
// they could list a key both before and after a move, or neither.)
TEST_F(DBTest, KeysAndCountSeeBatchesWhole) {
  ASSERT_OK(Open());
  constexpr int kTokens = 16, kFixed = 100;
  for (int i = 0; i < kFixed; i++) ASSERT_OK(db_->Put("fixed" + std::to_string(i), "v"));
  auto side = [](int token, bool b) { return "tok" + std::to_string(token) + (b ? "-b" : "-a"); };
  for (int t = 0; t < kTokens; t++) ASSERT_OK(db_->Put(side(t, false), "v"));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread writer([&] {
    for (int i = 0; i < 4000; i++) {
      const bool to_b = i % 2 == 0;
      WriteBatch batch;
      for (int t = 0; t < kTokens; t++) {
        batch.Put(side(t, to_b), "v");
        batch.Delete(side(t, !to_b));
      }
      ASSERT_OK(db_->Write(batch));
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; r++) {
    readers.emplace_back([&, r] {
      std::vector<std::string> keys;
      while (!stop) {
        ASSERT_OK(db_->Keys(&keys, r == 0 ? "" : "tok"));
        const size_t tokens = static_cast<size_t>(std::count_if(
            keys.begin(), keys.end(), [](const std::string& k) { return k.starts_with("tok"); }));
        if (tokens != kTokens || keys.size() != (r == 0 ? kTokens + kFixed : kTokens)) torn++;
        uint64_t n = 0;
        ASSERT_OK(db_->Count(&n));
        if (n != kTokens + kFixed) torn++;
        reads++;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
}

// MultiGet reads all its keys at one moment: never part of a batch, and never a later Put
// without an earlier one (the writer puts "first", then "second", with the same number).
TEST_F(DBTest, MultiGetSeesWritesWhole) {
  ASSERT_OK(Open());
  constexpr int kBatchKeys = 64;
  std::vector<std::string> names;
  for (int i = 0; i < kBatchKeys; i++) names.push_back("b" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread writer([&] {
    for (int i = 1; i <= 3000; i++) {
      WriteBatch batch;
      for (const auto& k : names) batch.Put(k, std::to_string(i));
      ASSERT_OK(db_->Write(batch));
      ASSERT_OK(db_->Put("first", std::to_string(i)));
      ASSERT_OK(db_->Put("second", std::to_string(i)));
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; r++) {
    readers.emplace_back([&] {
      std::vector<std::string_view> keys = {"second"};
      for (const auto& k : names) keys.push_back(k);
      keys.push_back("first");
      std::vector<std::string> values;
      while (!stop) {
        const auto statuses = db_->MultiGet(keys, &values);
        auto number = [&](size_t i) { return statuses[i].ok() ? std::stoi(values[i]) : 0; };
        for (size_t i = 2; i <= kBatchKeys; i++) {
          if (number(i) != number(1)) torn++;
        }
        if (number(0) > number(keys.size() - 1)) torn++;
        reads++;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
}

TEST_F(DBTest, MultiGetWhileWritingAndMerging) {
  // Readers batch-read keys that writers overwrite and a merge moves; every value read is one
  // that was written for that key, and present keys are never reported missing.
  Options options;
  options.max_file_size = 64 * 1024;
  options.auto_merge = false;
  ASSERT_OK(Open(options));
  constexpr int kKeys = 2000;
  std::vector<std::string> names;
  for (int i = 0; i < kKeys; i++) {
    names.push_back("k" + std::to_string(i));
    ASSERT_OK(db_->Put(names.back(), names.back() + "=0"));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread writer([&] {
    for (int round = 1; round <= 20; round++) {
      for (int i = 0; i < kKeys; i += 7) {
        if (!db_->Put(names[i], names[i] + "=" + std::to_string(round)).ok()) bad++;
      }
    }
    stop = true;
  });
  std::thread merger([&] {
    while (!stop) {
      if (!db_->Merge().ok()) bad++;
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; r++) {
    readers.emplace_back([&, r] {
      std::vector<std::string_view> keys;
      std::vector<std::string> values;
      for (int pass = 0; !stop || pass < 2; pass++) {
        keys.clear();
        for (int i = 0; i < 64; i++) keys.push_back(names[(pass * 64 + i * 31 + r) % kKeys]);
        const auto statuses = db_->MultiGet(keys, &values);
        for (size_t i = 0; i < keys.size(); i++) {
          if (!statuses[i].ok() || values[i].rfind(std::string(keys[i]) + "=", 0) != 0) bad++;
        }
      }
    });
  }
  writer.join();
  merger.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(DBTest, IteratorsWhileWriting) {
  ASSERT_OK(Open());
  for (int i = 0; i < 1000; i++) ASSERT_OK(db_->Put("stable-" + std::to_string(i), "v"));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; i++) {
      (void)db_->Put("churn-" + std::to_string(i % 300), std::to_string(i));
      (void)db_->Delete("churn-" + std::to_string((i + 150) % 300));
    }
  });
  for (int round = 0; round < 20; round++) {
    IteratorOptions o;
    o.prefix = "stable-";
    auto it = db_->NewIterator(o);
    int n = 0;
    std::string prev;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ASSERT_GT(std::string(it->key()), prev);
      prev = std::string(it->key());
      n++;
    }
    ASSERT_OK(it->status());
    EXPECT_EQ(n, 1000);
  }
  stop = true;
  writer.join();
}

// A store large enough that Open loads it with a thread per core (each thread owning a share
// of the keydir shards): hints for most files, a scanned tail with overwrites and deletes.
TEST_F(DBTest, ParallelOpenMatchesWhatWasWritten) {
  Options o;
  o.max_file_size = 2 << 20;
  o.auto_merge = false;
  ASSERT_OK(Open(o));
  WriteBatch batch;
  for (int i = 0; i < 250000; i++) {
    batch.Put("key" + std::to_string(i), std::to_string(i));
    if (batch.Count() == 1000) {
      ASSERT_OK(db_->Write(batch));
      batch.Clear();
    }
  }
  db_.reset();  // hints for every file
  ASSERT_OK(Open(o));
  for (int i = 0; i < 250000; i += 3) ASSERT_OK(db_->Put("key" + std::to_string(i), "new"));
  for (int i = 1; i < 250000; i += 3) ASSERT_OK(db_->Delete("key" + std::to_string(i)));
  // What a crash would leave: the files as they are now, the newest without a hint.
  // The background hint writer may rename a .tmp hint while we copy (filesystem::copy would
  // throw on the vanished name); a crash at that moment leaves either name, both valid.
  const std::string crashed = tmp_.Sub("crashed");
  std::filesystem::create_directory(crashed);
  for (const auto& entry : std::filesystem::directory_iterator(dir())) {
    std::error_code ec;
    std::filesystem::copy_file(entry.path(),
                               std::filesystem::path(crashed) / entry.path().filename(), ec);
    ASSERT_TRUE(!ec || ec == std::errc::no_such_file_or_directory)
        << entry.path() << ": " << ec.message();
  }
  db_.reset();
  ASSERT_OK(DB::Open(o, crashed, &db_));
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.live_keys, 250000u - 250000u / 3);
  EXPECT_GT(stats.files_loaded_from_hints, 0u);
  for (int i = 0; i < 250000; i += 997) {
    const std::string expect = i % 3 == 0 ? "new" : i % 3 == 1 ? "NOT_FOUND" : std::to_string(i);
    ASSERT_EQ(Get("key" + std::to_string(i)), expect) << i;
  }
}

TEST_F(DBTest, CloseWhileOtherThreadsWork) {
  ASSERT_OK(Open());
  for (int i = 0; i < 100; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), "v"));
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      std::string v;
      for (int i = 0; i < 5000; i++) {
        const std::string key = "k" + std::to_string(i % 100);
        const Status s = (t % 2 == 0) ? db_->Put(key, "w") : db_->Get(key, &v);
        if (!s.ok() && !s.IsClosed()) unexpected++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_OK(db_->Close());
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  Reopen();
  EXPECT_EQ(db_->Contains("k99").ok(), true);
}

TEST_F(DBTest, ReadOnlyOpensSucceedWhileAWriterMergesAndRotates) {
  Options options;
  options.max_file_size = 16 << 10;
  ASSERT_OK(Open(options));
  PutNumbered(db_.get(), 300);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop; i++) {
      ASSERT_OK(db_->Put("w" + std::to_string(i % 200), std::string(100 + i % 300, 'x')));
      if (i % 500 == 499) ASSERT_OK(db_->Merge());
    }
  });
  Options ro;
  ro.read_only = true;
  int opens = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < end && !HasFailure()) {
    std::unique_ptr<DB> reader;
    ASSERT_OK(DB::Open(ro, dir(), &reader));
    opens++;
    ExpectNumbered(reader.get(), 300);
    CheckReport report;
    EXPECT_OK(reader->Check(&report));  // a hint a merge deleted is no problem
  }
  stop = true;
  writer.join();
  EXPECT_GT(opens, 10);
}

}  // namespace
}  // namespace bitcask::test
