// Crash tests: a child process writes and acknowledges each write on a pipe; the test kills
// it with SIGKILL at an arbitrary moment, reopens the store and checks that every
// acknowledged write is there and nothing else is wrong.
//
// In every sync mode the store is reopened as the kill left it (the page cache survives a
// process). The power_cut_* cases write through power_writer and then cut the power: they
// reopen, one after another, several stores a power cut could leave (only what was flushed;
// random mixes of that and later pages; see PowerCutImage). With kAlways every acknowledged
// write must be there; with kInterval those a DB::Sync that returned covered.

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>

#include "test_util.h"

extern char** environ;

namespace bitcask::test {
namespace {

std::string ValueFor(long i) {  // must match crash_writer.cc
  std::string v = "value-" + std::to_string(i) + "-";
  v.append(static_cast<size_t>(i % 300), static_cast<char>('a' + i % 26));
  return v;
}

struct Ack {
  std::string kind;
  long n;
};

// Runs crash_writer with args, reads acknowledgements until `kill_after` of them arrived,
// then SIGKILLs it. Returns every acknowledgement read, including any that raced the kill.
std::vector<Ack> RunAndKill(const char* writer, const std::vector<std::string>& args,
                            int kill_after) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  std::vector<std::string> argv_storage = {writer};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawn(&pid, writer, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  EXPECT_EQ(rc, 0);
  std::vector<Ack> acks;
  FILE* in = ::fdopen(pipefd[0], "r");
  char line[128];
  int count = 0;
  bool killed = false;
  while (std::fgets(line, sizeof line, in) != nullptr) {
    char kind[16];
    long n;
    if (std::sscanf(line, "%15s %ld", kind, &n) == 2) acks.push_back({kind, n});
    if (++count == kill_after && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;  // keep reading: lines already in the pipe were acknowledged too
    }
  }
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer ended on its own (status " << status << ") after " << acks.size()
      << " acknowledgements";
  return acks;
}

class CrashTest : public DBTest, public ::testing::WithParamInterface<std::string> {
 protected:
  static constexpr std::string_view kPowerCut = "power_cut_";
  bool power_cut() const { return GetParam().starts_with(kPowerCut); }
  std::string sync() const {
    return power_cut() ? GetParam().substr(kPowerCut.size()) : GetParam();
  }
  // A write is durable once acknowledged, except for a power cut without kAlways: then once
  // a DB::Sync that began after it returned (the writer syncs every 64 operations).
  bool durable_at_sync() const { return power_cut() && sync() != "always"; }
  std::string shadow() const { return tmp_.Sub("shadow"); }

  // Runs the writer in `mode` on dir() and kills it after `kill_after` acknowledgements.
  // Returns the writes that must survive; last_written_ is the number of the last one that
  // may have reached the store. Small files, so kills also land around rotations.
  std::vector<Ack> Crash(const std::string& mode, int kill_after) {
    std::vector<std::string> args = {dir(), mode, sync(), "65536"};
    std::vector<Ack> acks;
    if (!power_cut()) {
      acks = RunAndKill(CRASH_WRITER_PATH, args, kill_after);
    } else {
      if (durable_at_sync()) args.push_back("64");
      SeedPowerShadow(dir(), shadow());
      ::setenv("BITCASK_POWER_SHADOW", shadow().c_str(), 1);
      acks = RunAndKill(POWER_WRITER_PATH, args, kill_after);
      ::unsetenv("BITCASK_POWER_SHADOW");
    }
    long covered = 0;  // by the last DB::Sync that returned
    for (const Ack& a : acks) {
      if (a.kind == "synced") covered = a.n;
    }
    std::erase_if(acks, [](const Ack& a) { return a.kind == "synced"; });
    last_written_ = 0;
    for (const Ack& a : acks) last_written_ = std::max(last_written_, a.n + 1);  // + 1: in flight
    if (durable_at_sync()) acks.resize(std::min<size_t>(acks.size(), static_cast<size_t>(covered)));
    return acks;
  }

  // Runs check (which opens dir()) on each store the crash can have left in dir(), closing
  // the store after each. The last one stays for the next round.
  void ForEachOutcome(const std::function<void()>& check) {
    if (!power_cut()) {
      check();
      db_.reset();
      return;
    }
    ForEachPowerCut(shadow(), 4, check);
  }
  long last_written_ = 0;

  // Rounds of: the writer puts key-0, key-1, ... in `mode` until killed; every put that
  // must survive is there after the crash.
  void ExpectAcknowledgedPutsSurvive(const std::string& mode, uint32_t seed, int rounds) {
    std::mt19937 rng(seed);
    for (int round = 0; round < rounds; round++) {
      SCOPED_TRACE("round " + std::to_string(round));
      const std::vector<Ack> acks = Crash(mode, KillAfter(rng));
      ASSERT_FALSE(acks.empty());
      ForEachOutcome([&] {
        ASSERT_OK(Open());
        for (const Ack& a : acks) {
          ASSERT_EQ(Get("key-" + std::to_string(a.n)), ValueFor(a.n)) << "acknowledged put " << a.n;
        }
      });
      if (HasFatalFailure()) return;
    }
  }

