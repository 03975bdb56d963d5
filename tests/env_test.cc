// The Env seam (bitcask/env.h): the operating system's Env does what the store needs, and a
// fault in any kind of call the store makes, at any point of a workload, alone or combined
// with others, never loses an acknowledged write nor returns damage as data.

#include "bitcask/env.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "fault_env.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

TEST(EnvTest, DefaultEnvDoesWhatTheStoreNeeds) {
  TempDir tmp;
  Env* env = Env::Default();
  int fd = -1;
  EXPECT_TRUE(env->OpenFile(tmp.Sub("missing"), O_RDONLY, 0, &fd).IsNotFound());
  ASSERT_TRUE(env->OpenFile(tmp.Sub("f"), O_RDWR | O_CREAT, 0644, &fd).ok());
  const std::string_view pieces[] = {"hello ", "", "world"};
  ASSERT_TRUE(env->WriteAt(fd, 0, pieces, "f").ok());
  char buf[32];
  size_t n = 0;
  ASSERT_TRUE(env->ReadAt(fd, 0, buf, sizeof buf, &n, "f").ok());
  EXPECT_EQ(std::string(buf, n), "hello world");
  uint64_t size = 0;
  ASSERT_TRUE(env->FileSize(fd, "f", &size).ok());
  EXPECT_EQ(size, 11u);
  ASSERT_TRUE(env->Allocate(fd, 0, 8192, "f").ok());
  ASSERT_TRUE(env->FileSize(fd, "f", &size).ok());
  EXPECT_EQ(size, 8192u);
  ASSERT_TRUE(env->Truncate(fd, 5, "f").ok());
  ASSERT_TRUE(env->SyncData(fd, "f").ok());
  ::close(fd);
  bool created = false;
  ASSERT_TRUE(env->CreateDir(tmp.Sub("a/b/c"), &created).ok());
  EXPECT_TRUE(created);
  ASSERT_TRUE(env->CreateDir(tmp.Sub("a/b/c"), &created).ok());
  EXPECT_FALSE(created);
  EXPECT_TRUE(env->CreateDir(tmp.Sub("f"), &created).IsInvalidArgument());
  ASSERT_TRUE(env->LinkFile(tmp.Sub("f"), tmp.Sub("a/g")).ok());
  ASSERT_TRUE(env->RenameFile(tmp.Sub("a/g"), tmp.Sub("a/h")).ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env->ListDir(tmp.Sub("a"), &names).ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"b", "h"}));
  EXPECT_TRUE(env->FileExists(tmp.Sub("a/h")).ok());
  ASSERT_TRUE(env->RemoveFile(tmp.Sub("a/h")).ok());
  EXPECT_TRUE(env->FileExists(tmp.Sub("a/h")).IsNotFound());
  EXPECT_TRUE(env->RemoveDir(tmp.Sub("a")).IsIOError());  // not empty
  ASSERT_TRUE(env->SyncDir(tmp.path()).ok());
  uint64_t free_bytes = 0;
  ASSERT_TRUE(env->FreeSpace(tmp.path(), &free_bytes).ok());
  EXPECT_GT(free_bytes, 0u);
  int lock = -1, second = -1;
  ASSERT_TRUE(env->LockFile(tmp.Sub("LOCK"), &lock).ok());
  EXPECT_TRUE(env->LockFile(tmp.Sub("LOCK"), &second).IsBusy());
  ::close(lock);
  EXPECT_GT(env->NowUnixMillis(), 1'700'000'000'000u);
}

class EnvFaultTest : public DBTest {
 protected:
  void SetUp() override { env_ = &faults_; }
  void TearDown() override {
    db_.reset();
    faults_.Heal();
  }

