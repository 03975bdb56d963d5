// The long-input half of hash.h. This file does not include hash.h: that header inlines
// xxhash.h (XXH_INLINE_ALL), and here the library's exported functions are wanted instead.

#include <cstddef>
#include <cstdint>
#include <string_view>

// The state's layout, to keep one on the stack (header and library come in one Debian package).
#define XXH_STATIC_LINKING_ONLY
#ifdef BITCASK_XXH3_DISPATCH
// Debian's x86-64 libxxhash picks SSE2, AVX2 or AVX-512 on its first call.
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define BITCASK_XXH3_64 XXH3_64bits_dispatch
#define BITCASK_XXH3_UPDATE XXH3_64bits_update_dispatch
#else
#include <xxhash.h>
#define BITCASK_XXH3_64 XXH3_64bits
#define BITCASK_XXH3_UPDATE XXH3_64bits_update
#endif

namespace bitcask::util {

uint64_t HashLong(const void* p, size_t n) { return BITCASK_XXH3_64(p, n); }

uint64_t HashLong3(std::string_view a, std::string_view b, std::string_view c) {
  // The streaming form gives the same hash as the one-shot form over the concatenation.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::string_view s : {a, b, c}) {
    if (!s.empty()) BITCASK_XXH3_UPDATE(&state, s.data(), s.size());
  }
  return XXH3_64bits_digest(&state);
}

}  // namespace bitcask::util
