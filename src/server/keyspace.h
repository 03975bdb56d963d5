// Keyspace: what the data commands need of the store, and no more. Handlers of GET, SET,
// EXPIRE, SCAN... run on a Keyspace: the store itself (StoreKeyspace), or, inside EXEC, the
// transaction's view of it that keeps its writes until they are committed as one batch
// (server/transaction.h). What only the whole store can do (merge, checkpoint, stats) is not
// here: a command that needs it asks the server for the DB.

#ifndef BITCASK_SERVER_KEYSPACE_H_
#define BITCASK_SERVER_KEYSPACE_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bitcask/db.h"

namespace bitcask::server {

class Keyspace {
 public:
  virtual ~Keyspace() = default;

  // Reads, as DB's.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  virtual Status GetView(std::string_view key, DB::ValueReader read, void* arg) = 0;
  template <typename F>
  Status GetView(std::string_view key, F&& read) {
    return GetView(
        key, [](void* f, std::string_view v) { (*static_cast<std::remove_reference_t<F>*>(f))(v); },
        const_cast<void*>(static_cast<const void*>(&read)));
  }
  virtual Status GetWithExpiry(std::string_view key, std::string* value,
                               uint64_t* expire_at_ms) = 0;
  virtual void MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                        std::span<Status> statuses) = 0;
  virtual Status Contains(std::string_view key) = 0;
  virtual std::unique_ptr<Iterator> NewIterator(const IteratorOptions& options = {}) = 0;
  virtual Status Keys(std::vector<std::string>* keys, std::string_view prefix = {}) = 0;
  virtual Status Count(uint64_t* n) = 0;

  // Writes, as DB's.
  virtual Status Put(std::string_view key, std::string_view value,
                     const WriteOptions& options = {}) = 0;
  virtual Status Delete(std::string_view key, const WriteOptions& options = {}) = 0;
  virtual Status Write(const WriteBatch& batch, const WriteOptions& options = {}) = 0;
  virtual Status Update(std::string_view key, const DB::UpdateFn& update,
                        const WriteOptions& options = {}) = 0;
  // Flushes what was written through this keyspace to stable storage (inside a transaction:
  // when it commits).
  virtual Status Sync() = 0;

  // Runs fn once what was written through this keyspace is in the store: at once on the
  // store, after the commit inside a transaction (not at all if the commit fails). For what
  // a command does beside its writes that must follow them (FLUSHDB's merge).
  virtual void AfterCommit(std::function<void()> fn) = 0;
};

// The store itself as a Keyspace.
class StoreKeyspace final : public Keyspace {
 public:
  explicit StoreKeyspace(DB* db) : db_(db) {}
  void Reset(DB* db) { db_ = db; }

  using Keyspace::GetView;
  Status Get(std::string_view key, std::string* value) override { return db_->Get(key, value); }
  Status GetView(std::string_view key, DB::ValueReader read, void* arg) override {
    return db_->GetView(key, read, arg);
  }
  Status GetWithExpiry(std::string_view key, std::string* value, uint64_t* expire_at_ms) override {
    return db_->GetWithExpiry(key, value, expire_at_ms);
  }
  void MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                std::span<Status> statuses) override {
    db_->MultiGet(keys, values, statuses);
  }
  Status Contains(std::string_view key) override { return db_->Contains(key); }
  std::unique_ptr<Iterator> NewIterator(const IteratorOptions& options) override {
    return db_->NewIterator(options);
  }
  Status Keys(std::vector<std::string>* keys, std::string_view prefix) override {
    return db_->Keys(keys, prefix);
  }
  Status Count(uint64_t* n) override { return db_->Count(n); }
  Status Put(std::string_view key, std::string_view value, const WriteOptions& options) override {
    return db_->Put(key, value, options);
  }
  Status Delete(std::string_view key, const WriteOptions& options) override {
    return db_->Delete(key, options);
  }
  Status Write(const WriteBatch& batch, const WriteOptions& options) override {
    return db_->Write(batch, options);
  }
  Status Update(std::string_view key, const DB::UpdateFn& update,
                const WriteOptions& options) override {
    return db_->Update(key, update, options);
  }
  Status Sync() override { return db_->Sync(); }
  void AfterCommit(std::function<void()> fn) override { fn(); }

 private:
  DB* db_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_KEYSPACE_H_
