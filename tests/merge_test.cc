// Merge: space comes back, nothing live is lost, nothing deleted returns, also when the
// process is killed at any step of a merge; hint files make reopening read no values.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "engine/db_impl.h"
#include "engine/format.h"
#include "merge_workload.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

uint64_t DirDataBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".data") n += e.file_size();
  }
  return n;
}

class MergeTest : public DBTest {
 protected:
  Options SmallFiles() const {
    Options o;
    o.max_file_size = 16 * 1024;
    o.auto_merge = false;
    return o;
  }
  void ExpectWorkloadState() {
    for (const auto& [k, v] : MergeWorkloadExpected()) ASSERT_EQ(Get(k), v) << k;
    for (const auto& k : MergeWorkloadGone()) ASSERT_EQ(Get(k), "NOT_FOUND") << k << " came back";
    std::vector<std::string> keys;
    ASSERT_OK(db_->Keys(&keys));
    EXPECT_EQ(keys.size(), MergeWorkloadExpected().size());
  }
  engine::DBImpl* impl() { return static_cast<engine::DBImpl*>(db_.get()); }

  // Automatic merges: 64 KiB files, checked every `interval_ms`.
  static Options AutoMerging(uint32_t interval_ms) {
    Options o;
    o.max_file_size = 64 * 1024;
    o.merge_check_interval_ms = interval_ms;
    return o;
  }
  // Puts k0..k199, 200 bytes each, five times over ('a' to 'e'): files of mostly garbage.
  void OverwriteFiveTimes() {
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 200; i++)
        ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(200, 'a' + round)));
    }
  }
  void ExpectOverwritten() {
    for (int i = 0; i < 200; i++) ASSERT_EQ(Get("k" + std::to_string(i)), std::string(200, 'e'));
  }
  // The stats once a merge has run, or after 10 s.
  Stats WaitForAMerge() {
    Stats s;
    for (int wait = 0; wait < 1000; wait++) {
      EXPECT_OK(db_->GetStats(&s));
      if (s.merges > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return s;
  }
};

TEST_F(MergeTest, MergeKeepsLiveDataAndDropsTheRest) {
  ASSERT_OK(Open(SmallFiles()));
  ASSERT_OK(MergeWorkload(db_.get()));
  Stats before;
  ASSERT_OK(db_->GetStats(&before));
  ASSERT_GT(before.data_files, 5u);
  ASSERT_OK(db_->Merge());
  ExpectWorkloadState();
  Stats after;
  ASSERT_OK(db_->GetStats(&after));
  EXPECT_EQ(after.merges, 1u);
  EXPECT_GT(after.merge_bytes_reclaimed, 0u);
  EXPECT_LT(after.total_bytes, before.total_bytes);
  EXPECT_EQ(after.dead_bytes, 0u) << "a full merge leaves no garbage and no tombstones";
  for (const FileStats& f : after.files) {
    if (!f.active) {
      EXPECT_TRUE(f.has_hint) << "file " << f.file_id;
    }
  }
  // Writes after the merge land in the new active file, after the merged ones.
  ASSERT_OK(db_->Put("key-1", "after-merge"));
  Reopen(SmallFiles());
  EXPECT_EQ(Get("key-1"), "after-merge");
  (void)db_->Delete("key-1");
  ExpectWorkloadState();
  Stats reopened;
  ASSERT_OK(db_->GetStats(&reopened));
  EXPECT_EQ(reopened.files_loaded_from_hints, reopened.data_files);
}

TEST_F(MergeTest, SpaceAfterTenOverwritesIsWithinTwentyPercentOfLiveData) {
  Options o;
  o.max_file_size = 1 << 20;
  o.auto_merge = false;
  ASSERT_OK(Open(o));
  const int keys = 5000;
  uint64_t live = 0;
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < keys; i++) {
      const std::string key = "k" + std::to_string(i);
      const std::string value(200, static_cast<char>('a' + round));
      ASSERT_OK(db_->Put(key, value));
      if (round == 9) live += key.size() + value.size();
    }
  }
  ASSERT_OK(db_->Merge());
  db_.reset();  // close: trims the active file
  const uint64_t on_disk = DirDataBytes(dir());
  std::printf("live key+value bytes %llu, data files after merge %llu (%.3fx)\n",
              (unsigned long long)live, (unsigned long long)on_disk, double(on_disk) / live);
  EXPECT_LE(on_disk, live * 12 / 10);
  ASSERT_OK(Open(o));
  EXPECT_EQ(Get("k4999"), std::string(200, 'j'));
}

