// Ordered iteration against a std::map model: seeks, both directions, direction changes,
// bounds and prefixes, over enough keys to span many batches, with writes and deletes
// (including mass deletes that rebuild the arena) between scans.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "test_util.h"

namespace bitcask::test {
namespace {

class IteratorTest : public DBTest {
 protected:
  void SetUp() override { ASSERT_OK(Open()); }

  void Put(const std::string& k, const std::string& v) {
    ASSERT_OK(db_->Put(k, v));
    model_[k] = v;
  }
  void Del(const std::string& k) {
    (void)db_->Delete(k);
    model_.erase(k);
  }
  // Model of what an iterator with these options sees.
  std::map<std::string, std::string> Visible(const IteratorOptions& o) const {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : model_) {
      if (!o.lower_bound.empty() && k < o.lower_bound) continue;
      if (!o.upper_bound.empty() && k >= o.upper_bound) continue;
      if (!k.starts_with(o.prefix)) continue;
      out[k] = v;
    }
    return out;
  }
  void CheckFullScans(const IteratorOptions& o) {
    const auto visible = Visible(o);
    auto it = db_->NewIterator(o);
    auto m = visible.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_NE(m, visible.end()) << "extra key " << it->key();
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
    }
    ASSERT_OK(it->status());
    ASSERT_EQ(m, visible.end()) << "missing key " << m->first;
    auto r = visible.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      ASSERT_NE(r, visible.rend()) << "extra key " << it->key();
      ASSERT_EQ(it->key(), r->first);
    }
    ASSERT_EQ(r, visible.rend());
  }

  std::map<std::string, std::string> model_;
};

std::string K(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%05d", i);
  return buf;
}

TEST_F(IteratorTest, EmptyStore) {
  auto it = db_->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek("x");
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
}

TEST_F(IteratorTest, MatchesModelAcrossManyBatches) {
  std::mt19937 rng(5);
  for (int i = 0; i < 5000; i++) Put(K(rng() % 20000), std::to_string(i));
  CheckFullScans({});
  for (int i = 0; i < 2000; i++) Del(K(rng() % 20000));
  for (int i = 0; i < 1000; i++) Put(K(rng() % 20000), "again" + std::to_string(i));
  CheckFullScans({});
  CheckFullScans({.lower_bound = K(3000), .upper_bound = K(9000), .prefix = ""});
  CheckFullScans({.lower_bound = "", .upper_bound = "", .prefix = "k012"});
  CheckFullScans({.lower_bound = K(1), .upper_bound = K(2), .prefix = ""});  // maybe empty
  CheckFullScans({.lower_bound = "", .upper_bound = "", .prefix = "nothing-here"});
}

TEST_F(IteratorTest, RandomSeeksAndDirectionChanges) {
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; i++) Put(K(rng() % 6000), std::to_string(i));
  for (int round = 0; round < 200; round++) {
    // Some writes between iterator uses: the index has new keys and removed ones.
    for (int i = 0; i < 20; i++) {
      if (rng() % 3 == 0) {
        Del(K(rng() % 6000));
      } else {
        Put(K(rng() % 6000), "r" + std::to_string(round));
      }
    }
    IteratorOptions o;
    if (rng() % 2) o.lower_bound = K(rng() % 6000);
    if (rng() % 2) o.upper_bound = K(rng() % 6000);
    const auto visible = Visible(o);
    auto it = db_->NewIterator(o);
    const std::string target = K(rng() % 6000);
    auto m = visible.lower_bound(target);
    it->Seek(target);
    for (int step = 0; step < 60; step++) {
      ASSERT_EQ(it->Valid(), m != visible.end()) << "round " << round << " step " << step;
      if (!it->Valid()) break;
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
      if (rng() % 4 == 0) {
        it->Prev();
        if (m == visible.begin()) {
          m = visible.end();
        } else {
          --m;
        }
      } else {
        it->Next();
        ++m;
      }
    }
    // SeekForPrev lands on the last key <= target.
    it->SeekForPrev(target);
    auto p = visible.upper_bound(target);
    if (p == visible.begin()) {
      ASSERT_FALSE(it->Valid());
    } else {
      --p;
      ASSERT_TRUE(it->Valid());
      ASSERT_EQ(it->key(), p->first);
    }
  }
}

TEST_F(IteratorTest, SurvivesMassDeleteMidIteration) {
  for (int i = 0; i < 20000; i++) Put(K(i), "v");
  auto it = db_->NewIterator();
  it->SeekToFirst();
  for (int i = 0; i < 100; i++) it->Next();
  ASSERT_TRUE(it->Valid());
  const std::string at(it->key());
  for (int i = 0; i < 20000; i++) {
    if (i % 10 != 0) Del(K(i));
  }
  int seen = 0;
  std::string prev = at;
  for (it->Next(); it->Valid(); it->Next()) {
    ASSERT_GT(std::string(it->key()), prev);
    prev = std::string(it->key());
    ASSERT_EQ(std::stoi(prev.substr(1)) % 10, 0);
    seen++;
  }
  EXPECT_EQ(seen, 2000 - 11);
  CheckFullScans({});
}

TEST_F(IteratorTest, BinaryKeysAndPrefixOfFFBytes) {
  Put(std::string("\xff\xff", 2), "a");
  Put(std::string("\xff\xff\x01", 3), "b");
  Put(std::string("\xfe", 1), "c");
  Put(std::string("\0", 1), "d");
  CheckFullScans({.lower_bound = "", .upper_bound = "", .prefix = std::string("\xff", 1)});
  CheckFullScans({.lower_bound = "", .upper_bound = "", .prefix = std::string("\xff\xff", 2)});
  CheckFullScans({});
}

TEST_F(IteratorTest, KeysAddedDuringIterationMayAppearExistingOnesAlways) {
  for (int i = 0; i < 1000; i += 2) Put(K(i), "old");
  auto it = db_->NewIterator();
  int old_seen = 0;
  int i = 1;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->value() == "old") old_seen++;
    if (i < 1000) {
      ASSERT_OK(db_->Put(K(i), "new"));
      i += 2;
    }
  }
  EXPECT_EQ(old_seen, 500);
}

}  // namespace
}  // namespace bitcask::test
