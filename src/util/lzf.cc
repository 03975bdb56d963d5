#include "util/lzf.h"

namespace bitcask::util {

// The format: a control byte below 32 starts a run of control + 1 literal bytes; any other is
// a back reference of (control >> 5) + 2 bytes (+ one more length byte when that field is
// 7), at distance ((control & 31) << 8) + next byte + 1 behind the end of the output, copied a
// byte at a time (it may overlap what it writes: that is how runs are encoded).
bool LzfDecompress(std::string_view in, size_t length, std::string* out) {
  out->clear();
  out->reserve(length);
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i++]);
    if (c < 32) {
      const size_t run = size_t{c} + 1;
      if (i + run > in.size() || out->size() + run > length) return false;
      out->append(in.substr(i, run));
      i += run;
      continue;
    }
    size_t n = c >> 5;
    if (n == 7) {
      if (i >= in.size()) return false;
      n += static_cast<unsigned char>(in[i++]);
    }
    if (i >= in.size()) return false;
    const size_t distance = ((size_t{c} & 0x1f) << 8) + static_cast<unsigned char>(in[i++]) + 1;
    n += 2;
    if (distance > out->size() || out->size() + n > length) return false;
    size_t from = out->size() - distance;
    for (size_t k = 0; k < n; k++) out->push_back((*out)[from++]);
  }
  return out->size() == length;
}

}  // namespace bitcask::util
