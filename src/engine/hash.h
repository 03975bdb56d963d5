// Hashing: XXH3 (from Debian's libxxhash) for key hashing and record checksums.

#ifndef BITCASK_ENGINE_HASH_H_
#define BITCASK_ENGINE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace bitcask::engine {

inline uint64_t HashKey(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

// The 32-bit checksum stored in file headers and records: the low half of XXH3-64.
inline uint32_t Checksum32(const char* p, size_t n) {
  return static_cast<uint32_t>(XXH3_64bits(p, n));
}

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_HASH_H_
