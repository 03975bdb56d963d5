// One small interface over bitcask, LMDB, LevelDB, RocksDB and Tkrzw, so every workload runs the
// same code against each. How each engine is configured, and why, is in engines.cc and in
// bench/README.md.

#ifndef BITCASK_BENCH_PEERS_ENGINES_H_
#define BITCASK_BENCH_PEERS_ENGINES_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bitcask::bench {

struct EngineConfig {
  // Flush to stable storage before each write returns (bitcask SyncMode::kAlways, LMDB
  // without MDB_NOSYNC, LevelDB/RocksDB WriteOptions::sync). Otherwise every engine leaves
  // flushing to the OS: a write survives a process crash but not a power loss.
  bool sync = false;
  // Keys the run will hold, for an engine whose hash table does not grow (Tkrzw's HashDBM
  // sizes its buckets from it); 0: unknown.
  size_t expected_keys = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Opens (creating if needed) the store in dir. Exits the process with a message on error.
  virtual void Open(const std::string& dir, const EngineConfig& config) = 0;
  virtual void Close() = 0;
  // All of these may be called from several threads at once.
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual bool Get(std::string_view key, std::string* value) = 0;
  virtual void Delete(std::string_view key) = 0;
  // Applies the pairs with the engine's batch API: atomically, but for Tkrzw, which has none
  // (a loop of Set).
  virtual void WriteBatch(
      const std::vector<std::pair<std::string_view, std::string_view>>& kvs) = 0;
};

// "bitcask", "lmdb", "leveldb", "rocksdb" or "tkrzw", or "floor" (the system calls alone, for
// the grid); nullptr for an unknown name.
std::unique_ptr<Engine> MakeEngine(const std::string& name);

}  // namespace bitcask::bench

#endif  // BITCASK_BENCH_PEERS_ENGINES_H_
