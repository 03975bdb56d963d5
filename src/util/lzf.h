// LZF decompression, for the compressed strings of Redis's RDB files and DUMP payloads (Redis
// compresses strings longer than 20 bytes with LZF when rdbcompression is on).

#ifndef BITCASK_UTIL_LZF_H_
#define BITCASK_UTIL_LZF_H_

#include <string>
#include <string_view>

namespace bitcask::util {

// Decompresses in into exactly `length` bytes in *out; false if in is not a valid LZF stream
// of that length.
bool LzfDecompress(std::string_view in, size_t length, std::string* out);

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_LZF_H_