TEST_F(MergeTest, ExpiredKeysAreDroppedAndStayGone) {
  Options o = SmallFiles();
  o.env = &clock_;
  ASSERT_OK(Open(o));
  for (int i = 0; i < 200; i++) {
    WriteOptions w;
    w.ttl_ms = i < 100 ? 1000 : 0;
    ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(100, 'v'), w));
  }
  clock_.Advance(2000);
  ASSERT_OK(db_->Merge());
  Stats s;
  ASSERT_OK(db_->GetStats(&s));
  EXPECT_EQ(s.live_keys, 100u);
  EXPECT_EQ(Get("k5"), "NOT_FOUND");
  EXPECT_EQ(Get("k150"), std::string(100, 'v'));
  // Even with time running backwards, a merged-away key cannot reappear.
  db_.reset();
  clock_.Set(0);
  ASSERT_OK(Open(o));
  EXPECT_EQ(Get("k5"), "NOT_FOUND");
}

// Records copied out of a batch are each committed on their own: a merged file must not keep
// the batch's "continues" flags, or a scan (a store opened without its hint files, or the
// next merge) would take them for an unfinished batch and drop them.
TEST_F(MergeTest, RecordsFromBatchesStayReadableWithoutHints) {
  ASSERT_OK(Open(SmallFiles()));
  WriteBatch batch;
  for (int i = 0; i < 300; i++) batch.Put("k" + std::to_string(i), "v" + std::to_string(i));
  ASSERT_OK(db_->Write(batch));
  // The batch's last record dies: its copies must not wait for it.
  ASSERT_OK(db_->Delete("k299"));
  ASSERT_OK(db_->Merge());
  ASSERT_OK(db_->Merge());  // a second merge reads the first one's outputs
  db_.reset();
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    if (e.path().extension() == ".hint") std::filesystem::remove(e.path());
  }
  ASSERT_OK(Open(SmallFiles()));
  for (int i = 0; i < 299; i++)
    ASSERT_EQ(Get("k" + std::to_string(i)), "v" + std::to_string(i)) << i;
  EXPECT_EQ(Get("k299"), "NOT_FOUND");
  CheckReport report;
  EXPECT_OK(db_->Check(&report));
}

TEST_F(MergeTest, PartialMergeKeepsTombstonesThatHideOlderFiles) {
  ASSERT_OK(Open(SmallFiles()));
  // File 1 (filled): the first versions. Then deletes of half, in later files.
  for (int i = 0; i < 100; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(150, 'a')));
  for (int i = 0; i < 100; i += 2) ASSERT_OK(db_->Delete("k" + std::to_string(i)));
  for (int i = 0; i < 300; i++)
    ASSERT_OK(db_->Put("filler" + std::to_string(i), std::string(150, 'f')));
  // Merge every file but the oldest: the tombstones must survive, or the deleted keys would
  // come back from file 1 at the next open.
  ASSERT_OK(impl()->MergeFiles([](const FileStats& f) { return f.file_id != 1; }));
  Reopen(SmallFiles());
  for (int i = 0; i < 100; i++) {
    EXPECT_EQ(Get("k" + std::to_string(i)), i % 2 ? std::string(150, 'a') : "NOT_FOUND") << i;
  }
  // Now a full merge may drop them: file 1 goes too.
  ASSERT_OK(db_->Merge());
  Reopen(SmallFiles());
  for (int i = 0; i < 100; i++) {
    EXPECT_EQ(Get("k" + std::to_string(i)), i % 2 ? std::string(150, 'a') : "NOT_FOUND") << i;
  }
  Stats s;
  ASSERT_OK(db_->GetStats(&s));
  EXPECT_EQ(s.dead_bytes, 0u);
}

TEST_F(MergeTest, ExpiredValueHidingAnOlderFileBecomesATombstone) {
  Options o = SmallFiles();
  o.env = &clock_;
  ASSERT_OK(Open(o));
  ASSERT_OK(db_->Put("k", "old, forever"));
  for (int i = 0; i < 200; i++)
    ASSERT_OK(db_->Put("filler" + std::to_string(i), std::string(150, 'f')));
  WriteOptions ttl;
  ttl.ttl_ms = 10;
  ASSERT_OK(db_->Put("k", "new, expiring", ttl));
  clock_.Advance(100);
  ASSERT_OK(impl()->MergeFiles([](const FileStats& f) { return f.file_id != 1; }));
  Reopen(o);
  EXPECT_EQ(Get("k"), "NOT_FOUND");
}

