#include "server/glob.h"

namespace bitcask::server {

namespace {

// Matches the class starting after '[' at pattern[p] against c; sets *end to the index after
// the closing ']' (or the end of the pattern, as Redis does for an unclosed class).
bool MatchClass(std::string_view pattern, size_t p, unsigned char c, size_t* end) {
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    p++;
  }
  bool match = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      if (static_cast<unsigned char>(pattern[p + 1]) == c) match = true;
      p += 2;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      unsigned char lo = pattern[p], hi = pattern[p + 2];
      if (lo > hi) std::swap(lo, hi);
      if (c >= lo && c <= hi) match = true;
      p += 3;
    } else {
      if (static_cast<unsigned char>(pattern[p]) == c) match = true;
      p++;
    }
  }
  *end = p < pattern.size() ? p + 1 : p;
  return match != negate;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative with one backtrack point per '*': linear in practice, and no recursion depth
  // for a hostile pattern to exhaust.
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') p++;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        p++;
        t++;
        continue;
      }
      if (pc == '[') {
        size_t end;
        if (MatchClass(pattern, p + 1, static_cast<unsigned char>(text[t]), &end)) {
          p = end;
          t++;
          continue;
        }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (pattern[p + 1] == text[t]) {
          p += 2;
          t++;
          continue;
        }
      } else if (pc == text[t]) {
        p++;
        t++;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;  // let the last '*' swallow one more character
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

std::string_view GlobLiteralPrefix(std::string_view pattern) {
  size_t i = 0;
  while (i < pattern.size() && pattern[i] != '*' && pattern[i] != '?' && pattern[i] != '[' &&
         pattern[i] != '\\') {
    i++;
  }
  return pattern.substr(0, i);
}

}  // namespace bitcask::server
