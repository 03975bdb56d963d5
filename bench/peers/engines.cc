// The five engines behind one interface, and the floor (system calls alone) beside them. Each is
// configured as its documentation recommends for a single-node point-lookup workload, in the same
// durability class (see EngineConfig):
//
//   bitcask  defaults; SyncMode::kNone, or kAlways when config.sync.
//   lmdb     one write transaction per put (a batch is one transaction); reads reuse a
//            per-thread read-only transaction (mdb_txn_renew / mdb_txn_reset), the idiomatic
//            fast path; MDB_NOSYNC unless config.sync; map size 64 GiB (address space only).
//   leveldb  defaults, plus a 10-bit Bloom filter and a 256 MiB block cache.
//   rocksdb  defaults, plus IncreaseParallelism(2) for the 2-core machine, a 10-bit Bloom
//            filter and a 256 MiB block cache.
//   tkrzw    HashDBM (one file, a hash table written through a shared mapping), defaults
//            except num_buckets = 2 x the keys the run holds (its table never grows, and its
//            documentation sizes it so); no batch API, so a batch is a loop of Set (not
//            atomic); config.sync: Synchronize(true) after each write (msync of the mapping).
// None of them is asked to fsync unless config.sync.

#include "engines.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "bitcask/db.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "tkrzw_dbm_hash.h"

namespace bitcask::bench {
namespace {

[[noreturn]] void Fail(const char* engine, const char* what, const std::string& msg) {
  std::fprintf(stderr, "%s: %s: %s\n", engine, what, msg.c_str());
  std::exit(1);
}

// ---- bitcask ------------------------------------------------------------------------------

class BitcaskEngine final : public Engine {
 public:
  const char* name() const override { return "bitcask"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    Options options;
    options.sync_mode = config.sync ? SyncMode::kAlways : SyncMode::kNone;
    Check("open", DB::Open(options, dir, &db_));
  }
  void Close() override {
    if (db_) Check("close", db_->Close());
    db_.reset();
  }
  void Put(std::string_view k, std::string_view v) override { Check("put", db_->Put(k, v)); }
  bool Get(std::string_view k, std::string* v) override {
    Status s = db_->Get(k, v);
    if (s.IsNotFound()) return false;
    Check("get", s);
    return true;
  }
  void Delete(std::string_view k) override {
    Status s = db_->Delete(k);
    if (!s.IsNotFound()) Check("delete", s);
  }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    batch_.Clear();
    for (const auto& [k, v] : kvs) batch_.Put(k, v);
    Check("write", db_->Write(batch_));
  }

 private:
  static void Check(const char* what, const Status& s) {
    if (!s.ok()) Fail("bitcask", what, s.ToString());
  }
  std::unique_ptr<DB> db_;
  bitcask::WriteBatch batch_;  // WriteBatch is only called from one thread
};

// ---- LMDB ---------------------------------------------------------------------------------

class LmdbEngine final : public Engine {
 public:
  const char* name() const override { return "lmdb"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    ::mkdir(dir.c_str(), 0755);
    Check("env_create", mdb_env_create(&env_));
    Check("set_mapsize", mdb_env_set_mapsize(env_, size_t{64} << 30));
    Check("set_maxreaders", mdb_env_set_maxreaders(env_, 256));
    const unsigned flags = MDB_NOTLS | (config.sync ? 0u : unsigned{MDB_NOSYNC});
    Check("env_open", mdb_env_open(env_, dir.c_str(), flags, 0644));
    MDB_txn* txn;
    Check("txn_begin", mdb_txn_begin(env_, nullptr, 0, &txn));
    Check("dbi_open", mdb_dbi_open(txn, nullptr, 0, &dbi_));
    Check("txn_commit", mdb_txn_commit(txn));
  }
  void Close() override {
    {
      std::lock_guard l(readers_mu_);
      for (MDB_txn* t : readers_) mdb_txn_abort(t);
      readers_.clear();
    }
    if (env_ != nullptr) {
      mdb_env_sync(env_, 1);
      mdb_env_close(env_);
    }
    env_ = nullptr;
    generation_++;
  }
  void Put(std::string_view k, std::string_view v) override {
    MDB_txn* txn;
    Check("txn_begin", mdb_txn_begin(env_, nullptr, 0, &txn));
    MDB_val key = Val(k), val = Val(v);
    Check("put", mdb_put(txn, dbi_, &key, &val, 0));
    Check("txn_commit", mdb_txn_commit(txn));
  }
  bool Get(std::string_view k, std::string* v) override {
    MDB_txn* txn = ReadTxn();
    MDB_val key = Val(k), val;
    const int rc = mdb_get(txn, dbi_, &key, &val);
    if (rc == 0) v->assign(static_cast<const char*>(val.mv_data), val.mv_size);
    mdb_txn_reset(txn);
    if (rc == MDB_NOTFOUND) return false;
    Check("get", rc);
    return true;
  }
  void Delete(std::string_view k) override {
    MDB_txn* txn;
    Check("txn_begin", mdb_txn_begin(env_, nullptr, 0, &txn));
    MDB_val key = Val(k);
    const int rc = mdb_del(txn, dbi_, &key, nullptr);
    if (rc != MDB_NOTFOUND) Check("del", rc);
    Check("txn_commit", mdb_txn_commit(txn));
  }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    MDB_txn* txn;
    Check("txn_begin", mdb_txn_begin(env_, nullptr, 0, &txn));
    for (const auto& [k, v] : kvs) {
      MDB_val key = Val(k), val = Val(v);
      Check("put", mdb_put(txn, dbi_, &key, &val, 0));
    }
    Check("txn_commit", mdb_txn_commit(txn));
  }

