// The LOCK file: one writer per directory, read-only opens alongside.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

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

}  // namespace
}  // namespace bitcask::test
