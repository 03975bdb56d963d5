// Reads and writes go on while merges run (also under ThreadSanitizer).

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace bitcask::test {
namespace {

TEST_F(DBTest, ReadsAndWritesDuringMerges) {
  Options o;
  o.max_file_size = 32 * 1024;
  o.auto_merge = false;
  ASSERT_OK(Open(o));
  // Each writer owns its keys, so it can predict them; readers check what they see is a value
  // some writer wrote for that key.
  constexpr int kWriters = 2, kKeys = 300;
  std::vector<std::map<std::string, std::string>> models(kWriters);
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int n = 0; !stop || n < 2000; n++) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(rng() % kKeys);
        if (rng() % 4 == 0) {
          const Status s = db_->Delete(key);
          if (!s.ok() && !s.IsNotFound()) errors++;
          models[w].erase(key);
        } else {
          const std::string value = key + "=" + std::to_string(n) + std::string(rng() % 200, '.');
          if (!db_->Put(key, value).ok()) errors++;
          models[w][key] = value;
        }
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937 rng(99);
    std::string value;
    while (!stop) {
      const std::string key =
          "w" + std::to_string(rng() % kWriters) + "-" + std::to_string(rng() % kKeys);
      const Status s = db_->Get(key, &value);
      if (s.ok() ? value.rfind(key + "=", 0) != 0 : !s.IsNotFound()) errors++;
    }
  });
  for (int m = 0; m < 5; m++) {
    ASSERT_OK(db_->Merge());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::map<std::string, std::string> expected;
  for (const auto& m : models) expected.insert(m.begin(), m.end());
  for (int round = 0; round < 2; round++) {
    ASSERT_NO_FATAL_FAILURE(ExpectExactly(expected));
    ASSERT_OK(db_->Merge());
    Reopen(o);
  }
}

}  // namespace
}  // namespace bitcask::test