  // On a new store: puts, a delete, a batch, large records (written with pwritev), a flush,
  // a merge, a checkpoint and a reopen; what was acknowledged goes into *acked. Stops at the
  // first error, which it returns.
  Status Workload(std::map<std::string, std::string>* acked, int round) {
    acked->clear();
    Options o;
    o.max_file_size = 8192;
    o.sync_mode = SyncMode::kNone;  // one Sync below: flushes are faulted, not made slow
    o.auto_merge = false;
    db_.reset();
    std::filesystem::remove_all(dir());
    Status s = Open(o);
    const std::string r = std::to_string(round);
    for (int i = 0; s.ok() && i < 40; i++) {
      const std::string k = "r" + r + "-k" + std::to_string(i);
      const std::string v(i % 7 == 0 ? 3000 : 100, static_cast<char>('a' + i % 26));
      s = db_->Put(k, v);
      if (s.ok()) (*acked)[k] = v;
    }
    if (s.ok()) {
      s = db_->Delete("r" + r + "-k1");
      if (s.ok()) acked->erase("r" + r + "-k1");
    }
    if (s.ok()) {
      WriteBatch b;
      b.Put("r" + r + "-batch-a", "1");
      b.Put("r" + r + "-batch-b", "2");
      s = db_->Write(b);
      if (s.ok()) (*acked)["r" + r + "-batch-a"] = "1", (*acked)["r" + r + "-batch-b"] = "2";
    }
    if (s.ok()) s = db_->Sync();
    if (s.ok()) s = db_->Merge();
    if (s.ok()) s = db_->Checkpoint(tmp_.Sub("cp-" + r));
    if (s.ok()) {
      db_.reset();
      s = Open(o);
    }
    return s;
  }

  // After the faults are gone: the store opens, holds every acknowledged write (and may hold
  // writes whose acknowledgement failed: they were not promised either way), and checks
  // clean.
  void ExpectAcknowledged(const std::map<std::string, std::string>& acked) {
    faults_.Heal();
    db_.reset();
    ASSERT_OK(Open());
    for (const auto& [k, v] : acked) ASSERT_EQ(Get(k), v) << k;
    CheckReport report;
    EXPECT_OK(db_->Check(&report));
    for (const CheckProblem& p : report.problems) ADD_FAILURE() << p.reason;
  }

  FaultInjectionEnv faults_;
};

// Each kind of call fails once, at each point of the workload it reaches (EIO), and then
// every one of its kind from there on (ENOSPC): the operation that met it reports it, and
// nothing acknowledged is lost.
TEST_F(EnvFaultTest, AFaultInAnyKindOfCallAtAnyPointLosesNothing) {
  using E = FaultInjectionEnv;
  const uint32_t kinds[] = {E::kOpen,      E::kAllocate, E::kTruncate, E::kWrite,    E::kSyncData,
                            E::kMap,       E::kRename,   E::kRemove,   E::kLink,     E::kListDir,
                            E::kCreateDir, E::kSyncDir,  E::kLock,     E::kFileSize, E::kExists};
  std::map<std::string, std::string> acked;
  int round = 0, failed = 0;
  for (uint32_t kind : kinds) {
    // How many calls of this kind a clean run makes: the points to fail at.
    const uint64_t before = faults_.calls(kind);
    ASSERT_OK(Workload(&acked, round++));
    const uint64_t made = faults_.calls(kind) - before;
    for (uint64_t n = 0; n < made; n += std::max<uint64_t>(1, made / 12)) {
      for (const auto& [err, times] :
           {std::pair{EIO, int64_t{1}}, std::pair{ENOSPC, int64_t{-1}}}) {
        faults_.FailAfter(kind, static_cast<int64_t>(n), err, times);
        const uint64_t failures = faults_.failures();
        const Status s = Workload(&acked, round++);
        if (faults_.failures() > failures) {
          failed++;
          if (!s.ok()) {
            EXPECT_NE(s.ToString().find("(injected)"), std::string::npos)
                << "an error that does not come from the fault: " << s.ToString();
          }
        }
        ASSERT_NO_FATAL_FAILURE(ExpectAcknowledged(acked));
      }
    }
  }
  EXPECT_GT(failed, 100) << "the faults were not met";
}

// Faults together: a disk with little room left whose writes stop half way, beside flushes
// that fail now and then.
TEST_F(EnvFaultTest, CombinedFaultsAndShortWritesLoseNothing) {
  std::map<std::string, std::string> acked;
  for (int round = 0; round < 20; round++) {
    faults_.SetShortWrites(true);
    faults_.SetDiskFree(20'000 + round * 3'000);
    faults_.FailAfter(FaultInjectionEnv::kSyncData, round % 5, EIO, 1);
    (void)Workload(&acked, round);
    ASSERT_NO_FATAL_FAILURE(ExpectAcknowledged(acked));
  }
  EXPECT_GT(faults_.failures(), 20u);
}

}  // namespace
}  // namespace bitcask::test