TEST_F(MergeTest, AutomaticMergeRunsWhenAFileIsMostlyGarbage) {
  ASSERT_OK(Open(AutoMerging(20)));
  OverwriteFiveTimes();
  EXPECT_GE(WaitForAMerge().merges, 1u);
  ExpectOverwritten();
}

// The triggers are checked when a file fills up, not only every merge_check_interval_ms: a
// burst of overwrites does not leave its dead records on the disk until the next interval.
TEST_F(MergeTest, AutomaticMergeChecksWhenAFileFillsUp) {
  ASSERT_OK(Open(AutoMerging(3600 * 1000)));  // an hour: only a file filling up brings a check
  OverwriteFiveTimes();
  EXPECT_GE(WaitForAMerge().merges, 1u) << "no merge within 10 s of the first file filling up";
  ExpectOverwritten();
}

// A full file is not "small": with files smaller than merge_small_file_threshold (64 KiB
// against 10 MiB here), an automatic merge still takes only the files with garbage, or every
// merge would rewrite the whole store (and one runs each time a file fills up).
TEST_F(MergeTest, AutomaticMergeLeavesFullFilesWithoutGarbageAlone) {
  ASSERT_OK(Open(AutoMerging(3600 * 1000)));
  for (int i = 0; i < 400; i++)
    ASSERT_OK(db_->Put("stable" + std::to_string(i), std::string(200, 's')));
  Stats s;
  ASSERT_OK(db_->GetStats(&s));
  std::vector<uint32_t> full;  // sealed, every record live
  for (const FileStats& f : s.files) {
    if (!f.active && f.dead_bytes == 0) full.push_back(f.file_id);
  }
  ASSERT_FALSE(full.empty());
  OverwriteFiveTimes();
  s = WaitForAMerge();
  ASSERT_GE(s.merges, 1u);
  for (uint32_t id : full) {
    EXPECT_TRUE(std::any_of(s.files.begin(), s.files.end(),
                            [id](const FileStats& f) { return f.file_id == id; }))
        << "file " << id << " (full, no garbage) was merged";
  }
  for (int i = 0; i < 400; i++) ASSERT_EQ(Get("stable" + std::to_string(i)), std::string(200, 's'));
  ExpectOverwritten();
}

// A merge that fails (damage in an input, a full disk) is not tried again each time a file
// fills up, only at the next interval: each try reads its inputs up to the damage again.
TEST_F(MergeTest, AFailedAutomaticMergeWaitsForTheNextIntervalToTryAgain) {
  ASSERT_OK(Open(AutoMerging(3600 * 1000)));
  for (int i = 0; i < 300; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(200, 'v')));
  {  // a flipped byte in the first file, which the overwrites below make all garbage
    std::fstream f(dir() + "/" + DataFiles(dir()).front(),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    const char c = static_cast<char>(f.get());
    f.seekp(1000);
    f.put(static_cast<char>(c ^ 1));
  }
  // Files fill up for 2.5 s (one every 80 ms or so): each would bring a check forward.
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  for (int round = 0; std::chrono::steady_clock::now() < end; round++) {
    for (int i = 0; i < 300; i++)
      ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(200, 'a' + round % 26)));
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
  }
  Stats s;
  ASSERT_OK(db_->GetStats(&s));
  EXPECT_EQ(s.merge_failures, 1u) << s.last_merge_error;
  EXPECT_NE(s.last_merge_error.find("Corruption"), std::string::npos) << s.last_merge_error;
  EXPECT_EQ(s.merges, 0u);
}

TEST_F(MergeTest, AutomaticMergeWaitsForItsWindow) {
  Options o = AutoMerging(10);
  // A one-hour window that is not now.
  const std::time_t now = std::time(nullptr);
  std::tm tm;
  localtime_r(&now, &tm);
  o.merge_window_start_hour = (tm.tm_hour + 2) % 24;
  o.merge_window_end_hour = (tm.tm_hour + 3) % 24;
  ASSERT_OK(Open(o));
  OverwriteFiveTimes();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Stats s;
  ASSERT_OK(db_->GetStats(&s));
  EXPECT_EQ(s.merges, 0u);
}

