#include "engine/compression.h"

#include <lz4.h>
#include <zstd.h>

#include "engine/format.h"
#include "util/coding.h"

namespace bitcask::engine {

namespace {

// zstd's one-shot calls build a context per call (hundreds of KiB, ~15 µs); each thread
// keeps one of each instead.
struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& ThreadZstd() {
  thread_local ZstdContexts contexts;
  return contexts;
}

}  // namespace

uint8_t CompressValue(Compression compression, int level, std::string_view value,
                      std::string* out) {
  if (compression == Compression::kNone || value.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return format::kCodecNone;
  }
  const bool lz4 = compression == Compression::kLz4;
  const size_t bound = lz4 ? static_cast<size_t>(LZ4_compressBound(static_cast<int>(value.size())))
                           : ZSTD_compressBound(value.size());
  out->resize(4 + bound);
  util::EncodeFixed32(out->data(), static_cast<uint32_t>(value.size()));
  size_t n;
  if (lz4) {
    const int r = LZ4_compress_default(value.data(), out->data() + 4,
                                       static_cast<int>(value.size()), static_cast<int>(bound));
    if (r <= 0) return format::kCodecNone;
    n = static_cast<size_t>(r);
  } else {
    n = ZSTD_compressCCtx(ThreadZstd().c, out->data() + 4, bound, value.data(), value.size(),
                          level);
    if (ZSTD_isError(n)) return format::kCodecNone;
  }
  if (4 + n >= value.size()) return format::kCodecNone;  // not worth it
  out->resize(4 + n);
  return lz4 ? format::kCodecLz4 : format::kCodecZstd;
}

Status DecompressValue(uint8_t codec, std::string_view stored, std::string* out,
                       const std::string& where) {
  if (stored.size() < 4) return Status::Corruption(where + ": compressed value is truncated");
  const uint32_t original = util::DecodeFixed32(stored.data());
  if (original > format::kMaxValueSize) {
    return Status::Corruption(where + ": compressed value claims " + std::to_string(original) +
                              " bytes");
  }
  const std::string_view payload = stored.substr(4);
  // Checked before the output is allocated, so that a forged length cannot make a read take
  // up to 1 GiB for a value that does not decode: lz4 turns one byte into at most 255, and a
  // zstd frame (as this writer makes them) states its content size.
  const bool plausible = codec == format::kCodecLz4
                             ? original <= 255 * uint64_t{payload.size()} + 64
                             : ZSTD_getFrameContentSize(payload.data(), payload.size()) == original;
  if (!plausible) {
    return Status::Corruption(where + ": compressed value of " + std::to_string(payload.size()) +
                              " bytes cannot hold the " + std::to_string(original) +
                              " bytes it claims");
  }
  out->resize(original);
  bool ok;
  if (codec == format::kCodecLz4) {
    const int r = LZ4_decompress_safe(payload.data(), out->data(), static_cast<int>(payload.size()),
                                      static_cast<int>(original));
    ok = r >= 0 && static_cast<uint32_t>(r) == original;
  } else if (codec == format::kCodecZstd) {
    const size_t r =
        ZSTD_decompressDCtx(ThreadZstd().d, out->data(), original, payload.data(), payload.size());
    ok = !ZSTD_isError(r) && r == original;
  } else {
    ok = false;
  }
  if (!ok) {
    out->clear();
    return Status::Corruption(where + ": compressed value does not decode");
  }
  return Status::OK();
}

}  // namespace bitcask::engine
