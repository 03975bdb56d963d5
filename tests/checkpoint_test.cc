// DB::Checkpoint: a copy of a live store in a new directory, made while it is written.

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "test_util.h"

namespace bitcask::test {
namespace {

class CheckpointTest : public DBTest {
 protected:
  std::string cp() const { return tmp_.Sub("checkpoint"); }

  // The names in a directory, sorted.
  static std::vector<std::string> Entries(const std::string& path) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static nlink_t Links(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_nlink : 0;
  }
};

TEST_F(CheckpointTest, HoldsTheStoreAsItWasAndOpensAsAStore) {
  Options options;
  options.max_file_size = 4096;
  options.auto_merge = false;
  ASSERT_OK(Open(options));
  std::map<std::string, std::string> model;
  for (int i = 0; i < 300; i++) {
    const std::string k = "key" + std::to_string(i), v = std::string(40, char('a' + i % 26));
    ASSERT_OK(db_->Put(k, v));
    model[k] = v;
  }
  for (int i = 0; i < 300; i += 3) {
    ASSERT_OK(db_->Delete("key" + std::to_string(i)));
    model.erase("key" + std::to_string(i));
  }
  WriteBatch batch;
  batch.Put("x", "1");
  batch.Put("y", "1");
  ASSERT_OK(db_->Write(batch));
  model["x"] = model["y"] = "1";
  WriteOptions ttl;
  ttl.ttl_ms = 3'600'000;
  ASSERT_OK(db_->Put("ttl", "v", ttl));
  model["ttl"] = "v";
  ASSERT_OK(db_->Merge());  // sealed files with hints, then more writes after it
  for (int i = 0; i < 50; i++) {
    ASSERT_OK(db_->Put("late" + std::to_string(i), "v"));
    model["late" + std::to_string(i)] = "v";
  }

  ASSERT_OK(db_->Checkpoint(cp()));
  // Writes after the checkpoint are not in it.
  ASSERT_OK(db_->Put("after", "1"));
  ASSERT_OK(db_->Delete("x"));

  // Sealed data files and their hints are links to the store's own files.
  size_t linked = 0, hints = 0;
  for (const auto& name : DataFiles(cp())) {
    if (Links(cp() + "/" + name) == 2) linked++;
  }
  for (const auto& e : std::filesystem::directory_iterator(cp())) {
    if (e.path().extension() == ".hint") hints++;
  }
  EXPECT_GT(linked, 0u);
  EXPECT_GT(hints, 0u);
  EXPECT_EQ(Entries(tmp_.path()), (std::vector<std::string>{"checkpoint", "db"}));

  std::unique_ptr<DB> copy;
  ASSERT_OK(DB::Open(Options(), cp(), &copy));
  std::vector<std::string> keys;
  ASSERT_OK(copy->Keys(&keys));
  ASSERT_EQ(keys.size(), model.size());
  for (const auto& [k, v] : model) {
    std::string got;
    ASSERT_OK(copy->Get(k, &got));
    EXPECT_EQ(got, v) << k;
  }
  uint64_t expiry = 0;
  ASSERT_OK(copy->GetWithExpiry("ttl", nullptr, &expiry));
  EXPECT_GT(expiry, 0u);
  CheckReport report;
  EXPECT_OK(copy->Check(&report));
  // The copy is a store of its own: writes to it leave the original alone, and back.
  ASSERT_OK(copy->Put("only-in-copy", "1"));
  ASSERT_OK(copy->Close());
  EXPECT_EQ(Get("only-in-copy"), "NOT_FOUND");
  EXPECT_EQ(Get("after"), "1");
  Reopen(options);
  EXPECT_EQ(Get("after"), "1");
  EXPECT_EQ(Get("x"), "NOT_FOUND");
  EXPECT_OK(db_->Check(&report));
}

TEST_F(CheckpointTest, RefusesWhatItCannotDo) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("k", "v"));
  Status s = db_->Checkpoint(dir());  // the store's own directory exists
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.ToString().find("exists"), std::string::npos) << s.ToString();
  EXPECT_TRUE(db_->Checkpoint("").IsInvalidArgument());
  s = db_->Checkpoint(tmp_.Sub("no/such/parent"));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  // A staging directory a crash left behind is in nobody's way (and nothing of it gets in).
  const std::string leftover = cp() + ".checkpoint-tmp.Ab12Cd";
  ASSERT_EQ(::mkdir(leftover.c_str(), 0755), 0);
  WriteFile(leftover + "/00000099.data", "junk");
  ASSERT_OK(db_->Checkpoint(cp()));
  EXPECT_EQ(DataFiles(cp()).size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(leftover + "/00000099.data"));
  Options read_only;
  read_only.read_only = true;
  std::unique_ptr<DB> reader;
  ASSERT_OK(DB::Open(read_only, dir(), &reader));
  s = reader->Checkpoint(tmp_.Sub("from-reader"));
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  ASSERT_OK(db_->Close());
  EXPECT_TRUE(db_->Checkpoint(tmp_.Sub("again")).IsClosed());
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("again")));
}

