// A file that goes away between a look at the directory and its opening: what a merge in the
// writer does to a hint file (deleted with its data file) while a reader checks the store.
// The reader's Env removes the file first when its name ends as chosen, just before it is
// opened, so the race happens every time rather than once in a thousand.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "fault_env.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

TEST_F(DBTest, CheckOfAReaderTakesAHintAMergeDeletesForNoProblem) {
  Options options;
  options.max_file_size = 4096;
  ASSERT_OK(Open(options));
  PutNumbered(db_.get(), 300);
  ASSERT_OK(db_->Merge());  // its outputs come with hint files
  FaultInjectionEnv env;
  Options ro;
  ro.read_only = true;
  ro.env = &env;
  std::unique_ptr<DB> reader;
  ASSERT_OK(DB::Open(ro, dir(), &reader));
  // As if the writer merged again while the reader checks: each hint goes just as the
  // check opens it (the reader still has the data files mapped, and checks them).
  int vanished = 0;
  env.SetBeforeCall([&](FaultInjectionEnv::Kind kind, const std::string& path) {
    if (kind == FaultInjectionEnv::kOpen && std::string_view(path).ends_with(".hint") &&
        ::unlink(path.c_str()) == 0) {
      vanished++;
    }
  });
  CheckReport report;
  const Status s = reader->Check(&report);
  env.SetBeforeCall(nullptr);
  EXPECT_GT(vanished, 0);
  EXPECT_OK(s);
  for (const CheckProblem& p : report.problems) ADD_FAILURE() << p.reason;
  EXPECT_EQ(report.hint_files, 0u);
  EXPECT_GT(report.records, 0u);
  ExpectNumbered(reader.get(), 300);
  reader.reset();  // before env goes
}

}  // namespace
}  // namespace bitcask::test
