// WriteBatch: a group of puts and deletes applied atomically by DB::Write.
//
// After a crash either every operation of a batch is in the store or none is; readers of
// single keys never see a batch half applied. Operations apply in the order they were added,
// so a later Put of the same key wins over an earlier one.

#ifndef BITCASK_WRITE_BATCH_H_
#define BITCASK_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bitcask {

namespace engine {
class WriteBatchInternal;
}

class WriteBatch {
 public:
  // Receives the operations of a batch, in order (see Iterate).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(std::string_view key, std::string_view value, uint64_t expire_at_ms) = 0;
    virtual void Delete(std::string_view key) = 0;
  };

  WriteBatch() = default;

  // expire_at_ms: absolute expiry in milliseconds since the Unix epoch, 0 = never.
  void Put(std::string_view key, std::string_view value, uint64_t expire_at_ms = 0);
  void Delete(std::string_view key);
  void Clear();

  size_t Count() const { return count_; }
  bool Empty() const { return count_ == 0; }
  // Bytes of keys and values held, plus a small per-operation overhead.
  size_t ApproximateSize() const { return rep_.size(); }

  void Iterate(Handler* handler) const;

 private:
  friend class engine::WriteBatchInternal;

  // Each operation: u8 type, then for a put u64 expiry; u32 key size, (put: u32 value size),
  // key bytes, (put: value bytes). Sizes are kept as given so DB::Write can reject an
  // oversized key with a clear error instead of truncating it.
  std::string rep_;
  size_t count_ = 0;
};

}  // namespace bitcask

#endif  // BITCASK_WRITE_BATCH_H_
