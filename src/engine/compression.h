// Value compression: lz4 (Debian's liblz4) and zstd (libzstd), per record.

#ifndef BITCASK_ENGINE_COMPRESSION_H_
#define BITCASK_ENGINE_COMPRESSION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "bitcask/options.h"
#include "bitcask/status.h"

namespace bitcask::engine {

// Compresses value into *out (the stored form: u32 original length, then the codec's output)
// and returns the codec to record in the flags, or format::kCodecNone (and leaves *out alone)
// when compression is off or would not make the value smaller.
uint8_t CompressValue(Compression compression, int level, std::string_view value, std::string* out);

// Restores a stored value. Corruption, naming `where`, if it does not decode.
Status DecompressValue(uint8_t codec, std::string_view stored, std::string* out,
                       const std::string& where);

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_COMPRESSION_H_
