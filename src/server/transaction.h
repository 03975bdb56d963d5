// The store as the commands of one EXEC see it. Their reads find the transaction's own writes
// first, then the store; their writes stay here until Commit writes them all as one
// WriteBatch. So another client sees every write of a transaction or none of them, and a
// crash keeps all of them or none, as Redis's EXEC promises (Redis drops a partial
// transaction from its AOF when it loads it).
//
// EXEC holds the key locks of every key its commands name while they run and until Commit
// returns, so the part of the store they read does not change under them.

#ifndef BITCASK_SERVER_TRANSACTION_H_
#define BITCASK_SERVER_TRANSACTION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/db.h"
#include "server/keyspace.h"

namespace bitcask::server {

class TransactionView final : public Keyspace {
 public:
  explicit TransactionView(Keyspace* base) : base_(base) {}

  // Writes every put and delete made through this view in one batch (synced if a write or
  // a Sync asked for it). On an error nothing of the transaction is in the store.
  Status Commit();
  // Calls fn with each key written through this view (for WATCH versions).
  void ForEachWrittenKey(const std::function<void(std::string_view)>& fn) const;
  // Runs fn once Commit has written the batch (not at all if it fails).
  void AfterCommit(std::function<void()> fn) override { after_commit_.push_back(std::move(fn)); }

  // Writes: kept here; keys and values over the limits fail now, as the store's would.
  Status Put(std::string_view key, std::string_view value,
             const WriteOptions& options = {}) override;
  Status Delete(std::string_view key, const WriteOptions& options = {}) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options = {}) override;
  Status Update(std::string_view key, const DB::UpdateFn& update,
                const WriteOptions& options = {}) override;
  // Makes Commit sync, and flushes the store now.
  Status Sync() override;

  // Reads: this transaction's writes, then the store.
  using Keyspace::GetView;  // the overload the override below would hide
  Status Get(std::string_view key, std::string* value) override;
  Status GetView(std::string_view key, DB::ValueReader read, void* arg) override;
  Status GetWithExpiry(std::string_view key, std::string* value, uint64_t* expire_at_ms) override;
  void MultiGet(std::span<const std::string_view> keys, std::span<std::string> values,
                std::span<Status> statuses) override;
  Status Contains(std::string_view key) override;
  std::unique_ptr<Iterator> NewIterator(const IteratorOptions& options = {}) override;
  Status Keys(std::vector<std::string>* keys, std::string_view prefix = {}) override;
  Status Count(uint64_t* n) override;

  // A written key as the transaction left it.
  struct Entry {
    std::string value;
    uint64_t expire_at_ms = 0;  // 0: none
    bool deleted = false;
  };

 private:
  class MergedIterator;

  // The entry for key, or null if the transaction has not written it.
  const Entry* Find(std::string_view key) const;
  // Not deleted and not expired.
  static bool Live(const Entry& e, uint64_t now_ms);
  void Set(std::string_view key, std::string_view value, uint64_t expire_at_ms);
  void Erase(std::string_view key);

  Keyspace* base_;
  std::map<std::string, Entry, std::less<>> writes_;
  bool sync_ = false;
  std::vector<std::function<void()>> after_commit_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_TRANSACTION_H_
