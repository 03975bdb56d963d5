// The LOCK file: one writer per directory, read-only opens alongside.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "engine/db_impl.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

// Output of `crash_writer DIR open`: the Status of an Open in another process.
std::string OpenInOtherProcess(const std::string& dir) {
  const std::string cmd = std::string(CRASH_WRITER_PATH) + " '" + dir + "' open";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512] = {0};
  if (p != nullptr) {
    if (std::fgets(buf, sizeof buf, p) == nullptr) buf[0] = 0;
    ::pclose(p);
  }
  return buf;
}

TEST_F(DBTest, SecondWriterInSameProcessIsRefused) {
  ASSERT_OK(Open());
  std::unique_ptr<DB> second;
  Status s = DB::Open(Options(), dir(), &second);
  ASSERT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.ToString().find(dir() + "/LOCK"), std::string::npos) << s.ToString();
  EXPECT_EQ(second, nullptr);
  // Once the first closes, the next writer gets in.
  ASSERT_OK(db_->Close());
  ASSERT_OK(DB::Open(Options(), dir(), &second));
}

TEST_F(DBTest, SecondWriterInOtherProcessIsRefused) {
  ASSERT_OK(Open());
  const std::string out = OpenInOtherProcess(dir());
  EXPECT_EQ(out.rfind("Busy: ", 0), 0u) << out;
  db_.reset();
  EXPECT_EQ(OpenInOtherProcess(dir()), "OK\n");
}

TEST_F(DBTest, ReadOnlyOpensAlongsideAWriter) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("k", "v1"));
  Options ro;
  ro.read_only = true;
  std::unique_ptr<DB> reader1, reader2;
  ASSERT_OK(DB::Open(ro, dir(), &reader1));
  ASSERT_OK(DB::Open(ro, dir(), &reader2));
  std::string v;
  ASSERT_OK(reader1->Get("k", &v));
  EXPECT_EQ(v, "v1");
  // The writer keeps writing; a reader sees the store as it was when it opened.
  ASSERT_OK(db_->Put("k", "v2"));
  ASSERT_OK(db_->Put("new", "x"));
  ASSERT_OK(reader1->Get("k", &v));
  EXPECT_EQ(v, "v1");
  EXPECT_TRUE(reader1->Get("new", &v).IsNotFound());
  // A reader opened later sees the new writes, even before the writer closes.
  std::unique_ptr<DB> reader3;
  ASSERT_OK(DB::Open(ro, dir(), &reader3));
  ASSERT_OK(reader3->Get("k", &v));
  EXPECT_EQ(v, "v2");
  ASSERT_OK(reader3->Get("new", &v));
  EXPECT_EQ(v, "x");
}

// Sets the process-wide hook of Recover for one test, and counts the points it reaches.
class OpenHook {
 public:
  explicit OpenHook(std::function<void(std::string_view)> at) {
    engine::DBImpl::TEST_SetOpenHook([this, at = std::move(at)](std::string_view point) {
      (point == "open:listed" ? listed : mapped)++;
      at(point);
    });
  }
  ~OpenHook() { engine::DBImpl::TEST_SetOpenHook(nullptr); }
  int listed = 0, mapped = 0;
};

TEST_F(DBTest, ReadOnlyOpenStartsOverWhenAMergeDeletesFilesItListed) {
  Options options;
  options.max_file_size = 4096;
  ASSERT_OK(Open(options));
  PutNumbered(db_.get(), 300);
  ASSERT_GT(DataFiles(dir()).size(), 3u);
  Options ro;
  ro.read_only = true;
  std::unique_ptr<DB> reader;
  {
    // Between the reader's listing and its opening of the files, a merge replaces them all.
    OpenHook hook([&](std::string_view point) {
      if (point == "open:listed" && hook.listed == 1) ASSERT_OK(db_->Merge());
    });
    ASSERT_OK(DB::Open(ro, dir(), &reader));
    EXPECT_EQ(hook.listed, 2);  // once more, from a new listing
  }
  ExpectNumbered(reader.get(), 300);
  CheckReport report;
  EXPECT_OK(reader->Check(&report));
}

TEST_F(DBTest, ReadOnlyOpenStartsOverWhenTheWriterCutsAFileShortUnderIt) {
  // Strict, and salvaging as `bitcask check` opens a store beside its server (which would
  // pass over the page as damage, and Check report it).
  for (RecoveryMode mode : {RecoveryMode::kStrict, RecoveryMode::kSkipCorrupt}) {
    SCOPED_TRACE(mode == RecoveryMode::kStrict ? "strict" : "salvage");
    std::filesystem::remove_all(dir());
    Options options;
    options.max_file_size = 1 << 20;  // the active file is made this long, its end zeros
    ASSERT_OK(Open(options));
    PutNumbered(db_.get(), 300);
    Options ro;
    ro.read_only = true;
    ro.recovery_mode = mode;
    std::unique_ptr<DB> reader;
    {
      // Once the reader has mapped the active file, the writer closes and trims it: the
      // mapping's end is past the end of the file (a read there is a SIGBUS).
      OpenHook hook([&](std::string_view point) {
        if (point == "open:mapped" && hook.mapped == 1) ASSERT_OK(db_->Close());
      });
      ASSERT_OK(DB::Open(ro, dir(), &reader));
      EXPECT_EQ(hook.listed, 2);
    }
    ExpectNumbered(reader.get(), 300);
    Stats stats;
    ASSERT_OK(reader->GetStats(&stats));
    EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
    CheckReport report;
    EXPECT_OK(reader->Check(&report));
    db_.reset();
  }
}

TEST_F(DBTest, ReadOnlyOpenOfAStoreThatKeepsChangingGivesUpWithAClearError) {
  Options options;
  options.max_file_size = 4096;
  ASSERT_OK(Open(options));
  PutNumbered(db_.get(), 300);
  Options ro;
  ro.read_only = true;
  std::unique_ptr<DB> reader;
  OpenHook hook([&](std::string_view point) {
    if (point == "open:listed") ASSERT_OK(db_->Merge());  // every time
  });
  const Status s = DB::Open(ro, dir(), &reader);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("a writer changed the store under a read-only open 20 times"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(hook.listed, 20);
  EXPECT_EQ(reader, nullptr);
}

}  // namespace
}  // namespace bitcask::test
