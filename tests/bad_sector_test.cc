// A page the disk cannot read, met while a store opens or merges. The store's Env
// (FaultInjectionEnv::SetBadPage) maps the chosen page of a data file from an empty file
// instead, so that reading it raises SIGBUS exactly as a bad sector under a mapping does,
// while the file itself stays whole: once the test stops doing that, the same file reads
// again.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "engine/format.h"
#include "fault_env.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

namespace format = engine::format;

constexpr size_t kPage = 4096;
constexpr int kCount = 100;
constexpr size_t kValueSize = 100;
constexpr size_t kRecord = format::RecordSize(4, kValueSize);

std::string Key(int i) {
  char k[8];
  std::snprintf(k, sizeof k, "k%03d", i);
  return k;
}
std::string Value(int i) { return std::string(kValueSize, static_cast<char>('a' + i % 26)); }

class BadSectorTest : public DBTest {
 protected:
  void SetUp() override { env_ = &env_with_bad_page_; }
  void TearDown() override {
    db_.reset();  // before the Env it reads through
    env_with_bad_page_.Heal();
  }

  // kCount records in one data file; closed, so the file has its hint unless removed.
  void Fill(bool keep_hint) {
    ASSERT_OK(Open());
    for (int i = 0; i < kCount; i++) ASSERT_OK(db_->Put(Key(i), Value(i)));
    db_.reset();
    ASSERT_EQ(DataFiles(dir()).size(), 1u);
    if (!keep_hint) std::filesystem::remove(dir() + "/00000001.hint");
  }
  std::string DataFile() const { return dir() + "/00000001.data"; }
  // From now on, page 1 of the data file cannot be read.
  void BreakPage1() { env_with_bad_page_.SetBadPage(DataFile(), 1); }
  // The keys whose records touch page 1.
  static std::set<int> KeysOnPage1() {
    std::set<int> on;
    for (int i = 0; i < kCount; i++) {
      const size_t at = format::kFileHeaderSize + i * kRecord;
      if (at < 2 * kPage && at + kRecord > kPage) on.insert(i);
    }
    return on;
  }
  // Every key off page 1 reads back; those on it read as `on_page`.
  void ExpectAllBut(const std::set<int>& lost, const std::string& on_page) {
    for (int i = 0; i < kCount; i++) {
      const std::string got = Get(Key(i));
      if (lost.count(i) != 0) {
        EXPECT_NE(got.find(on_page), std::string::npos) << Key(i) << ": " << got;
      } else {
        EXPECT_EQ(got, Value(i)) << Key(i);
      }
    }
  }
  // Reopens strictly with every page readable: the store must be sound.
  void ExpectSoundWithout(const std::set<int>& lost) {
    db_.reset();
    env_with_bad_page_.Heal();
    ASSERT_OK(Open());
    CheckReport report;
    ASSERT_OK(db_->Check(&report));
    EXPECT_TRUE(report.problems.empty());
    uint64_t n = 0;
    ASSERT_OK(db_->Count(&n));
    EXPECT_EQ(n, kCount - lost.size() + 1);  // and the key written after the salvage
    ExpectAllBut(lost, "NOT_FOUND");
    EXPECT_EQ(Get("after"), "written");
  }

  FaultInjectionEnv env_with_bad_page_;
};

// Opening scans the file (no hint). A strict open fails naming the page's trouble and the
// file; salvage skips the records around the page, keeps the rest, and writes to a new file
// (the old one's mapping has a page of zeros it cannot write through); a merge then leaves a
// store a strict open takes. (Before, the salvage open failed too: a bad sector in the newest
// file, whose records no hint covers, left no way to open the store but copying the file.)
TEST_F(BadSectorTest, SalvageOpenSkipsTheRecordsOnAnUnreadablePage) {
  ASSERT_NO_FATAL_FAILURE(Fill(/*keep_hint=*/false));
  ASSERT_GE(FileSize(DataFile()), 3 * kPage);
  BreakPage1();

  Status s = Open();
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("SIGBUS"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("00000001.data"), std::string::npos) << s.ToString();

  Options salvage;
  salvage.recovery_mode = RecoveryMode::kSkipCorrupt;
  ASSERT_OK(Open(salvage));
  const std::set<int> lost = KeysOnPage1();
  ASSERT_GE(lost.size(), 30u);
  ExpectAllBut(lost, "NOT_FOUND");
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_GE(stats.corrupt_bytes_skipped, kPage);
  CheckReport report;
  EXPECT_TRUE(db_->Check(&report).IsCorruption());
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].reason.find("SIGBUS"), std::string::npos)
      << report.problems[0].reason;

  ASSERT_OK(db_->Put("after", "written"));
  EXPECT_EQ(Get("after"), "written");
  ASSERT_OK(db_->Merge());
  ExpectSoundWithout(lost);
}

// With the hint, the open reads no record and the keys on the page fail when read (an
// IOError naming SIGBUS). A strict merge keeps the file; a merge of a salvage open drops
// those keys with it.
TEST_F(BadSectorTest, SalvageMergeDropsTheKeysWhoseRecordsCannotBeRead) {
  ASSERT_NO_FATAL_FAILURE(Fill(/*keep_hint=*/true));
  BreakPage1();
  const std::set<int> lost = KeysOnPage1();

  ASSERT_OK(Open());
  ExpectAllBut(lost, "SIGBUS");
  Status s = db_->Merge();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(std::filesystem::exists(DataFile()));
  db_.reset();

  Options salvage;
  salvage.recovery_mode = RecoveryMode::kSkipCorrupt;
  ASSERT_OK(Open(salvage));
  ExpectAllBut(lost, "SIGBUS");
  ASSERT_OK(db_->Put("after", "written"));
  ASSERT_OK(db_->Merge());
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_EQ(stats.damaged_keys_dropped, lost.size());
  ExpectAllBut(lost, "NOT_FOUND");
  ExpectSoundWithout(lost);
}

}  // namespace
}  // namespace bitcask::test
