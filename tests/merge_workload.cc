#include "merge_workload.h"

#include <vector>

namespace bitcask::test {

namespace {
constexpr int kKeys = 1000;
constexpr int kFirstKeys = 100;
std::string Key(int i) { return "key-" + std::to_string(i); }
std::string FirstKey(int i) { return "first-" + std::to_string(i); }
std::string Value(int round, int i) {
  return "round-" + std::to_string(round) + "-value-" + std::to_string(i) +
         std::string(static_cast<size_t>(i % 50), 'x');
}
}  // namespace

Status MergeWorkload(DB* db) {
  // First keys written once and never again: the oldest files keep live records, which a
  // merge must carry over before it deletes them.
  for (int i = 0; i < kFirstKeys; i++) {
    if (Status s = db->Put(FirstKey(i), Value(0, i)); !s.ok()) return s;
  }
  // Round 0 writes every key; rounds 1-3 overwrite a third each; then deletes and re-puts.
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < kKeys; i++) {
      if (round > 0 && i % 3 != round - 1) continue;
      if (Status s = db->Put(Key(i), Value(round, i)); !s.ok()) return s;
    }
  }
  for (int i = 0; i < kKeys; i += 5) {
    if (Status s = db->Delete(Key(i)); !s.ok()) return s;
  }
  for (int i = 0; i < kKeys; i += 10) {  // half of the deleted keys come back
    if (Status s = db->Put(Key(i), Value(9, i)); !s.ok()) return s;
  }
  // Keys that expired long ago (1 ms after the epoch) replace live values: gone for good.
  for (int i = 1; i < kKeys; i += 7) {
    WriteOptions expired;
    expired.expire_at_ms = 1;
    if (Status s = db->Put(Key(i), "expired", expired); !s.ok()) return s;
  }
  return Status::OK();
}

std::map<std::string, std::string> MergeWorkloadExpected() {
  std::map<std::string, std::string> m;
  for (int i = 0; i < kFirstKeys; i++) m[FirstKey(i)] = Value(0, i);
  for (int i = 0; i < kKeys; i++) {
    int round = 0;
    for (int r = 1; r < 4; r++) {
      if (i % 3 == r - 1) round = r;
    }
    m[Key(i)] = Value(round, i);
  }
  for (int i = 0; i < kKeys; i += 5) m.erase(Key(i));
  for (int i = 0; i < kKeys; i += 10) m[Key(i)] = Value(9, i);
  for (int i = 1; i < kKeys; i += 7) m.erase(Key(i));
  return m;
}

std::vector<std::string> MergeWorkloadGone() {
  std::vector<std::string> gone;
  const auto expected = MergeWorkloadExpected();
  for (int i = 0; i < kKeys; i++) {
    if (!expected.count(Key(i))) gone.push_back(Key(i));
  }
  return gone;
}

}  // namespace bitcask::test
