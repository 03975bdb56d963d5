// CRC-64 as Redis computes it for RDB files and DUMP payloads ("CRC-64/Jones": polynomial
// 0xad93d23594c935a9, reflected in and out, initial value 0, no final xor). The check value:
// Crc64(0, "123456789") is 0xe9c6d914c4b8d9ca.

#ifndef BITCASK_UTIL_CRC64_H_
#define BITCASK_UTIL_CRC64_H_

#include <cstdint>
#include <string_view>

namespace bitcask::util {

// The CRC of data, continuing from crc (0 to start): Crc64(Crc64(0, a), b) is Crc64(0, a + b).
uint64_t Crc64(uint64_t crc, std::string_view data);

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_CRC64_H_
