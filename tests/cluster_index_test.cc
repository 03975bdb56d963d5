// Cluster mode in-process: hash slots (CRC16 and hash tags, against values Redis gives), the
// slot map's parser, and the per-slot key index: its compact table against a std::set model,
// and the index kept from the store's commit listener while writers, expiries and readers run
// on several threads (in the ThreadSanitizer suite too). A reader used to drop keys it found
// expired, racing a writer that had just put the key again: the index lost a live key.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "server/cluster.h"
#include "server/state.h"
#include "test_util.h"
#include "util/hash.h"

namespace bitcask::server {
namespace {

TEST(ClusterIndexTest, SlotsAreRedisOnes) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  // CLUSTER KEYSLOT on redis-server 7.0.15.
  const std::map<std::string, int> redis = {{"", 0},
                                            {"foo", 12182},
                                            {"123456789", 12739},
                                            {"{}", 15257},
                                            {"}{", 12793},
                                            {"{a}{b}", 15495},
                                            {"foo{}{bar}", 8363},
                                            {"{{a}}", 10276},
                                            {"{{a}", 10276},
                                            {"foo{{bar}}zap", 4015},
                                            {"foo{bar}{zap}", 5061},
                                            {"{user1000}.following", 3443}};
  for (const auto& [key, slot] : redis) EXPECT_EQ(KeyHashSlot(key), slot) << key;
}

TEST(ClusterIndexTest, MapParsing) {
  ClusterView v;
  const std::string a(40, 'a'), b(40, 'b');
  ASSERT_TRUE(
      ClusterView::ParseNodes(
          a + " h 1 master - 0-99 100 16000-16383\n" + b + " h 2 replica " + a + "\r\n\n", &v)
          .ok());
  ASSERT_EQ(v.nodes.size(), 2u);
  EXPECT_FALSE(v.nodes[1].master);
  EXPECT_EQ(v.SlotRanges(0), "0-100 16000-16383");
  EXPECT_EQ(v.owner[100], 0);
  EXPECT_EQ(v.owner[101], -1);
  EXPECT_EQ(ClusterView::ParseNodes(a + " h 1 master - 5-4\n", &v).ToString(),
            "Invalid argument: Slot is out of range");
  EXPECT_EQ(
      ClusterView::ParseNodes(a + " h 1 master - 1\n" + a + " h 2 master - 2\n", &v).ToString(),
      "Invalid argument: Invalid cluster nodes info: node " + a + " twice");
  EXPECT_EQ(ClusterView::ParseNodes(a + " h 1 master\n", &v).ToString(),
            "Invalid argument: Invalid cluster nodes info");
}

// The compact table against a std::set, through many adds, removes, rebuilds and shrinks.
TEST(ClusterIndexTest, SlotKeysMatchASet) {
  std::mt19937_64 rng(7);
  std::vector<std::string> pool;
  for (int i = 0; i < 3000; i++) {
    std::string k = "k" + std::to_string(i);
    if (i % 7 == 0) k.append(size_t(rng() % 300), char(rng()));  // long, binary
    if (i % 11 == 0) k.push_back('\0');
    pool.push_back(k);
  }
  SlotKeys keys;
  std::set<std::string> model;
  for (int op = 0; op < 200000; op++) {
    const std::string& k = pool[rng() % (op < 100000 ? pool.size() : 200)];
    if (rng() % 3 == 0) {
      keys.Remove(k, util::HashKey(k));
      model.erase(k);
    } else {
      keys.Add(k, util::HashKey(k));
      model.insert(k);
    }
    if (op % 5000 == 0 || op == 199999) {
      std::set<std::string> seen;
      size_t n = 0;
      keys.ForEach([&](std::string_view s) {
        seen.emplace(s);
        n++;
        return true;
      });
      ASSERT_EQ(keys.size(), model.size()) << "after " << op;
      ASSERT_EQ(n, model.size()) << "a key listed twice, after " << op;
      ASSERT_EQ(seen, model) << "after " << op;
    }
  }
  for (const std::string& k : pool) keys.Remove(k, util::HashKey(k));
  EXPECT_EQ(keys.size(), 0u);
  EXPECT_EQ(keys.memory(), 0u) << "an empty slot keeps no memory";
}

// The index as a cluster node keeps it: from the store's listener, while two threads write
// and delete (some keys expiring) and two read the index. At the end, for every slot, the
// index lists exactly the store's keys.
TEST(ClusterIndexTest, IndexFollowsTheStoreUnderConcurrentWritesAndReads) {
  test::TempDir tmp;
  ServerConfig cfg;
  cfg.dir = tmp.Sub("db");
  cfg.cluster_enabled = true;
  ServerState state(cfg);
  state.cluster().Enable(tmp.Sub("nodes.conf"), "");
  Options options;
  options.commit_listener = state.commit_listener();
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(options, cfg.dir, &db).ok());
  ASSERT_TRUE(db->Put("before", "x").ok());
  ASSERT_TRUE(state.SetStore(std::move(db)).ok());  // builds the index from the store
  Keyspace& ks = state.keyspace();
  SlotIndex& index = state.cluster().index();
  EXPECT_EQ(index.Count(KeyHashSlot("before")), 1u);

  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; w++) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(uint64_t(w) + 1);
      for (int i = 0; i < 20000; i++) {
        const std::string k = "{t" + std::to_string(rng() % 50) + "}" + std::to_string(rng() % 400);
        const uint64_t r = rng() % 10;
        if (r < 6) {
          WriteOptions o;
          if (r == 0) o.ttl_ms = 1 + rng() % 20;  // some expire while the test runs
          (void)ks.Put(k, "v", o);
        } else if (r < 9) {
          (void)ks.Delete(k);
        } else {
          WriteBatch batch;
          batch.Put(k + "a", "1");
          batch.Delete(k + "b");
          (void)ks.Write(batch);
        }
        if (i % 512 == 0) index.Drain(1);
      }
    });
  }
  for (int r = 0; r < 2; r++) {
    threads.emplace_back([&] {
      while (!done) {
        for (int t = 0; t < 50; t++) {
          const int slot = KeyHashSlot("{t" + std::to_string(t) + "}");
          (void)index.Count(slot);
          (void)index.Keys(slot, 10, ks);
        }
      }
    });
  }
  threads[0].join();
  threads[1].join();
  done = true;
  for (size_t i = 2; i < threads.size(); i++) threads[i].join();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // every TTL has passed

  std::map<int, std::set<std::string>> store;
  std::vector<std::string> all;
  ASSERT_TRUE(ks.Keys(&all).ok());
  for (const std::string& k : all) store[KeyHashSlot(k)].insert(k);
  std::set<int> slots = {KeyHashSlot("before")};
  for (int t = 0; t < 50; t++) slots.insert(KeyHashSlot("{t" + std::to_string(t) + "}"));
  uint64_t total = 0;
  for (int slot : slots) {
    const std::set<std::string>& keys = store[slot];
    const std::vector<std::string> listed = index.Keys(slot, 1000000, ks);
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), keys) << "slot " << slot;
    EXPECT_EQ(listed.size(), keys.size()) << "slot " << slot;
    // Count also has keys that expired and that the store's sweep has not dropped yet.
    EXPECT_GE(index.Count(slot), keys.size()) << "slot " << slot;
    total += keys.size();
  }
  EXPECT_GE(index.TotalKeys(), total);
}

}  // namespace
}  // namespace bitcask::server
