// CommitListener: every committed write, in the store's one order, whole batches at once,
// dropped expired keys too; and a checkpoint's at_point marks where in that order the copy
// stands. Replaying what the listener heard rebuilds the store.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace bitcask::test {
namespace {

// Records what it hears.
class Recorder : public CommitListener {
 public:
  struct Entry {
    CommittedWrite::Kind kind;
    std::string key, value;
    uint64_t expire_at_ms;
    size_t batch;  // the OnCommit call it came in
  };
  void OnCommit(std::span<const CommittedWrite> writes) override {
    std::lock_guard l(mu_);
    for (const CommittedWrite& w : writes) {
      entries_.push_back(
          {w.kind, std::string(w.key), std::string(w.value), w.expire_at_ms, calls_});
    }
    calls_++;
  }
  std::vector<Entry> entries() const {
    std::lock_guard l(mu_);
    return entries_;
  }
  size_t size() const {
    std::lock_guard l(mu_);
    return entries_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  size_t calls_ = 0;
};

// The store the first n entries describe.
std::map<std::string, std::string> Replay(const std::vector<Recorder::Entry>& entries, size_t n) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; i++) {
    if (entries[i].kind == CommittedWrite::Kind::kPut) {
      out[entries[i].key] = entries[i].value;
    } else {
      out.erase(entries[i].key);
    }
  }
  return out;
}

class CommitListenerTest : public DBTest {
 protected:
  Recorder recorder_;
};

TEST_F(CommitListenerTest, EveryWriteInCommitOrderAndBatchesWhole) {
  Options o;
  o.commit_listener = &recorder_;
  o.compression = Compression::kLz4;  // the listener hears values as written, not compressed
  o.compression_min_bytes = 16;
  ASSERT_OK(Open(o));
  ASSERT_OK(db_->Put("a", std::string(100, 'x')));
  ASSERT_OK(db_->Put("t", "v", WriteOptions{.expire_at_ms = 4'102'444'800'000}));
  EXPECT_TRUE(db_->Delete("absent").IsNotFound());  // nothing heard
  ASSERT_OK(db_->Delete("a"));
  WriteBatch b;
  b.Put("b1", "1");
  b.Delete("t");
  b.Put("b2", "2");
  ASSERT_OK(db_->Write(b));
  ASSERT_OK(db_->Update("n", [](const std::string*, uint64_t*, std::string* next) {
    *next = "41";
    return DB::UpdateAction::kPut;
  }));
  ASSERT_OK(db_->Update("n", [](const std::string*, uint64_t*, std::string*) {
    return DB::UpdateAction::kKeep;  // nothing heard
  }));
  const auto e = recorder_.entries();
  ASSERT_EQ(e.size(), 7u);
  using K = CommittedWrite::Kind;
  EXPECT_EQ(e[0].kind, K::kPut);
  EXPECT_EQ(e[0].value, std::string(100, 'x'));
  EXPECT_EQ(e[1].expire_at_ms, 4'102'444'800'000u);
  EXPECT_EQ(e[2].kind, K::kDelete);
  EXPECT_EQ(e[2].key, "a");
  EXPECT_EQ(e[3].key, "b1");
  EXPECT_EQ(e[4].kind, K::kDelete);
  EXPECT_EQ(e[5].key, "b2");
  EXPECT_EQ(e[3].batch, e[5].batch);  // one call for the batch
  EXPECT_NE(e[2].batch, e[3].batch);
  EXPECT_EQ(e[6].value, "41");
}

// Writers on many threads: what the listener heard, replayed, is the store.
TEST_F(CommitListenerTest, ReplayOfConcurrentWritersIsTheStore) {
  Options o;
  o.commit_listener = &recorder_;
  o.max_file_size = 64 * 1024;
  ASSERT_OK(Open(o));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; i++) {
        const std::string k = "k" + std::to_string((i * 7 + t) % 300);
        switch (i % 4) {
          case 0:
            (void)db_->Put(k, "t" + std::to_string(t) + "-" + std::to_string(i));
            break;
          case 1:
            (void)db_->Delete(k);
            break;
          case 2: {
            WriteBatch b;
            b.Put(k, "batch" + std::to_string(i));
            b.Put(k + "x", "x");
            (void)db_->Write(b);
            break;
          }
          default:
            (void)db_->Update(k, [](const std::string* cur, uint64_t*, std::string* next) {
              *next = (cur ? *cur : std::string()) + "+";
              return DB::UpdateAction::kPut;
            });
        }
      }
    });
  }
  std::thread merger([&] {
    for (int i = 0; i < 5; i++) ASSERT_OK(db_->Merge());  // merges rewrite, never "commit"
  });
  for (auto& th : threads) th.join();
  merger.join();
  const auto e = recorder_.entries();
  std::map<std::string, std::string> store;
  auto it = db_->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) store[std::string(it->key())] = it->value();
  EXPECT_EQ(Replay(e, e.size()), store);
}

// at_point: the copy holds exactly the writes heard before it, beside a writer that goes on.
TEST_F(CommitListenerTest, CheckpointAtPointMarksTheCopysPlaceInTheStream) {
  Options o;
  o.commit_listener = &recorder_;
  ASSERT_OK(Open(o));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; i++) (void)db_->Put("k" + std::to_string(i % 500), std::to_string(i));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  size_t heard_at_point = 0;
  ASSERT_OK(db_->Checkpoint(tmp_.Sub("cp"), [&] { heard_at_point = recorder_.size(); }));
  stop = true;
  writer.join();
  ASSERT_GT(heard_at_point, 0u);
  std::unique_ptr<DB> copy;
  ASSERT_OK(DB::Open(Options(), tmp_.Sub("cp"), &copy));
  std::map<std::string, std::string> copied;
  auto it = copy->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) copied[std::string(it->key())] = it->value();
  EXPECT_EQ(Replay(recorder_.entries(), heard_at_point), copied);
}

// A key whose expiry passed is dropped by the maintenance thread, and the listener hears it.
TEST_F(CommitListenerTest, DroppedExpiredKeysAreHeard) {
  Options o;
  o.commit_listener = &recorder_;
  o.env = &clock_;
  o.merge_check_interval_ms = 20;
  ASSERT_OK(Open(o));
  ASSERT_OK(db_->Put("soon", "v", WriteOptions{.ttl_ms = 1000}));
  ASSERT_OK(db_->Put("later", "v", WriteOptions{.ttl_ms = 100'000}));
  clock_.Advance(5000);
  for (int i = 0; i < 500 && recorder_.size() < 3; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto e = recorder_.entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[2].kind, CommittedWrite::Kind::kExpired);
  EXPECT_EQ(e[2].key, "soon");
}

}  // namespace
}  // namespace bitcask::test