TEST_F(MergeTest, MergeRefusedWhenReadOnlyOrClosed) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("k", "v"));
  db_.reset();
  Options ro;
  ro.read_only = true;
  ASSERT_OK(Open(ro));
  EXPECT_TRUE(db_->Merge().IsInvalidArgument());
  ASSERT_OK(db_->Close());
  EXPECT_TRUE(db_->Merge().IsClosed());
}

TEST_F(MergeTest, EmptyStoreMergesToNothing) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Merge());
  ASSERT_OK(db_->Merge());
  ASSERT_OK(db_->Put("k", "v"));
  Reopen();
  EXPECT_EQ(Get("k"), "v");
}

// A merge output ends with a sync mark covering all of it (it is flushed before it is
// published), so damage in it is corruption even where no newer file holds a mark.
TEST_F(MergeTest, DamageInAMergeOutputIsCorruptionEvenWithoutNewerSyncMarks) {
  ASSERT_OK(Open(SmallFiles()));
  ASSERT_OK(MergeWorkload(db_.get()));
  const std::vector<std::string> before = DataFiles(dir());
  ASSERT_OK(db_->Merge());
  db_.reset();
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    if (e.path().extension() == ".hint") std::filesystem::remove(e.path());
  }
  std::vector<std::string> outputs;
  for (const std::string& f : DataFiles(dir())) {
    if (std::find(before.begin(), before.end(), f) == before.end()) outputs.push_back(f);
  }
  const std::string newest = dir() + "/" + DataFiles(dir()).back();
  ASSERT_FALSE(outputs.empty());
  ASSERT_NE(dir() + "/" + outputs[0], newest);
  // The newest file without the mark Close ended it with: no newer mark covers the outputs.
  const std::string newest_bytes = ReadFile(newest);
  WriteFile(newest, newest_bytes.substr(0, newest_bytes.size() - engine::format::kSyncMarkSize));
  const std::string output = dir() + "/" + outputs[0];
  std::string bytes = ReadFile(output);
  bytes[bytes.size() / 2] ^= 0x20;
  WriteFile(output, bytes);
  Status s = Open(SmallFiles());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find(output), std::string::npos) << s.ToString();
}

// ---- kill -9 at every step of a merge -----------------------------------------------------

class MergeCrashTest : public MergeTest, public ::testing::WithParamInterface<const char*> {
 protected:
  // Runs `writer` (with `env` before it, for the shell): it writes MergeWorkload() with
  // SyncMode::kAlways, merges, and kills itself with SIGKILL at the point under test.
  void RunAndKillAtPoint(const std::string& env, const char* writer) {
    const std::string cmd = env + " " + writer + " '" + dir() + "' merge " + GetParam();
    const int rc = std::system(cmd.c_str());
    // The shell reports a child killed by a signal as 128 + the signal, or dies the same way.
    ASSERT_TRUE((WIFSIGNALED(rc) && WTERMSIG(rc) == SIGKILL) ||
                (WIFEXITED(rc) && WEXITSTATUS(rc) == 128 + SIGKILL))
        << "the child was not killed at " << GetParam() << " (status " << rc << ")";
  }
};

TEST_P(MergeCrashTest, KilledMidMergeReopensWithEverything) {
  ASSERT_NO_FATAL_FAILURE(RunAndKillAtPoint("", CRASH_WRITER_PATH));
  ASSERT_OK(Open(SmallFiles()));
  ExpectWorkloadState();
  // The store keeps working: a full merge now, then a reopen.
  ASSERT_OK(db_->Merge());
  Reopen(SmallFiles());
  ExpectWorkloadState();
}

// The power goes at the same points: the merge may lose only what it never flushed, and
// never a record of the workload (written with kAlways, so all of it was flushed).
TEST_P(MergeCrashTest, PowerCutMidMergeLosesNothing) {
  const std::string shadow = tmp_.Sub("shadow");
  SeedPowerShadow(dir(), shadow);
  ASSERT_NO_FATAL_FAILURE(
      RunAndKillAtPoint("BITCASK_POWER_SHADOW='" + shadow + "'", POWER_WRITER_PATH));
  ForEachPowerCut(shadow, 12, [&] {
    ASSERT_OK(Open(SmallFiles()));
    ExpectWorkloadState();
    ASSERT_OK(db_->Merge());
    Reopen(SmallFiles());
    ExpectWorkloadState();
  });
}

INSTANTIATE_TEST_SUITE_P(Points, MergeCrashTest,
                         ::testing::Values("merge:output-written", "merge:outputs-published",
                                           "merge:input-deleted", "merge:done"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == ':' || c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace bitcask::test
