// Hashing: XXH3 (from Debian's libxxhash) for key hashing and record checksums.
//
// Short inputs (keys, small records) use the inline code from xxhash.h. Longer ones go to
// hash.cc, which on x86-64 calls the library's run-time dispatch: its AVX2 or AVX-512 loop
// where the CPU has one, where the inline code is built for the SSE2 baseline. The hash
// value is the same either way (XXH3 is defined by its output, not by the code path).

#ifndef BITCASK_UTIL_HASH_H_
#define BITCASK_UTIL_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace bitcask::util {

// Above this many bytes XXH3 leaves its scalar mid-size code for the striped loop that
// vector units speed up (XXH3_MIDSIZE_MAX).
inline constexpr size_t kLongHashInput = 240;

// XXH3-64 of p[0, n), through the library's vector code (hash.cc).
uint64_t HashLong(const void* p, size_t n);
// XXH3-64 of the concatenation a + b + c, through the library's vector code (hash.cc).
uint64_t HashLong3(std::string_view a, std::string_view b, std::string_view c);

inline uint64_t Hash64(const void* p, size_t n) {
  return n > kLongHashInput ? HashLong(p, n) : XXH3_64bits(p, n);
}

inline uint64_t HashKey(std::string_view key) { return Hash64(key.data(), key.size()); }

// The 32-bit checksum stored in file headers and records: the low half of XXH3-64.
inline uint32_t Checksum32(const char* p, size_t n) { return static_cast<uint32_t>(Hash64(p, n)); }

// Checksum32 of the concatenation a + b + c, without joining them when they are long.
inline uint32_t Checksum32(std::string_view a, std::string_view b, std::string_view c) {
  const size_t n = a.size() + b.size() + c.size();
  if (n > kLongHashInput) return static_cast<uint32_t>(HashLong3(a, b, c));
  char joined[kLongHashInput];
  char* p = joined;
  for (std::string_view s : {a, b, c}) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  return static_cast<uint32_t>(XXH3_64bits(joined, n));
}

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_HASH_H_
