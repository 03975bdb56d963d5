// The `bitcask` command-line tool, run as a user runs it: a child process with arguments,
// standard input and output, and an exit status. The store it works on is prepared and
// inspected through the library.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "test_util.h"

namespace bitcask::test {
namespace {

struct Result {
  int code = -1;
  std::string out;  // standard output and standard error, interleaved
};

// Runs `bitcask ARGS` through the shell (ARGS are shell words), stdin from /dev/null unless
// ARGS redirect it.
Result RunCli(const std::string& args) {
  const std::string cmd = std::string(CLI_PATH) + " " + args + " 2>&1";
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliTest : public DBTest {
 protected:
  // `bitcask --dir <dir()> ARGS`
  Result Cli(const std::string& args) { return RunCli("--dir " + dir() + " " + args); }

  // A closed store with keys k000..k199, each value 100 bytes; returns the data file.
  std::string MakeStore() {
    Options o;
    o.auto_merge = false;
    EXPECT_OK(Open(o));
    for (int i = 0; i < 200; i++) {
      char k[16];
      std::snprintf(k, sizeof k, "k%03d", i);
      EXPECT_OK(db_->Put(k, std::string(100, char('a' + i % 26))));
    }
    EXPECT_OK(db_->Close());
    db_.reset();
    const auto files = DataFiles(dir());
    EXPECT_EQ(files.size(), 1u);
    return files.empty() ? "" : dir() + "/" + files[0];
  }
};

TEST_F(CliTest, PutGetDeleteAndExitCodes) {
  EXPECT_EQ(Cli("put user:1 alice").code, 0);
  Result r = Cli("get user:1");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "alice");  // no newline added when stdout is not a terminal

  r = Cli("get user:2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("key 'user:2' not found"), std::string::npos) << r.out;

  EXPECT_EQ(Cli("delete user:1").code, 0);
  EXPECT_EQ(Cli("get user:1").code, 1);
  r = Cli("delete user:1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("not found"), std::string::npos) << r.out;

  // What the tool wrote is in the store, durably.
  ASSERT_OK(Open());
  EXPECT_EQ(Get("user:1"), "NOT_FOUND");
}

TEST_F(CliTest, ValueFromStandardInputKeepsBinaryBytes) {
  const std::string value("\x00\x01\xff\xfe text\n", 10);
  WriteFile(tmp_.Sub("value.bin"), value);
  EXPECT_EQ(Cli("put blob - < " + tmp_.Sub("value.bin")).code, 0);
  ASSERT_OK(Open());
  EXPECT_EQ(Get("blob"), value);
}

TEST_F(CliTest, PutWithTtlSetsAnExpiry) {
  EXPECT_EQ(Cli("put session x --ttl 60").code, 0);
  ASSERT_OK(Open());
  uint64_t expiry = 0;
  ASSERT_OK(db_->GetWithExpiry("session", nullptr, &expiry));
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  EXPECT_GT(expiry, now + 50'000);
  EXPECT_LE(expiry, now + 60'000);
  db_.reset();
  // Below a millisecond: rounded up, never down to 0 (which would mean no expiry).
  EXPECT_EQ(Cli("put blink x --ttl 0.0001").code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_OK(Open());
  EXPECT_EQ(Get("blink"), "NOT_FOUND");
}

TEST_F(CliTest, ScanByPrefixRangeReverseAndLimit) {
  ASSERT_OK(Open());
  for (const char* k : {"a:1", "a:2", "a:3", "b:1", "b:2", "c:1"})
    ASSERT_OK(db_->Put(k, std::string("v") + k));
  db_.reset();

  EXPECT_EQ(Cli("scan").out, "a:1\na:2\na:3\nb:1\nb:2\nc:1\n");
  EXPECT_EQ(Cli("scan --prefix b:").out, "b:1\nb:2\n");
  EXPECT_EQ(Cli("scan --start a:2 --end b:2").out, "a:2\na:3\nb:1\n");
  EXPECT_EQ(Cli("scan --reverse --limit 2").out, "c:1\nb:2\n");
  EXPECT_EQ(Cli("scan --prefix a: --values --limit 1").out, "a:1\tva:1\n");
}

TEST_F(CliTest, ReadersWorkBesideAWriterAndWritersGetAClearError) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Sync());

  Result r = Cli("get k");  // read-only open next to the live writer
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "v");

  r = Cli("put k other");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("Busy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has the store open for writing"), std::string::npos) << r.out;
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(CliTest, MissingStoreIsAnErrorNotAnEmptyStore) {
  const Result r = Cli("get k");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no such store"), std::string::npos) << r.out;
  EXPECT_NE(::access(dir().c_str(), F_OK), 0);  // and nothing was created
}

TEST_F(CliTest, UsageErrorsExitWithTwoAndHelpWithZero) {
  Result r = RunCli("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--dir is required"), std::string::npos) << r.out;
  EXPECT_EQ(Cli("frobnicate").code, 2);
  EXPECT_EQ(Cli("get").code, 2);  // KEY missing
  EXPECT_EQ(Cli("put k v --ttl -3").code, 2);
  for (const char* ttl : {"0", "nan", "inf", "1e300", "5x", "abc"}) {
    r = Cli(std::string("put k v --ttl ") + ttl);
    EXPECT_EQ(r.code, 2) << ttl;
    EXPECT_NE(r.out.find("--ttl: expects a number of seconds above 0"), std::string::npos) << r.out;
  }
  for (const char* limit : {"-1", "1.5", "x"}) {
    r = Cli(std::string("scan --limit ") + limit);
    EXPECT_EQ(r.code, 2) << limit;
    EXPECT_NE(r.out.find("--limit: expects a whole number of keys"), std::string::npos) << r.out;
  }

  r = RunCli("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* sub :
       {"get", "put", "delete", "scan", "stats", "merge", "check", "repair", "dump", "load"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + sub + " "), std::string::npos) << sub;
  }
  r = RunCli("scan --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--prefix"), std::string::npos) << r.out;
}

TEST_F(CliTest, DumpAndLoadRoundTripTextBinaryAndExpiry) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("text", "héllo \"quoted\"\n"));
  ASSERT_OK(db_->Put(std::string("bin\xff", 4), std::string("\x00\x80\xff", 3)));
  WriteOptions ttl;
  ttl.ttl_ms = 3'600'000;
  ASSERT_OK(db_->Put("temp", "soon gone", ttl));
  uint64_t expiry = 0;
  ASSERT_OK(db_->GetWithExpiry("temp", nullptr, &expiry));
  db_.reset();

  Result r = Cli("dump --output " + tmp_.Sub("dump.jsonl"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dumped 3 keys"), std::string::npos) << r.out;
  const std::string dump = ReadFile(tmp_.Sub("dump.jsonl"));
  EXPECT_NE(dump.find("\"key_base64\":\"Ymlu/w==\""), std::string::npos) << dump;  // "bin\xff"
  EXPECT_NE(dump.find("\"expire_at_ms\":" + std::to_string(expiry)), std::string::npos) << dump;

  r = RunCli("--dir " + tmp_.Sub("copy") + " load --input " + tmp_.Sub("dump.jsonl"));
  ASSERT_EQ(r.code, 0) << r.out;
  std::unique_ptr<DB> copy;
  ASSERT_OK(DB::Open(Options(), tmp_.Sub("copy"), &copy));
  std::string v;
  ASSERT_OK(copy->Get("text", &v));
  EXPECT_EQ(v, "héllo \"quoted\"\n");
  ASSERT_OK(copy->Get(std::string("bin\xff", 4), &v));
  EXPECT_EQ(v, std::string("\x00\x80\xff", 3));
  uint64_t copied_expiry = 0;
  ASSERT_OK(copy->GetWithExpiry("temp", &v, &copied_expiry));
  EXPECT_EQ(copied_expiry, expiry);
  uint64_t n = 0;
  ASSERT_OK(copy->Count(&n));
  EXPECT_EQ(n, 3u);
}

// Every value the store accepts goes through dump | load byte for byte, whatever bytes it
// holds: text that is almost UTF-8 (an overlong NUL, a surrogate, a code point past
// U+10FFFF) made dump abort before (nlohmann::json refused to write it).
TEST_F(CliTest, DumpAndLoadRoundTripEveryByteString) {
  ASSERT_OK(Open());
  std::vector<std::pair<std::string, std::string>> records = {
      {"overlong",
       "a\xC0\x80"
       "b"},
      {"surrogate", "\xED\xA0\x80"},
      {"past-max", "\xF4\x90\x80\x80"},
      {"overlong3", "\xE0\x80\xAF"},
      {"truncated", "ok\xE2\x82"},
      {"stray", "\x80"},
      {"emoji", "\xF0\x9F\x98\x80 \xE2\x82\xAC"},
      {std::string("key\xED\xBF\xBF", 6), "surrogate in the key"},
      {"empty", ""},
  };
  std::string all_bytes;
  for (int b = 0; b < 256; b++) all_bytes.push_back(static_cast<char>(b));
  records.emplace_back("all-bytes", all_bytes);
  for (const auto& [k, v] : records) ASSERT_OK(db_->Put(k, v));
  db_.reset();

  const std::string dump_path = tmp_.Sub("dump.jsonl");
  Result r = Cli("dump --output " + dump_path);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string dump = ReadFile(dump_path);
  EXPECT_NE(dump.find("\"value\":\"\xF0\x9F\x98\x80 \xE2\x82\xAC\""), std::string::npos)
      << "valid UTF-8 stays text";
  // Through a pipe, as users run it.
  r = RunCli("--dir " + dir() + " dump 2>/dev/null | " + std::string(CLI_PATH) + " --dir " +
             tmp_.Sub("copy") + " load");
  ASSERT_EQ(r.code, 0) << r.out;
  std::unique_ptr<DB> copy;
  ASSERT_OK(DB::Open(Options(), tmp_.Sub("copy"), &copy));
  uint64_t n = 0;
  ASSERT_OK(copy->Count(&n));
  EXPECT_EQ(n, records.size());
  for (const auto& [k, v] : records) {
    std::string got;
    ASSERT_OK(copy->Get(k, &got));
    EXPECT_EQ(got, v) << k;
  }
}

TEST_F(CliTest, LoadNamesTheBadLine) {
  WriteFile(tmp_.Sub("bad.jsonl"), "{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\"}\n");
  const Result r = Cli("load --input " + tmp_.Sub("bad.jsonl"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("line 2 of the input is not a dump record"), std::string::npos) << r.out;
}

TEST_F(CliTest, StatsAsTextAndJson) {
  MakeStore();
  Result r = Cli("stats");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("live keys      200"), std::string::npos) << r.out;
  r = Cli("stats --json");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("\"live_keys\": 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"fragmentation\""), std::string::npos) << r.out;
}

