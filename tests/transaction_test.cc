// TransactionView, the store as the commands of one EXEC see it: reads see the transaction's
// writes over the store's contents, the store sees nothing until Commit, and Commit writes
// everything or nothing.

#include "server/transaction.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

#include "test_util.h"

namespace bitcask::server {
namespace {

constexpr uint64_t kLongAgo = 1;                     // an expiry in the past
constexpr uint64_t kFarAway = 4'000'000'000'000ull;  // an expiry in the year 2096

class TransactionViewTest : public test::DBTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Open().ok());
    store_ = std::make_unique<StoreKeyspace>(db_.get());
  }
  void Reopen(const Options& options = Options()) {
    test::DBTest::Reopen(options);
    store_ = std::make_unique<StoreKeyspace>(db_.get());
  }
  std::unique_ptr<StoreKeyspace> store_;  // the store db_ opened, as a Keyspace

  static std::string ViewGet(Keyspace& db, std::string_view key) {
    std::string v;
    const Status s = db.Get(key, &v);
    return s.ok() ? v : s.IsNotFound() ? "NOT_FOUND" : s.ToString();
  }

  // Every live key and value the iterator shows, forwards.
  static std::map<std::string, std::string> Scan(Keyspace& db, const IteratorOptions& o = {}) {
    std::map<std::string, std::string> out;
    auto it = db.NewIterator(o);
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace(it->key(), it->value());
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }
};

TEST_F(TransactionViewTest, ReadsSeeItsWritesAndTheStoreSeesNothingBeforeCommit) {
  ASSERT_TRUE(db_->Put("a", "1").ok());
  ASSERT_TRUE(db_->Put("b", "2").ok());
  ASSERT_TRUE(db_->Put("c", "3").ok());
  TransactionView view(store_.get());
  ASSERT_TRUE(view.Put("a", "10").ok());
  ASSERT_TRUE(view.Delete("b").ok());
  EXPECT_TRUE(view.Delete("b").IsNotFound());  // gone already, in the transaction
  EXPECT_TRUE(view.Delete("nope").IsNotFound());
  WriteOptions ttl;
  ttl.expire_at_ms = kFarAway;
  ASSERT_TRUE(view.Put("d", "4", ttl).ok());
  ASSERT_TRUE(view.Update("c",
                          [](const std::string* cur, uint64_t*, std::string* next) {
                            *next = *cur + "x";
                            return DB::UpdateAction::kPut;
                          })
                  .ok());
  ASSERT_TRUE(view.Update("e",
                          [](const std::string* cur, uint64_t* expiry, std::string* next) {
                            EXPECT_EQ(cur, nullptr);
                            EXPECT_EQ(*expiry, 0u);
                            *next = "5";
                            return DB::UpdateAction::kPut;
                          })
                  .ok());
  // An update that deletes an absent key writes nothing.
  ASSERT_TRUE(view.Update("f", [](const std::string*, uint64_t*,
                                  std::string*) { return DB::UpdateAction::kDelete; })
                  .ok());

  EXPECT_EQ(ViewGet(view, "a"), "10");
  EXPECT_EQ(ViewGet(view, "b"), "NOT_FOUND");
  EXPECT_EQ(ViewGet(view, "c"), "3x");
  EXPECT_EQ(ViewGet(view, "d"), "4");
  EXPECT_EQ(ViewGet(view, "e"), "5");
  EXPECT_TRUE(view.Contains("a").ok());
  EXPECT_TRUE(view.Contains("b").IsNotFound());
  EXPECT_TRUE(view.Contains("f").IsNotFound());
  std::string got;
  EXPECT_TRUE(view.GetView("c", [&](std::string_view v) { got = v; }).ok());
  EXPECT_EQ(got, "3x");
  uint64_t expiry = 0;
  EXPECT_TRUE(view.GetWithExpiry("d", nullptr, &expiry).ok());
  EXPECT_EQ(expiry, kFarAway);
  const std::vector<std::string_view> wanted = {"a", "b", "c"};
  std::vector<std::string> values(3);
  std::vector<Status> statuses(3);
  view.MultiGet(wanted, values, statuses);
  EXPECT_TRUE(statuses[0].ok() && statuses[1].IsNotFound() && statuses[2].ok());
  EXPECT_EQ(values[0], "10");
  uint64_t n = 0;
  ASSERT_TRUE(view.Count(&n).ok());
  EXPECT_EQ(n, 4u);  // a c d e
  std::vector<std::string> keys;
  ASSERT_TRUE(view.Keys(&keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "c", "d", "e"}));
  // By prefix: the store's keys (less those the view deleted) and the view's own.
  for (const auto& [prefix, want] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"a", {"a"}}, {"b", {}}, {"d", {"d"}}, {"f", {}}}) {
    ASSERT_TRUE(view.Keys(&keys, prefix).ok());
    EXPECT_EQ(keys, want) << prefix;
  }

  // The store itself has not changed.
  ExpectExactly({{"a", "1"}, {"b", "2"}, {"c", "3"}});

  ASSERT_TRUE(view.Commit().ok());
  ExpectExactly({{"a", "10"}, {"c", "3x"}, {"d", "4"}, {"e", "5"}});
  Reopen();
  ExpectExactly({{"a", "10"}, {"c", "3x"}, {"d", "4"}, {"e", "5"}});
  ASSERT_TRUE(db_->GetWithExpiry("d", nullptr, &expiry).ok());
  EXPECT_EQ(expiry, kFarAway);
}

