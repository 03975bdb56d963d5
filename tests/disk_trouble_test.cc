// A full or failing disk: a write that cannot get space fails with a clear IOError, nothing
// acknowledged is lost, the store goes on working once there is space again, and a merge that
// fails half way leaves the store as it was. The disk is simulated (FaultInjectionEnv).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/db_impl.h"
#include "fault_env.h"
#include "merge_workload.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

class DiskTroubleTest : public DBTest {
 protected:
  void SetUp() override { env_ = &disk_; }
  void TearDown() override {
    db_.reset();  // its background threads call disk_
    disk_.Heal();
  }

  // The disk: what allocations (data files are allocated ahead of their records) and writes
  // (hint files, large records) may still use; after `calls` more allocations, writes,
  // flushes and renames, each fails with ENOSPC.
  void SetDiskFree(int64_t bytes) { disk_.SetDiskFree(bytes); }
  void FailDiskAfter(int64_t calls) {
    using E = FaultInjectionEnv;
    disk_.FailAfter(E::kAllocate | E::kWrite | E::kSyncData | E::kRename, calls, ENOSPC);
  }
  void HealDisk() { disk_.Heal(); }
  uint64_t DiskFailures() const { return disk_.failures(); }
  std::vector<std::string> TakeFlushedPaths() { return disk_.TakeFlushedPaths(); }

  static Options SmallFiles() {
    Options o;
    o.max_file_size = 16 * 1024;
    o.auto_merge = false;
    return o;
  }
  engine::DBImpl* impl() { return static_cast<engine::DBImpl*>(db_.get()); }
  // A new, empty store of small files, in place of the open one (each step of a sweep).
  void OpenEmpty() {
    db_.reset();
    std::filesystem::remove_all(dir());
    ASSERT_OK(Open(SmallFiles()));
  }

  // Sealed files get their hints from a background thread: waits until it is done, so that
  // its writes do not meet a disk a test shrinks next (they did under TSan on a loaded CI).
  void WaitForHints() {
    for (int wait = 0; wait < 1000; wait++) {
      Stats stats;
      ASSERT_OK(db_->GetStats(&stats));
      if (std::all_of(stats.files.begin(), stats.files.end(),
                      [](const FileStats& f) { return f.active || f.has_hint; })) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the hints of the sealed files were not written in 10 s";
  }

  // Names in the store's directory that are neither a data file, a hint file nor the lock:
  // what a failed operation left behind.
  std::vector<std::string> Leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      const std::string name = e.path().filename();
      const std::string ext = e.path().extension();
      if (name != "LOCK" && ext != ".data" && ext != ".hint") out.push_back(name);
    }
    return out;
  }
  // Data files without even a file header: shorter than one, or starting with zeros.
  std::vector<std::string> EmptyDataFiles() const {
    std::vector<std::string> out;
    for (const std::string& name : DataFiles(dir())) {
      const std::string data = ReadFile(dir() + "/" + name);
      if (data.size() < 16 || data.substr(0, 16) == std::string(16, '\0')) out.push_back(name);
    }
    return out;
  }
  void ExpectCheckClean() {
    CheckReport report;
    ASSERT_OK(db_->Check(&report));
    EXPECT_TRUE(report.problems.empty()) << report.problems.front().reason;
  }

  FaultInjectionEnv disk_;
};

bool IsDiskFull(const Status& s) {
  return s.IsIOError() && s.ToString().find("No space left on device") != std::string::npos;
}

// Puts value under key-0, key-1, ... until one fails; returns the acknowledged ones.
std::map<std::string, std::string> PutUntilFull(DB* db, const std::string& value, Status* last,
                                                size_t limit = 100000) {
  std::map<std::string, std::string> acked;
  for (size_t i = 0; i < limit; i++) {
    const std::string key = "key-" + std::to_string(i);
    *last = db->Put(key, value);
    if (!last->ok()) break;
    acked[key] = value;
  }
  return acked;
}