  int KillAfter(std::mt19937& rng) const {
    return sync() == "always" ? 100 + static_cast<int>(rng() % 400)
                              : 1000 + static_cast<int>(rng() % 20000);
  }
};

TEST_P(CrashTest, AcknowledgedPutsSurvive) {
  // Each round writes keys from 0 again, so later rounds overwrite earlier ones.
  ExpectAcknowledgedPutsSurvive("puts", /*seed=*/1, /*rounds=*/3);
}

// Writers in four threads share flushes (with kAlways): at a power cut several records are
// on their way, in pages the kernel writes back in any order.
TEST_P(CrashTest, ConcurrentAcknowledgedPutsSurvive) {
  ExpectAcknowledgedPutsSurvive("threads", /*seed=*/5, /*rounds=*/2);
}

TEST_P(CrashTest, BatchesAreAllOrNothing) {
  std::mt19937 rng(2);
  long acked = -1;
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::vector<Ack> acks = Crash("batches", KillAfter(rng) / 5 + 10);
    ASSERT_FALSE(acks.empty());
    acked = std::max(acked, acks.back().n);
    ForEachOutcome([&] {
      ASSERT_OK(Open());
      // Every acknowledged batch is whole; the one after may be whole or absent, never partial.
      for (long i = 0; i <= std::max(acked + 1, last_written_); i++) {
        int present = 0;
        for (int j = 0; j < 10; j++) {
          const std::string got = Get("b-" + std::to_string(i) + "-" + std::to_string(j));
          if (got != "NOT_FOUND") {
            ASSERT_EQ(got, ValueFor(i));
            present++;
          }
        }
        if (i <= acks.back().n) {
          ASSERT_EQ(present, 10) << "acknowledged batch " << i;
        } else {
          ASSERT_TRUE(present == 0 || present == 10) << "batch " << i << " is partial: " << present;
        }
      }
    });
    if (HasFatalFailure()) return;
  }
}

TEST_P(CrashTest, OverwritesKeepTheNewestAcknowledgedValue) {
  std::mt19937 rng(3);
  const std::vector<Ack> acks = Crash("overwrite", KillAfter(rng));
  ASSERT_FALSE(acks.empty());
  std::map<int, long> newest;  // key -> last acknowledged write
  for (const Ack& a : acks) newest[static_cast<int>(a.n % 50)] = a.n;
  ForEachOutcome([&] {
    ASSERT_OK(Open());
    for (const auto& [k, n] : newest) {
      const std::string got = Get("key-" + std::to_string(k));
      // The newest acknowledged value, or a later one that reached the store.
      bool newest_or_later = false;
      for (long m = n; m <= last_written_; m += 50) newest_or_later |= got == ValueFor(m);
      ASSERT_TRUE(newest_or_later) << "key-" << k << ": " << got;
    }
  });
}

TEST_P(CrashTest, DeletesStayDeleted) {
  std::mt19937 rng(4);
  const std::vector<Ack> acks = Crash("deletes", KillAfter(rng));
  ASSERT_FALSE(acks.empty());
  std::set<long> deleted, put;
  for (const Ack& a : acks) (a.kind == "del" ? deleted : put).insert(a.n);
  ForEachOutcome([&] {
    ASSERT_OK(Open());
    for (long n : put) {
      const std::string got = Get("key-" + std::to_string(n));
      if (deleted.count(n)) {
        ASSERT_EQ(got, "NOT_FOUND") << "deleted key-" << n << " came back";
      } else if (n != *put.rbegin()) {
        ASSERT_EQ(got, ValueFor(n));
      }
    }
  });
}

// A writer that never flushed is killed; a second one opens the same store with kAlways,
// writes and is killed too; then the power goes. The second writer's acknowledged writes went
// into files (and under names) the first one left in the page cache only: its flushes must
// make those durable as well, and the sync marks it writes must not vouch for older files
// it never flushed (or recovery takes what the power cut did to them for corruption).
TEST_F(DBTest, PowerCutAfterARestartKeepsWhatTheSecondRunSynced) {
  const std::string shadow = tmp_.Sub("shadow");
  SeedPowerShadow(dir(), shadow);
  ::setenv("BITCASK_POWER_SHADOW", shadow.c_str(), 1);
  // No flush in the first run: interval mode, killed well within its first second.
  RunAndKill(POWER_WRITER_PATH, {dir(), "puts", "interval", "65536"}, 3000);
  const std::vector<Ack> acks =
      RunAndKill(POWER_WRITER_PATH, {dir(), "puts", "always", "65536"}, 20);
  ::unsetenv("BITCASK_POWER_SHADOW");
  ASSERT_FALSE(acks.empty());
  ForEachPowerCut(shadow, 6, [&] {
    ASSERT_OK(Open());
    for (const Ack& a : acks) {
      ASSERT_EQ(Get("key-" + std::to_string(a.n)), ValueFor(a.n)) << "acknowledged put " << a.n;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(SyncModes, CrashTest,
                         ::testing::Values("none", "interval", "always", "power_cut_always",
                                           "power_cut_interval"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace bitcask::test