TEST_F(TransactionViewTest, ExpiredWritesReadAsAbsent) {
  ASSERT_TRUE(db_->Put("a", "1").ok());
  TransactionView view(store_.get());
  WriteOptions past;
  past.expire_at_ms = kLongAgo;
  ASSERT_TRUE(view.Put("a", "2", past).ok());
  ASSERT_TRUE(view.Put("b", "3", past).ok());
  EXPECT_EQ(ViewGet(view, "a"), "NOT_FOUND");
  EXPECT_TRUE(view.Contains("b").IsNotFound());
  uint64_t n = 1;
  ASSERT_TRUE(view.Count(&n).ok());
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(Scan(view).empty());
  ASSERT_TRUE(view.Commit().ok());
  EXPECT_EQ(Get("a"), "NOT_FOUND");
}

TEST_F(TransactionViewTest, BadWritesFailAtOnceAndCommitIsAllOrNothing) {
  TransactionView view(store_.get());
  const std::string long_key(kMaxKeySize + 1, 'k');
  Status s = view.Put(long_key, "v");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.ToString().find("keys are limited to 65535 bytes"), std::string::npos)
      << s.ToString();
  EXPECT_TRUE(view.Delete(long_key).IsInvalidArgument());
  // A batch with one bad key leaves nothing of itself.
  WriteBatch batch;
  batch.Put("x", "1");
  batch.Put(long_key, "2");
  EXPECT_TRUE(view.Write(batch).IsInvalidArgument());
  EXPECT_EQ(ViewGet(view, "x"), "NOT_FOUND");

  ASSERT_TRUE(view.Put("y", "1").ok());
  ASSERT_TRUE(db_->Close().ok());
  s = view.Commit();
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  Reopen();
  ExpectExactly({});
}

// The merged iterator against a model (a std::map of what the view should show), over
// random store contents and random writes of the transaction: full scans both ways, seeks,
// and walks that change direction, with and without bounds and a prefix.
TEST_F(TransactionViewTest, IteratorMatchesModel) {
  std::mt19937 rng(7);
  auto key = [&](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%c%02d", "ab"[i % 2], i / 2);
    return std::string(buf);
  };
  for (int round = 0; round < 30; round++) {
    Reopen();
    std::vector<std::string> all;
    ASSERT_TRUE(db_->Keys(&all).ok());
    for (const auto& k : all) ASSERT_TRUE(db_->Delete(k).ok());
    std::map<std::string, std::string> model;
    for (int i = 0; i < 60; i++) {
      if (rng() % 2) {
        const std::string k = key(i), v = "s" + std::to_string(rng() % 100);
        ASSERT_TRUE(db_->Put(k, v).ok());
        model[k] = v;
      }
    }
    TransactionView view(store_.get());
    for (int op = 0; op < 40; op++) {
      const std::string k = key(int(rng() % 64));
      switch (rng() % 3) {
        case 0: {
          const std::string v = "t" + std::to_string(op);
          ASSERT_TRUE(view.Put(k, v).ok());
          model[k] = v;
          break;
        }
        case 1:
          (void)view.Delete(k);
          model.erase(k);
          break;
        default: {
          WriteOptions past;
          past.expire_at_ms = kLongAgo;
          ASSERT_TRUE(view.Put(k, "expired", past).ok());
          model.erase(k);
        }
      }
    }
    IteratorOptions opts;
    switch (round % 3) {
      case 1:
        opts.prefix = "b";
        break;
      case 2:
        opts.lower_bound = "a10";
        opts.upper_bound = "b20";
        break;
    }
    std::vector<std::pair<std::string, std::string>> want;
    for (const auto& [k, v] : model) {
      if (!k.starts_with(opts.prefix)) continue;
      if (!opts.lower_bound.empty() && k < opts.lower_bound) continue;
      if (!opts.upper_bound.empty() && k >= opts.upper_bound) continue;
      want.emplace_back(k, v);
    }
    auto it = view.NewIterator(opts);
    std::vector<std::pair<std::string, std::string>> forward, backward;
    for (it->SeekToFirst(); it->Valid(); it->Next()) forward.emplace_back(it->key(), it->value());
    for (it->SeekToLast(); it->Valid(); it->Prev()) backward.emplace_back(it->key(), it->value());
    std::reverse(backward.begin(), backward.end());
    ASSERT_EQ(forward, want) << "round " << round;
    ASSERT_EQ(backward, want) << "round " << round;
    // Random seeks, then a walk that turns around now and then; the model's position is
    // an index into want (-1 and want.size() are the ends).
    for (int walk = 0; walk < 20; walk++) {
      const std::string target = key(int(rng() % 64));
      ptrdiff_t at;
      if (rng() % 2) {
        it->Seek(target);
        at = std::lower_bound(want.begin(), want.end(), std::make_pair(target, std::string())) -
             want.begin();
      } else {
        it->SeekForPrev(target);
        at = std::upper_bound(want.begin(), want.end(), target,
                              [](const std::string& t, const auto& kv) { return t < kv.first; }) -
             want.begin() - 1;
      }
      for (int step = 0; step < 12; step++) {
        const bool valid = at >= 0 && size_t(at) < want.size();
        ASSERT_EQ(it->Valid(), valid) << "round " << round << " walk " << walk;
        if (!valid) break;
        ASSERT_EQ(it->key(), want[size_t(at)].first);
        ASSERT_EQ(it->value(), want[size_t(at)].second);
        if (rng() % 3 == 0) {
          it->Prev();
          at--;
        } else {
          it->Next();
          at++;
        }
      }
    }
  }
}

}  // namespace
}  // namespace bitcask::server