TEST_F(DiskTroubleTest, FullDiskFailsPutsClearlyAndKeepsWhatWasAcknowledged) {
  Options o = SmallFiles();
  ASSERT_OK(Open(o));
  ASSERT_OK(db_->Put("before", "v"));
  SetDiskFree(64 * 1024);
  Status last;
  auto acked = PutUntilFull(db_.get(), std::string(1000, 'x'), &last);
  ASSERT_TRUE(IsDiskFull(last)) << last.ToString();
  EXPECT_NE(last.ToString().find(dir()), std::string::npos)
      << "says which file: " << last.ToString();
  EXPECT_GT(acked.size(), 40u) << "the free space is used";
  acked["before"] = "v";
  // Reads go on; so do writes that need no new space (the rest of the allocated file).
  ExpectExactly(acked);
  // Space again (someone deleted a file): the same store takes writes, across new files.
  HealDisk();
  for (int i = 0; i < 100; i++) {
    const std::string key = "after-" + std::to_string(i);
    ASSERT_OK(db_->Put(key, std::string(1000, 'y')));
    acked[key] = std::string(1000, 'y');
  }
  ExpectExactly(acked);
  db_.reset();  // and its background hint writer with it
  EXPECT_EQ(EmptyDataFiles(), std::vector<std::string>{});
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  Reopen(o);
  ExpectExactly(acked);
  ExpectCheckClean();
}

TEST_F(DiskTroubleTest, FailedRotationKeepsTheActiveFileForSmallerWrites) {
  // A record too large for the rest of the active file asks for a new file, which the full
  // disk refuses; a smaller one that still fits goes into the active file as before.
  Options o = SmallFiles();
  ASSERT_OK(Open(o));
  std::map<std::string, std::string> acked;
  for (int i = 0; i < 13; i++) {
    const std::string key = "fill-" + std::to_string(i);
    ASSERT_OK(db_->Put(key, std::string(1000, 'f')));
    acked[key] = std::string(1000, 'f');
  }
  SetDiskFree(0);
  Status s = db_->Put("large", std::string(4000, 'l'));
  ASSERT_TRUE(IsDiskFull(s)) << s.ToString();
  EXPECT_EQ(EmptyDataFiles(), std::vector<std::string>{}) << "the file that could not be made";
  HealDisk();
  ASSERT_OK(db_->Put("small", "fits"));
  acked["small"] = "fits";
  ASSERT_OK(db_->Put("large", std::string(4000, 'l')));
  acked["large"] = std::string(4000, 'l');
  ExpectExactly(acked);
  Reopen(o);
  ExpectExactly(acked);
  ExpectCheckClean();
}

TEST_F(DiskTroubleTest, FailedRotationThenRetryOnTheSameSpace) {
  Options o = SmallFiles();
  ASSERT_OK(Open(o));
  SetDiskFree(0);
  Status last;
  auto acked = PutUntilFull(db_.get(), std::string(1000, 'x'), &last);
  ASSERT_TRUE(IsDiskFull(last)) << last.ToString();
  // Still full: the same clear error, every time, not a different one.
  for (int i = 0; i < 3; i++) {
    Status again = db_->Put("more", std::string(1000, 'x'));
    EXPECT_TRUE(IsDiskFull(again)) << again.ToString();
  }
  HealDisk();
  ASSERT_OK(db_->Put("more", "after"));
  acked["more"] = "after";
  ExpectExactly(acked);
  Reopen(o);
  ExpectExactly(acked);
}

TEST_F(DiskTroubleTest, LastBytesOfTheDiskTakeSmallWrites) {
  // Space is allocated ahead in large steps; with less than a step left, writes still get
  // what they need, down to the last bytes. A new store opens on a nearly full disk too.
  SetDiskFree(256 * 1024);
  ASSERT_OK(Open());
  Status last;
  auto acked = PutUntilFull(db_.get(), std::string(100, 'x'), &last);
  ASSERT_TRUE(IsDiskFull(last)) << last.ToString();
  // 143 bytes per record: the 256 KiB hold about 1833 of them.
  EXPECT_GT(acked.size(), 1700u);
  HealDisk();
  Reopen();
  ExpectExactly(acked);
}

