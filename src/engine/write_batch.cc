#include "bitcask/write_batch.h"

#include "engine/coding.h"

namespace bitcask {

namespace {
constexpr char kTypePut = 1;
constexpr char kTypeDelete = 2;
}  // namespace

void WriteBatch::Put(std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  rep_.push_back(kTypePut);
  engine::PutFixed64(&rep_, expire_at_ms);
  engine::PutFixed32(&rep_, static_cast<uint32_t>(key.size()));
  engine::PutFixed32(&rep_, static_cast<uint32_t>(value.size()));
  rep_.append(key);
  rep_.append(value);
  ++count_;
}

void WriteBatch::Delete(std::string_view key) {
  rep_.push_back(kTypeDelete);
  engine::PutFixed32(&rep_, static_cast<uint32_t>(key.size()));
  rep_.append(key);
  ++count_;
}

void WriteBatch::Clear() {
  rep_.clear();
  count_ = 0;
}

void WriteBatch::Iterate(Handler* handler) const {
  const char* p = rep_.data();
  const char* end = p + rep_.size();
  while (p < end) {
    const char type = *p++;
    if (type == kTypePut) {
      const uint64_t expire = engine::DecodeFixed64(p);
      const uint32_t ksize = engine::DecodeFixed32(p + 8);
      const uint32_t vsize = engine::DecodeFixed32(p + 12);
      p += 16;
      handler->Put(std::string_view(p, ksize), std::string_view(p + ksize, vsize), expire);
      p += ksize + vsize;
    } else {
      const uint32_t ksize = engine::DecodeFixed32(p);
      p += 4;
      handler->Delete(std::string_view(p, ksize));
      p += ksize;
    }
  }
}

}  // namespace bitcask
