// Little-endian fixed-width encoding, the only byte order bitcask writes.

#ifndef BITCASK_UTIL_CODING_H_
#define BITCASK_UTIL_CODING_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace bitcask::util {

static_assert(std::endian::native == std::endian::little,
              "bitcask's on-disk format is little-endian; a big-endian port needs byte swaps here");

inline void EncodeFixed16(char* dst, uint16_t v) { std::memcpy(dst, &v, sizeof v); }
inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, sizeof v); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, sizeof v); }

inline uint16_t DecodeFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[sizeof v];
  EncodeFixed32(buf, v);
  dst->append(buf, sizeof buf);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[sizeof v];
  EncodeFixed64(buf, v);
  dst->append(buf, sizeof buf);
}

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_CODING_H_