 private:
  static void Check(const char* what, int rc) {
    if (rc != 0) Fail("lmdb", what, mdb_strerror(rc));
  }
  static MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
  // A read-only transaction per thread, renewed for each read.
  MDB_txn* ReadTxn() {
    thread_local MDB_txn* txn = nullptr;
    thread_local unsigned generation = ~0u;
    if (txn == nullptr || generation != generation_) {
      Check("txn_begin(rdonly)", mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn));
      generation = generation_;
      std::lock_guard l(readers_mu_);
      readers_.push_back(txn);
    } else {
      Check("txn_renew", mdb_txn_renew(txn));
    }
    return txn;
  }

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::mutex readers_mu_;
  std::vector<MDB_txn*> readers_;
  unsigned generation_ = 0;  // bumped by Close, so threads do not reuse stale transactions
};

// ---- LevelDB ------------------------------------------------------------------------------

class LevelDbEngine final : public Engine {
 public:
  const char* name() const override { return "leveldb"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    cache_.reset(leveldb::NewLRUCache(size_t{256} << 20));
    filter_.reset(leveldb::NewBloomFilterPolicy(10));
    leveldb::Options options;
    options.create_if_missing = true;
    options.block_cache = cache_.get();
    options.filter_policy = filter_.get();
    write_.sync = config.sync;
    leveldb::DB* db;
    Check("open", leveldb::DB::Open(options, dir, &db));
    db_.reset(db);
  }
  void Close() override { db_.reset(); }
  void Put(std::string_view k, std::string_view v) override {
    Check("put", db_->Put(write_, Slice(k), Slice(v)));
  }
  bool Get(std::string_view k, std::string* v) override {
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), Slice(k), v);
    if (s.IsNotFound()) return false;
    Check("get", s);
    return true;
  }
  void Delete(std::string_view k) override { Check("delete", db_->Delete(write_, Slice(k))); }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    leveldb::WriteBatch batch;
    for (const auto& [k, v] : kvs) batch.Put(Slice(k), Slice(v));
    Check("write", db_->Write(write_, &batch));
  }

 private:
  static leveldb::Slice Slice(std::string_view s) { return leveldb::Slice(s.data(), s.size()); }
  static void Check(const char* what, const leveldb::Status& s) {
    if (!s.ok()) Fail("leveldb", what, s.ToString());
  }
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions write_;
};

// ---- RocksDB ------------------------------------------------------------------------------

class RocksDbEngine final : public Engine {
 public:
  const char* name() const override { return "rocksdb"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.IncreaseParallelism(2);
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(size_t{256} << 20);
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    write_.sync = config.sync;
    rocksdb::DB* db;
    Check("open", rocksdb::DB::Open(options, dir, &db));
    db_.reset(db);
  }
  void Close() override {
    if (db_) Check("close", db_->Close());
    db_.reset();
  }
  void Put(std::string_view k, std::string_view v) override {
    Check("put", db_->Put(write_, Slice(k), Slice(v)));
  }
  bool Get(std::string_view k, std::string* v) override {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Slice(k), v);
    if (s.IsNotFound()) return false;
    Check("get", s);
    return true;
  }
  void Delete(std::string_view k) override { Check("delete", db_->Delete(write_, Slice(k))); }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : kvs) batch.Put(Slice(k), Slice(v));
    Check("write", db_->Write(write_, &batch));
  }

 private:
  static rocksdb::Slice Slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
  static void Check(const char* what, const rocksdb::Status& s) {
    if (!s.ok()) Fail("rocksdb", what, s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_;
};

// ---- Tkrzw --------------------------------------------------------------------------------

class TkrzwEngine final : public Engine {
 public:
  const char* name() const override { return "tkrzw"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    ::mkdir(dir.c_str(), 0755);
    sync_ = config.sync;
    tkrzw::HashDBM::TuningParameters tuning;
    if (config.expected_keys > 0) tuning.num_buckets = int64_t(2 * config.expected_keys);
    Check("open", dbm_.OpenAdvanced(dir + "/casket.tkh", true, tkrzw::File::OPEN_DEFAULT, tuning));
  }
  void Close() override {
    if (dbm_.IsOpen()) Check("close", dbm_.Close());
  }
  void Put(std::string_view k, std::string_view v) override {
    Check("put", dbm_.Set(k, v));
    Synced();
  }
  bool Get(std::string_view k, std::string* v) override {
    const tkrzw::Status s = dbm_.Get(k, v);
    if (s == tkrzw::Status::NOT_FOUND_ERROR) return false;
    Check("get", s);
    return true;
  }
  void Delete(std::string_view k) override {
    const tkrzw::Status s = dbm_.Remove(k);
    if (s != tkrzw::Status::NOT_FOUND_ERROR) Check("delete", s);
    Synced();
  }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    for (const auto& [k, v] : kvs) Check("put", dbm_.Set(k, v));
    Synced();
  }

 private:
  void Synced() {
    if (sync_) Check("synchronize", dbm_.Synchronize(true));
  }
  static void Check(const char* what, const tkrzw::Status& s) {
    if (!s.IsOK()) Fail("tkrzw", what, s.GetMessage());
  }
  tkrzw::HashDBM dbm_;
  bool sync_ = false;
};