TEST_F(DiskTroubleTest, WritableOpenOfAFullDiskNeedsNoNewSpace) {
  Options o = SmallFiles();
  ASSERT_OK(Open(o));
  Status last;
  SetDiskFree(40 * 1024);
  auto acked = PutUntilFull(db_.get(), std::string(1000, 'x'), &last);
  ASSERT_TRUE(IsDiskFull(last)) << last.ToString();
  db_.reset();
  // Still full: a writable open works (reads, deletes to make room later).
  ASSERT_OK(Open(o));
  ExpectExactly(acked);
  HealDisk();
  ASSERT_OK(db_->Put("after", "v"));
}

TEST_F(DiskTroubleTest, OpenAfterACrashThatLeftAnEmptyNewestFileNeedsNoNewSpace) {
  // A crash right after a new file was made, before its header reached the disk: the file
  // is dropped and the one before it takes the appends again.
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("a", "1"));
  db_.reset();
  WriteFile(dir() + "/00000002.data", "");
  WriteFile(dir() + "/00000003.data", std::string(8192, '\0'));
  SetDiskFree(0);
  ASSERT_OK(Open());
  EXPECT_EQ(Get("a"), "1");
  EXPECT_EQ(DataFiles(dir()), std::vector<std::string>{"00000001.data"});
  HealDisk();
  ASSERT_OK(db_->Put("b", "2"));
  EXPECT_EQ(DataFiles(dir()), std::vector<std::string>{"00000001.data"});
  Reopen();
  EXPECT_EQ(Get("a"), "1");
  EXPECT_EQ(Get("b"), "2");
}

TEST_F(DiskTroubleTest, AFailedFlushStopsWritesUntilReopen) {
  // After a failed fdatasync the kernel may have dropped the pages it could not write, and
  // a second fdatasync can succeed without them: a store that retried would acknowledge
  // writes it lost. Every later write and sync reports the first failure instead.
  Options o;
  o.sync_mode = SyncMode::kAlways;
  ASSERT_OK(Open(o));
  ASSERT_OK(db_->Put("before", "1"));
  FailDiskAfter(0);
  Status s = db_->Put("failed", "2");
  ASSERT_TRUE(IsDiskFull(s)) << s.ToString();
  EXPECT_NE(s.ToString().find("fdatasync"), std::string::npos) << s.ToString();
  HealDisk();  // the disk is fine again, but what the failed flush held may be gone
  for (Status later : {db_->Put("later", "3"), db_->Delete("before"), db_->Sync()}) {
    EXPECT_EQ(later.ToString(), s.ToString());
  }
  EXPECT_EQ(Get("before"), "1");  // reads go on
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.write_error, s.ToString()) << "for health checks: writes are refused";
  EXPECT_EQ(db_->Close().ToString(), s.ToString()) << "a clean close would promise too much";
  db_.reset();
  ASSERT_OK(Open(o));  // a reopen reads what is on disk and starts over
  EXPECT_EQ(Get("before"), "1");
  EXPECT_EQ(Get("later"), "NOT_FOUND");
  ASSERT_OK(db_->Put("later", "3"));
  EXPECT_EQ(Get("later"), "3");
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.write_error, "");
}

TEST_F(DiskTroubleTest, MergeWithoutRoomForItsOutputDoesNotStart) {
  // It would fail half way, after taking the last of the disk from writers.
  ASSERT_OK(Open(SmallFiles()));
  ASSERT_OK(MergeWorkload(db_.get()));
  ASSERT_NO_FATAL_FAILURE(WaitForHints());
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  const std::vector<std::string> files = DataFiles(dir());
  const uint64_t failures = DiskFailures();
  SetDiskFree(static_cast<int64_t>((stats.total_bytes - stats.dead_bytes) / 2));
  Status s = db_->Merge();
  ASSERT_TRUE(IsDiskFull(s)) << s.ToString();
  EXPECT_NE(s.ToString().find("a merge needs about"), std::string::npos) << s.ToString();
  EXPECT_EQ(DiskFailures(), failures) << "it asked the disk for nothing";
  EXPECT_EQ(DataFiles(dir()), files) << "not even a new active file";
  // An automatic merge has no caller to tell: Stats does.
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.merge_failures, 1u);
  EXPECT_EQ(stats.last_merge_error, s.ToString());
  HealDisk();
  ASSERT_OK(db_->Merge());
  ExpectExactly(MergeWorkloadExpected());
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.merge_failures, 1u);
  EXPECT_EQ(stats.last_merge_error, "") << "the last merge worked";
}

