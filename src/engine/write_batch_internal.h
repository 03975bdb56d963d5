// What the engine knows of a WriteBatch's representation: it walks the operations without a
// virtual call per operation (DB::Write) and shares the encoding with WriteBatch itself.

#ifndef BITCASK_ENGINE_WRITE_BATCH_INTERNAL_H_
#define BITCASK_ENGINE_WRITE_BATCH_INTERNAL_H_

#include <cstdint>
#include <string_view>

#include "bitcask/write_batch.h"
#include "util/coding.h"

namespace bitcask::engine {

class WriteBatchInternal {
 public:
  static constexpr char kTypePut = 1;
  static constexpr char kTypeDelete = 2;
  // u8 type, u64 expiry, u32 key size, u32 value size (then key and value bytes).
  static constexpr size_t kPutHeader = 17;
  // u8 type, u32 key size (then key bytes).
  static constexpr size_t kDeleteHeader = 5;

  // Calls put(key, value, expire_at_ms) and del(key) for each operation, in order.
  template <typename PutFn, typename DeleteFn>
  static void ForEach(const WriteBatch& batch, PutFn&& put, DeleteFn&& del) {
    const char* p = batch.rep_.data();
    const char* const end = p + batch.rep_.size();
    while (p < end) {
      if (*p == kTypePut) {
        const uint64_t expire = util::DecodeFixed64(p + 1);
        const uint32_t ksize = util::DecodeFixed32(p + 9);
        const uint32_t vsize = util::DecodeFixed32(p + 13);
        p += kPutHeader;
        put(std::string_view(p, ksize), std::string_view(p + ksize, vsize), expire);
        p += size_t{ksize} + vsize;
      } else {
        const uint32_t ksize = util::DecodeFixed32(p + 1);
        p += kDeleteHeader;
        del(std::string_view(p, ksize));
        p += ksize;
      }
    }
  }
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_WRITE_BATCH_INTERNAL_H_