// Two checkpoints into one directory at once (two clients of a server, say): one makes it
// whole, the other says it exists. They used to share a staging directory, which the second
// cleared and refilled under the first: the first could then report success for a directory
// that missed files.
TEST_F(CheckpointTest, TwoAtOnceIntoOneDirectory) {
  Options options;
  options.max_file_size = 4096;
  options.auto_merge = false;
  ASSERT_OK(Open(options));
  const int n = 3000;
  for (int i = 0; i < n; i++) ASSERT_OK(db_->Put("key" + std::to_string(i), std::string(40, 'v')));
  for (int round = 0; round < 8; round++) {
    const std::string target = cp() + std::to_string(round);
    std::atomic<int> ready{0};
    Status results[2];
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        results[t] = db_->Checkpoint(target);
      });
    }
    for (auto& th : threads) th.join();
    const int ok = results[0].ok() + results[1].ok();
    ASSERT_EQ(ok, 1) << results[0].ToString() << " / " << results[1].ToString();
    const Status& other = results[0].ok() ? results[1] : results[0];
    EXPECT_TRUE(other.IsInvalidArgument()) << other.ToString();
    EXPECT_NE(other.ToString().find("exists"), std::string::npos) << other.ToString();
    std::unique_ptr<DB> copy;
    ASSERT_OK(DB::Open(Options(), target, &copy));
    uint64_t live = 0;
    ASSERT_OK(copy->Count(&live));
    EXPECT_EQ(live, uint64_t{n}) << "round " << round;
  }
  // No staging directory is left behind.
  for (const std::string& name : Entries(tmp_.path())) {
    EXPECT_EQ(name.find("checkpoint-tmp"), std::string::npos) << name;
  }
}

// Onto another file system no hard link can be made: the files are copied.
TEST_F(CheckpointTest, CopiesAcrossFileSystems) {
  struct stat here {
  }, shm{};
  if (::stat(tmp_.path().c_str(), &here) != 0 || ::stat("/dev/shm", &shm) != 0 ||
      here.st_dev == shm.st_dev) {
    GTEST_SKIP() << "no second file system (/dev/shm) beside " << tmp_.path();
  }
  Options options;
  options.max_file_size = 4096;
  ASSERT_OK(Open(options));
  for (int i = 0; i < 200; i++) ASSERT_OK(db_->Put("k" + std::to_string(i), std::string(50, 'v')));
  ASSERT_OK(db_->Merge());  // hint files too
  const std::string target = "/dev/shm/bitcask-checkpoint-test-" + std::to_string(::getpid());
  std::filesystem::remove_all(target);
  ASSERT_OK(db_->Checkpoint(target));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(target)) {
    EXPECT_EQ(Links(e.path().string()), 1u) << e.path();
    files++;
  }
  EXPECT_GT(files, 2u);
  {
    std::unique_ptr<DB> copy;
    ASSERT_OK(DB::Open(Options(), target, &copy));
    uint64_t n = 0;
    ASSERT_OK(copy->Count(&n));
    EXPECT_EQ(n, 200u);
    CheckReport report;
    EXPECT_OK(copy->Check(&report));
  }
  std::filesystem::remove_all(target);
}

// Writers, batches and merges run while checkpoints are taken: each checkpoint holds every
// write acknowledged before it began, never part of a batch, and checks clean.
TEST_F(CheckpointTest, WhileWritingAndMerging) {
  Options options;
  options.max_file_size = 16 * 1024;
  options.auto_merge = false;
  ASSERT_OK(Open(options));
  constexpr int kWriters = 2;
  std::atomic<bool> stop{false};
  std::atomic<int> acked[kWriters] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop; i++) {
        const std::string v = std::to_string(i);
        WriteBatch b;
        b.Put("w" + std::to_string(t) + "-" + std::to_string(i % 500), v);
        b.Put("pair" + std::to_string(t) + "a", v);
        b.Put("pair" + std::to_string(t) + "b", v);
        if (!db_->Write(b).ok()) return;
        acked[t].store(i + 1);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop) {
      if (!db_->Merge().ok()) return;
    }
  });
  for (int round = 0; round < 5; round++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int before[kWriters];
    for (int t = 0; t < kWriters; t++) before[t] = acked[t].load();
    const std::string where = tmp_.Sub("cp" + std::to_string(round));
    ASSERT_OK(db_->Checkpoint(where));
    std::unique_ptr<DB> copy;
    ASSERT_OK(DB::Open(Options(), where, &copy));
    CheckReport report;
    EXPECT_OK(copy->Check(&report));
    for (int t = 0; t < kWriters; t++) {
      std::string a, b;
      ASSERT_OK(copy->Get("pair" + std::to_string(t) + "a", &a));
      ASSERT_OK(copy->Get("pair" + std::to_string(t) + "b", &b));
      EXPECT_EQ(a, b) << "round " << round << ": half a batch";
      EXPECT_GE(std::stoi(a), before[t] - 1)
          << "round " << round << ": an acknowledged write is missing";
      // The last 500 writes of each thread, by key, as far as the checkpoint reaches.
      const int last = std::stoi(a);
      for (int i = std::max(0, last - 499); i <= last; i++) {
        std::string v;
        ASSERT_OK(copy->Get("w" + std::to_string(t) + "-" + std::to_string(i % 500), &v));
        EXPECT_EQ(v, std::to_string(i));
      }
    }
  }
  stop = true;
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace bitcask::test