// A merge that hits the full disk at any step: it fails with the disk's error, every key
// still reads as before, nothing it wrote is left behind, and the next merge (once there is
// space), whichever files it takes, loses nothing. Swept over every call of the merge that
// asks the disk for something.
TEST_F(DiskTroubleTest, MergeFailingAtAnyStepLeavesTheStoreAsItWas) {
  const auto expected = MergeWorkloadExpected();
  int failed_merges = 0;
  for (int64_t n = 0;; n++) {
    SCOPED_TRACE("disk fails after " + std::to_string(n) + " calls");
    ASSERT_NO_FATAL_FAILURE(OpenEmpty());
    ASSERT_OK(MergeWorkload(db_.get()));
    ASSERT_NO_FATAL_FAILURE(WaitForHints());
    std::vector<uint32_t> before;
    for (const std::string& name : DataFiles(dir())) before.push_back(std::stoul(name));
    const uint64_t failures = DiskFailures();
    FailDiskAfter(n);
    Status s = db_->Merge();
    HealDisk();
    if (DiskFailures() == failures) {
      ASSERT_OK(s);  // the merge needed fewer than n calls: every step was tried
      break;
    }
    failed_merges++;
    ASSERT_TRUE(IsDiskFull(s)) << s.ToString();
    ExpectExactly(expected);
    // An automatic merge would take the files it took before (they still look fragmented);
    // a merge of those alone must not drop a record that only a failed output held.
    ASSERT_OK(impl()->MergeFiles([&](const FileStats& f) {
      return std::find(before.begin(), before.end(), f.file_id) != before.end();
    }));
    ExpectExactly(expected);
    db_.reset();
    EXPECT_EQ(Leftovers(), std::vector<std::string>{}) << "what the failed merge wrote";
    ASSERT_OK(Open(SmallFiles()));
    ExpectExactly(expected);
    ExpectCheckClean();
  }
  EXPECT_GT(failed_merges, 10);
}

// The same in salvage mode, with damage in the first file: a failed merge takes back the
// copies of the records after the damage too (its scan to take them back skips damage as
// the merge's did), so every key still reads and the next merge runs.
TEST_F(DiskTroubleTest, FailedSalvageMergeTakesBackWhatItCopiedPastTheDamage) {
  Options salvage = SmallFiles();
  salvage.recovery_mode = RecoveryMode::kSkipCorrupt;
  int failed_merges = 0;
  for (int64_t n = 0;; n++) {
    SCOPED_TRACE("disk fails after " + std::to_string(n) + " calls");
    ASSERT_NO_FATAL_FAILURE(OpenEmpty());
    for (int i = 0; i < 200; i++) {
      ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(100, 'v')));
    }
    db_.reset();
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      if (e.path().extension() == ".hint") std::filesystem::remove(e.path());
    }
    const std::string first = dir() + "/" + DataFiles(dir()).front();
    std::string bytes = ReadFile(first);
    bytes[100] ^= 0x20;  // the first record
    WriteFile(first, bytes);
    ASSERT_OK(Open(salvage));
    std::map<std::string, std::string> expected;
    for (int i = 1; i < 200; i++) expected["k" + std::to_string(i)] = std::string(100, 'v');
    ExpectExactly(expected);

    const uint64_t failures = DiskFailures();
    FailDiskAfter(n);
    Status s = db_->Merge();
    HealDisk();
    if (DiskFailures() == failures) {
      ASSERT_OK(s);
      break;
    }
    failed_merges++;
    ASSERT_TRUE(IsDiskFull(s)) << s.ToString();
    ExpectExactly(expected);
    ASSERT_OK(db_->Merge());
    ExpectExactly(expected);
    db_.reset();
    ASSERT_OK(Open(SmallFiles()));  // strict: the damage went with the merge
    ExpectExactly(expected);
    ExpectCheckClean();
  }
  EXPECT_GT(failed_merges, 5);
}

