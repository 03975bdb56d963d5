#include "bitcask/write_batch.h"

#include "engine/write_batch_internal.h"
#include "util/coding.h"

namespace bitcask {

using engine::WriteBatchInternal;

void WriteBatch::Put(std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  char header[WriteBatchInternal::kPutHeader];
  header[0] = WriteBatchInternal::kTypePut;
  util::EncodeFixed64(header + 1, expire_at_ms);
  util::EncodeFixed32(header + 9, static_cast<uint32_t>(key.size()));
  util::EncodeFixed32(header + 13, static_cast<uint32_t>(value.size()));
  rep_.append(header, sizeof header);
  rep_.append(key);
  rep_.append(value);
  ++count_;
}

void WriteBatch::Delete(std::string_view key) {
  char header[WriteBatchInternal::kDeleteHeader];
  header[0] = WriteBatchInternal::kTypeDelete;
  util::EncodeFixed32(header + 1, static_cast<uint32_t>(key.size()));
  rep_.append(header, sizeof header);
  rep_.append(key);
  ++count_;
}

void WriteBatch::Clear() {
  rep_.clear();
  count_ = 0;
}

void WriteBatch::Iterate(Handler* handler) const {
  WriteBatchInternal::ForEach(
      *this,
      [handler](std::string_view k, std::string_view v, uint64_t expire) {
        handler->Put(k, v, expire);
      },
      [handler](std::string_view k) { handler->Delete(k); });
}

}  // namespace bitcask
