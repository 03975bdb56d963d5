// Instructions per operation, for callgrind: counts that do not move with the machine's load,
// so two builds can be compared on a noisy machine.
//
//   valgrind --tool=callgrind --toggle-collect='*RunPuts*' ./build/bench/op_count 10000
//
// (RunPuts, RunGets, RunDeletes or RunBatches; divide "Collected" by the key count.) Each
// phase runs over N keys of 16 bytes with 100-byte values, sync=none, in one fresh store
// (puts, gets, deletes) and then another (batches of 1000).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "bitcask/db.h"

namespace {

using bitcask::DB;
using bitcask::bench::Die;
using bitcask::bench::OpenFresh;

std::vector<std::string> keys;
const std::string value(100, 'v');

// noinline: callgrind's --toggle-collect needs each phase to be a function of its own.
[[gnu::noinline]] void RunPuts(DB* db) {
  for (const std::string& k : keys) {
    if (auto s = db->Put(k, value); !s.ok()) Die("put", s);
  }
}

[[gnu::noinline]] void RunGets(DB* db) {
  std::string v;
  for (const std::string& k : keys) {
    if (auto s = db->Get(k, &v); !s.ok()) Die("get", s);
  }
}

[[gnu::noinline]] void RunDeletes(DB* db) {
  for (const std::string& k : keys) {
    if (auto s = db->Delete(k); !s.ok()) Die("delete", s);
  }
}

[[gnu::noinline]] void RunBatches(DB* db) {
  bitcask::WriteBatch batch;
  for (size_t i = 0; i < keys.size(); i++) {
    batch.Put(keys[i], value);
    if (batch.Count() == 1000 || i + 1 == keys.size()) {
      if (auto s = db->Write(batch); !s.ok()) Die("write batch", s);
      batch.Clear();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp/bitcask-op-count";
  for (size_t i = 0; i < n; i++) keys.push_back(bitcask::bench::Key(i));
  {
    auto db = OpenFresh(dir);
    RunPuts(db.get());
    RunGets(db.get());
    RunDeletes(db.get());
  }
  {
    auto db = OpenFresh(dir);
    RunBatches(db.get());
  }
  std::filesystem::remove_all(dir);
  std::printf("%zu keys: puts, gets, deletes, batches of 1000 done\n", n);
  return 0;
}