TEST_F(CliTest, MergeReclaimsOverwrittenSpace) {
  ASSERT_OK(Open());
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 100; i++)
      ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(1000, 'x')));
  }
  db_.reset();
  uint64_t before = 0;
  for (const auto& f : DataFiles(dir())) before += FileSize(dir() + "/" + f);

  const Result r = Cli("merge");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("merged:"), std::string::npos) << r.out;
  uint64_t after = 0;
  for (const auto& f : DataFiles(dir())) after += FileSize(dir() + "/" + f);
  EXPECT_LT(after * 5, before) << before << " -> " << after;
  ASSERT_OK(Open());
  EXPECT_EQ(Get("k99"), std::string(1000, 'x'));
}

TEST_F(CliTest, CheckpointCopiesTheStore) {
  MakeStore();
  const std::string copy = tmp_.Sub("copy");
  Result r = Cli("checkpoint " + copy);
  ASSERT_EQ(r.code, 0) << r.out;
  r = RunCli("--dir " + copy + " get k150");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, std::string(100, char('a' + 150 % 26)));
  r = Cli("checkpoint " + copy);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("exists; a checkpoint goes into a new directory"), std::string::npos)
      << r.out;
}

TEST_F(CliTest, CheckReportsAFlippedByteWithFileAndOffset) {
  const std::string file = MakeStore();
  EXPECT_EQ(Cli("check").code, 0);

  std::string bytes = ReadFile(file);
  const size_t at = bytes.size() / 2;
  bytes[at] ^= 0x40;
  WriteFile(file, bytes);

  const Result r = Cli("check");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("PROBLEM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(file.substr(file.rfind('/') + 1)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("offset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bitcask repair"), std::string::npos) << r.out;
}

// Two ways a damaged record meets repair: with the hint file the store opens and the record's
// checksum fails when it is read; without it (a crash lost the hint) the open itself finds it.
class CliRepairTest : public CliTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CliRepairTest, CopiesEveryReadableKeyIntoANewStore) {
  const bool keep_hint = GetParam();
  const std::string file = MakeStore();
  std::string bytes = ReadFile(file);
  bytes[bytes.size() / 2] ^= 0x40;  // damages one record in the middle
  WriteFile(file, bytes);
  const std::string hint = file.substr(0, file.size() - 5) + ".hint";
  ASSERT_EQ(::access(hint.c_str(), F_OK), 0) << hint;
  if (!keep_hint) {
    ASSERT_EQ(::unlink(hint.c_str()), 0);
  }

