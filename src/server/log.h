// Structured logs: one JSON object per line ({"ts":..., "level":..., "msg":..., fields}),
// to stderr or a file, for log shippers to read without parsing prose.

#ifndef BITCASK_SERVER_LOG_H_
#define BITCASK_SERVER_LOG_H_

#include <atomic>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace bitcask::server {

class Logger {
 public:
  enum Level { kDebug, kVerbose, kNotice, kWarning };

  // path empty: stderr.
  bool Open(const std::string& path);
  void SetLevel(std::string_view level);
  // Whether a message of this level would be written (to skip building its fields).
  bool Enabled(Level level) const { return level >= level_.load(std::memory_order_relaxed); }
  void Log(Level level, std::string_view msg,
           std::initializer_list<std::pair<std::string_view, std::string>> fields = {});

 private:
  std::mutex mu_;
  FILE* out_ = stderr;
  std::atomic<Level> level_{kNotice};
};

// A JSON string literal for s (quotes and escapes included).
std::string JsonString(std::string_view s);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_LOG_H_