// ---- the floor ----------------------------------------------------------------------------

// Not a store: what the system calls underneath cost, for each cell to be read against. Put
// appends the key and the value to one file with one pwritev (no header, no checksum, no
// index to maintain); Get preads the value from where the benchmark's key number says it
// went (bench_util.h Key(i): "key-" and 12 digits); Delete appends the key; a batch is one
// pwritev of all of it. Single-threaded workloads only (the grid).
class FloorEngine final : public Engine {
 public:
  const char* name() const override { return "floor"; }
  void Open(const std::string& dir, const EngineConfig& config) override {
    ::mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/floor";
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR, 0644);
    if (fd_ < 0) Fail("floor", "open", path + ": " + std::strerror(errno));
    struct stat st;
    end_ = ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
    sync_ = config.sync;
  }
  void Close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Put(std::string_view k, std::string_view v) override { WriteBatch({{k, v}}); }
  bool Get(std::string_view k, std::string* v) override {
    const size_t i = Index(k);
    if (i >= where_.size() || where_[i].second < 0) return false;
    v->resize(size_t(where_[i].second));
    if (::pread(fd_, v->data(), v->size(), off_t(where_[i].first)) != ssize_t(v->size())) {
      Fail("floor", "pread", std::strerror(errno));
    }
    return true;
  }
  void Delete(std::string_view k) override {
    Append({iovec{const_cast<char*>(k.data()), k.size()}});
    if (const size_t i = Index(k); i < where_.size()) where_[i].second = -1;
  }
  void WriteBatch(const std::vector<std::pair<std::string_view, std::string_view>>& kvs) override {
    std::vector<iovec> io;
    io.reserve(2 * kvs.size());
    uint64_t at = end_;
    for (const auto& [k, v] : kvs) {
      io.push_back({const_cast<char*>(k.data()), k.size()});
      io.push_back({const_cast<char*>(v.data()), v.size()});
      const size_t i = Index(k);
      if (i >= where_.size()) where_.resize(i + 1, {0, -1});
      where_[i] = {at + k.size(), int64_t(v.size())};
      at += k.size() + v.size();
    }
    Append(io);
  }

 private:
  static size_t Index(std::string_view k) {
    return k.size() > 4 ? std::strtoull(std::string(k.substr(4)).c_str(), nullptr, 10) : 0;
  }
  void Append(const std::vector<iovec>& io) {
    for (size_t from = 0; from < io.size(); from += IOV_MAX) {
      const int n = int(std::min<size_t>(IOV_MAX, io.size() - from));
      size_t bytes = 0;
      for (int j = 0; j < n; j++) bytes += io[from + j].iov_len;
      if (::pwritev(fd_, io.data() + from, n, off_t(end_)) != ssize_t(bytes)) {
        Fail("floor", "pwritev", std::strerror(errno));
      }
      end_ += bytes;
    }
    if (sync_ && ::fdatasync(fd_) != 0) Fail("floor", "fdatasync", std::strerror(errno));
  }
  int fd_ = -1;
  uint64_t end_ = 0;
  bool sync_ = false;
  std::vector<std::pair<uint64_t, int64_t>> where_;  // by key number: value offset, length
};

}  // namespace

std::unique_ptr<Engine> MakeEngine(const std::string& name) {
  if (name == "bitcask") return std::make_unique<BitcaskEngine>();
  if (name == "lmdb") return std::make_unique<LmdbEngine>();
  if (name == "leveldb") return std::make_unique<LevelDbEngine>();
  if (name == "rocksdb") return std::make_unique<RocksDbEngine>();
  if (name == "tkrzw") return std::make_unique<TkrzwEngine>();
  if (name == "floor") return std::make_unique<FloorEngine>();
  return nullptr;
}

}  // namespace bitcask::bench