  if (!keep_hint) {  // a strict open refuses the damaged store
    std::unique_ptr<DB> strict;
    EXPECT_TRUE(DB::Open(Options(), dir(), &strict).IsCorruption());
  }

  const Result r = Cli("repair --output " + tmp_.Sub("fixed"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("copied 199 keys"), std::string::npos) << r.out;
  if (keep_hint) {
    EXPECT_NE(r.out.find("1 unreadable"), std::string::npos) << r.out;
  }

  std::unique_ptr<DB> fixed;
  ASSERT_OK(DB::Open(Options(), tmp_.Sub("fixed"), &fixed));
  uint64_t n = 0;
  ASSERT_OK(fixed->Count(&n));
  EXPECT_EQ(n, 199u);
  std::string v;
  ASSERT_OK(fixed->Get("k000", &v));
  EXPECT_EQ(v, std::string(100, 'a'));
  ASSERT_OK(fixed->Get("k199", &v));
  EXPECT_EQ(v, std::string(100, char('a' + 199 % 26)));
  fixed.reset();

  // The output must be new: repair never writes into an existing store.
  const Result again = Cli("repair --output " + tmp_.Sub("fixed"));
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("fixed"), std::string::npos) << again.out;
}

// The same damage mended in place: afterwards a strict open and Check find nothing wrong, and
// every key but the damaged one reads back.
TEST_P(CliRepairTest, MergeSalvageRewritesTheStoreWithoutTheDamage) {
  const bool keep_hint = GetParam();
  const std::string file = MakeStore();
  std::string bytes = ReadFile(file);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteFile(file, bytes);
  if (!keep_hint) {
    ASSERT_EQ(::unlink((file.substr(0, file.size() - 5) + ".hint").c_str()), 0);
  }
  EXPECT_EQ(Cli("check").code, 1);
  if (!keep_hint) {  // a plain merge cannot even open the store
    const Result plain = Cli("merge");
    EXPECT_EQ(plain.code, 1) << plain.out;
    EXPECT_NE(plain.out.find("Corruption"), std::string::npos) << plain.out;
  }

  const Result r = Cli("merge --salvage");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(keep_hint ? "1 keys whose records were damaged dropped"
                                 : "0 keys whose records were damaged dropped"),
            std::string::npos)
      << r.out;
  const Result check = Cli("check");
  EXPECT_EQ(check.code, 0) << check.out;

  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(Options(), dir(), &db));
  uint64_t n = 0;
  ASSERT_OK(db->Count(&n));
  EXPECT_EQ(n, 199u);
  std::string v;
  ASSERT_OK(db->Get("k199", &v));
  EXPECT_EQ(v, std::string(100, char('a' + 199 % 26)));
}

INSTANTIATE_TEST_SUITE_P(HintFile, CliRepairTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Kept" : "Lost"; });

}  // namespace
}  // namespace bitcask::test