TEST_F(DiskTroubleTest, FirstFlushAfterOpenCoversOlderFilesAnEarlierRunLeftUnflushed) {
  // A run killed before it flushed leaves pages of its older files, and the names of its new
  // ones, in the page cache only. The next run's first flush must make them durable too:
  // its sync mark vouches for every older file (and its synced writes need the names).
  // Files without a complete hint are the ones that may be unflushed (a hint is written
  // only after its data file is flushed).
  ASSERT_OK(Open(SmallFiles()));
  for (int i = 0; i < 60; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(1000, 'v')));
  db_.reset();
  std::vector<std::string> files = DataFiles(dir());
  ASSERT_GE(files.size(), 4u);
  for (const std::string& f : files)
    std::filesystem::remove(dir() + "/" + f.substr(0, 8) + ".hint");
  Options o = SmallFiles();
  o.sync_mode = SyncMode::kAlways;
  // Flushed from the open until the put is acknowledged: by the put's flush, or before it by
  // the background hint writer (a file is flushed once: a later flush of it does nothing).
  TakeFlushedPaths();
  ASSERT_OK(Open(o));
  // The background hint writer may flush some first (these stores' pages are clean, so its
  // flushes are quick): the files the first flush is to cover are checked directly too.
  const std::vector<uint32_t> pending = impl()->TEST_FilesAwaitingFlush();
  for (size_t i = 0; i + 1 < files.size(); i++) {
    const uint32_t id = static_cast<uint32_t>(std::stoul(files[i].substr(0, 8)));
    EXPECT_NE(std::find(pending.begin(), pending.end(), id), pending.end())
        << files[i] << " is not among the files the first flush covers";
  }
  ASSERT_OK(db_->Put("new", "v"));
  const std::vector<std::string> flushed = TakeFlushedPaths();
  for (const std::string& f : files) {
    EXPECT_NE(std::find(flushed.begin(), flushed.end(), dir() + "/" + f), flushed.end())
        << f << " was not flushed before the first synced write was acknowledged";
  }
  EXPECT_NE(std::find(flushed.begin(), flushed.end(), dir()), flushed.end()) << "the directory";
}

TEST_F(DiskTroubleTest, FailingMergesBesideWritersLoseNothing) {
  // Writers go on while merges fail at one step after another (the writers' own file
  // rotations fail too when the disk does): every write a writer saw succeed is there at
  // the end, and nothing it saw deleted or overwritten comes back.
  ASSERT_OK(Open(SmallFiles()));
  constexpr int kWriters = 2, kKeys = 150;
  std::atomic<bool> stop{false};
  std::vector<std::map<std::string, std::string>> models(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      auto& model = models[w];
      for (uint64_t i = 0; !stop.load(); i++) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i * 7 % kKeys);
        if (i % 5 == 4) {
          const Status s = db_->Delete(key);
          if (s.ok()) model.erase(key);
        } else {
          const std::string value = std::to_string(i) + std::string(300, 'v');
          if (db_->Put(key, value).ok()) model[key] = value;
        }
      }
    });
  }
  int failed = 0;
  for (int64_t n = 0; n < 40; n++) {
    FailDiskAfter(n);
    if (!db_->Merge().ok()) failed++;
    HealDisk();
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_GT(failed, 10);
  std::map<std::string, std::string> expected;
  for (const auto& m : models) expected.insert(m.begin(), m.end());
  ExpectExactly(expected);
  ASSERT_OK(db_->Merge());
  ExpectExactly(expected);
  db_.reset();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  ASSERT_OK(Open(SmallFiles()));
  ExpectExactly(expected);
  ExpectCheckClean();
}

}  // namespace
}  // namespace bitcask::test
