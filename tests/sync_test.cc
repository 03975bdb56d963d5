// Sync policies: always flushes before acknowledging, with concurrent writers sharing
// flushes (group commit); interval flushes in the background; WriteOptions::sync forces one.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "engine/format.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

Stats GetStats(DB* db) {
  Stats s;
  EXPECT_OK(db->GetStats(&s));
  return s;
}

TEST_F(DBTest, SyncAlwaysFlushesEveryWrite) {
  Options options;
  options.sync_mode = SyncMode::kAlways;
  ASSERT_OK(Open(options));
  const uint64_t before = GetStats(db_.get()).syncs;
  for (int i = 0; i < 20; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), "v"));
  // One writer, nobody to share with: a flush per write.
  EXPECT_EQ(GetStats(db_.get()).syncs - before, 20u);
}

TEST_F(DBTest, ConcurrentSyncWritersShareFlushes) {
  Options options;
  options.sync_mode = SyncMode::kAlways;
  options.max_file_size = 64 * 1024;  // rotations while writers wait
  ASSERT_OK(Open(options));
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        ASSERT_OK(
            db_->Put("t" + std::to_string(t) + "-" + std::to_string(i), std::string(100, 'x')));
      }
    });
  }
  for (auto& th : threads) th.join();
  const Stats stats = GetStats(db_.get());
  EXPECT_EQ(stats.puts, uint64_t{kThreads * kPerThread});
  EXPECT_LT(stats.syncs, stats.puts) << "no two writers ever shared a flush";
  std::printf("group commit: %llu puts, %llu flushes\n", (unsigned long long)stats.puts,
              (unsigned long long)stats.syncs);
  Reopen();
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPerThread; i++) {
      ASSERT_EQ(Get("t" + std::to_string(t) + "-" + std::to_string(i)), std::string(100, 'x'));
    }
  }
}

TEST_F(DBTest, SyncIntervalFlushesInTheBackground) {
  Options options;
  options.sync_mode = SyncMode::kInterval;
  options.sync_interval_ms = 10;
  ASSERT_OK(Open(options));
  const uint64_t written = GetStats(db_.get()).bytes_written;
  ASSERT_OK(db_->Put("k", "v"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (GetStats(db_.get()).syncs == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(GetStats(db_.get()).syncs, 1u);
  // Idle: nothing new to flush, so no more flushes.
  const uint64_t settled = GetStats(db_.get()).syncs;
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(GetStats(db_.get()).syncs, settled);
  // The flush was followed by a sync mark (see recovery.h), which calls for no flush itself.
  EXPECT_EQ(GetStats(db_.get()).bytes_written - written,
            engine::format::RecordSize(1, 1) + engine::format::kSyncMarkSize);
}

TEST_F(DBTest, SyncNoneFlushesOnlyWhenAsked) {
  ASSERT_OK(Open());
  for (int i = 0; i < 10; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), "v"));
  EXPECT_EQ(GetStats(db_.get()).syncs, 0u);
  WriteOptions sync;
  sync.sync = true;
  ASSERT_OK(db_->Put("durable", "v", sync));
  EXPECT_EQ(GetStats(db_.get()).syncs, 1u);
  ASSERT_OK(db_->Put("later", "v"));
  ASSERT_OK(db_->Sync());
  EXPECT_EQ(GetStats(db_.get()).syncs, 2u);
  ASSERT_OK(db_->Sync());  // nothing new: no flush needed
  EXPECT_EQ(GetStats(db_.get()).syncs, 2u);
}

// The active file is written through 2 MiB pages only while flushes come far apart: a flush
// writes back whole pages, so with small pages it costs about what was appended, with huge
// ones up to 4 MiB more.
TEST_F(DBTest, HugePagesOnlyWhileFlushesAreFarApart) {
  Options options;  // SyncMode::kNone
  options.max_file_size = 4 << 20;
  ASSERT_OK(Open(options));
  EXPECT_TRUE(GetStats(db_.get()).huge_pages);
  const std::string value(1000, 'v');
  auto write = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; i++) ASSERT_OK(db_->Put(prefix + std::to_string(i), value));
  };
  // A flush 10 MB of appends after the last keeps them.
  ASSERT_NO_FATAL_FAILURE(write("a", 10000));
  ASSERT_OK(db_->Sync());
  EXPECT_TRUE(GetStats(db_.get()).huge_pages);
  // Two synced writes in a row turn them off.
  WriteOptions sync;
  sync.sync = true;
  ASSERT_OK(db_->Put("s1", value, sync));
  ASSERT_OK(db_->Put("s2", value, sync));
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  ASSERT_NO_FATAL_FAILURE(write("b", 100));
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  // Once flushes are far apart again, they come back, and new files start with them.
  ASSERT_NO_FATAL_FAILURE(write("c", 9000));
  ASSERT_OK(db_->Sync());
  EXPECT_TRUE(GetStats(db_.get()).huge_pages);
  const size_t files = GetStats(db_.get()).files.size();
  for (int i = 0; GetStats(db_.get()).files.size() == files; i++) {
    ASSERT_OK(db_->Put("d" + std::to_string(i), value));
  }
  EXPECT_TRUE(GetStats(db_.get()).huge_pages);
  // Records written either way read back, before and after reopening.
  const std::vector<std::string> keys = {"a0", "a9999", "s1", "s2", "b99", "c8999", "d0"};
  for (const auto& key : keys) ASSERT_EQ(Get(key), value) << key;
  Reopen(options);
  EXPECT_TRUE(GetStats(db_.get()).huge_pages) << "a new session starts with huge pages";
  for (const auto& key : keys) ASSERT_EQ(Get(key), value) << key;
}

// The SyncMode::kInterval thread's flushes count too: a store written a little at a time and
// flushed every interval must not write back 2 MiB pages for a few bytes each time.
TEST_F(DBTest, IntervalFlushesOfALightLoadTurnHugePagesOff) {
  Options options;
  options.sync_mode = SyncMode::kInterval;
  options.sync_interval_ms = 10;
  ASSERT_OK(Open(options));
  EXPECT_TRUE(GetStats(db_.get()).huge_pages);
  for (int i = 0; i < 200 && GetStats(db_.get()).huge_pages; i++) {
    ASSERT_OK(db_->Put("k" + std::to_string(i), "small"));
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  EXPECT_EQ(Get("k0"), "small");
}

// Options::huge_pages false: never, not even while flushes are far apart or in a new file.
TEST_F(DBTest, HugePagesOffByOption) {
  Options options;
  options.huge_pages = false;
  options.max_file_size = 1 << 20;
  ASSERT_OK(Open(options));
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  const std::string value(1000, 'v');
  for (int i = 0; i < 3000; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), value));
  ASSERT_OK(db_->Sync());
  EXPECT_GT(GetStats(db_.get()).files.size(), 1u);
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  Reopen(options);
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
  EXPECT_EQ(Get("k2999"), value);
}

TEST_F(DBTest, SyncAlwaysNeverUsesHugePages) {
  Options options;
  options.sync_mode = SyncMode::kAlways;
  ASSERT_OK(Open(options));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_FALSE(GetStats(db_.get()).huge_pages);
}

}  // namespace
}  // namespace bitcask::test
