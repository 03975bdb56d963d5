// Glob patterns as Redis's KEYS and SCAN MATCH read them: * ? [abc] [^a-z] and \ escapes.

#ifndef BITCASK_SERVER_GLOB_H_
#define BITCASK_SERVER_GLOB_H_

#include <string_view>

namespace bitcask::server {

bool GlobMatch(std::string_view pattern, std::string_view text);

// The literal prefix every match shares (up to the first special character), so a scan can
// start there instead of at the first key.
std::string_view GlobLiteralPrefix(std::string_view pattern);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_GLOB_H_
