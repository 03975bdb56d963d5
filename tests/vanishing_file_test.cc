// A file that goes away between a look at the directory and its opening: what a merge in the
// writer does to a hint file (deleted with its data file) while a reader checks the store.
// The test's open (linked with -Wl,--wrap=open) removes the file first when its name ends as
// chosen, so the race happens every time rather than once in a thousand.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdarg>
#include <string>
#include <string_view>

#include "test_util.h"

extern "C" {
int __real_open(const char* path, int flags, ...);
int __wrap_open(const char* path, int flags, ...);
int __real_open64(const char* path, int flags, ...);
int __wrap_open64(const char* path, int flags, ...);
}

namespace {

std::string vanish_suffix;  // empty: open as usual
int vanished = 0;

// open's third argument, there only with O_CREAT.
mode_t ModeOf(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

// Removes path first if its name ends as chosen, then opens it with `real`.
int OpenVanishing(int (*real)(const char*, int, ...), const char* path, int flags, mode_t mode) {
  if (!vanish_suffix.empty() && std::string_view(path).ends_with(vanish_suffix) &&
      ::unlink(path) == 0) {
    vanished++;
  }
  return real(path, flags, mode);
}

}  // namespace

int __wrap_open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeOf(flags, ap);
  va_end(ap);
  return OpenVanishing(__real_open, path, flags, mode);
}

int __wrap_open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeOf(flags, ap);
  va_end(ap);
  return OpenVanishing(__real_open64, path, flags, mode);
}

namespace bitcask::test {
namespace {

TEST_F(DBTest, CheckOfAReaderTakesAHintAMergeDeletesForNoProblem) {
  Options options;
  options.max_file_size = 4096;
  ASSERT_OK(Open(options));
  PutNumbered(db_.get(), 300);
  ASSERT_OK(db_->Merge());  // its outputs come with hint files
  Options ro;
  ro.read_only = true;
  std::unique_ptr<DB> reader;
  ASSERT_OK(DB::Open(ro, dir(), &reader));
  // As if the writer merged again while the reader checks: each hint goes just as the
  // check opens it (the reader still has the data files mapped, and checks them).
  vanish_suffix = ".hint";
  CheckReport report;
  const Status s = reader->Check(&report);
  vanish_suffix.clear();
  EXPECT_GT(vanished, 0);
  EXPECT_OK(s);
  for (const CheckProblem& p : report.problems) ADD_FAILURE() << p.reason;
  EXPECT_EQ(report.hint_files, 0u);
  EXPECT_GT(report.records, 0u);
  ExpectNumbered(reader.get(), 300);
}

}  // namespace
}  // namespace bitcask::test
