#include "server/log.h"

#include <chrono>
#include <ctime>

#include "util/text.h"

namespace bitcask::server {

bool Logger::Open(const std::string& path) {
  if (path.empty()) return true;
  FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return false;
  std::lock_guard l(mu_);
  out_ = f;
  return true;
}

void Logger::SetLevel(std::string_view level) {
  level_ = level == "debug"     ? kDebug
           : level == "verbose" ? kVerbose
           : level == "warning" ? kWarning
                                : kNotice;
}

std::string JsonString(std::string_view s) { return util::Quote(s); }

void Logger::Log(Level level, std::string_view msg,
                 std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  if (!Enabled(level)) return;
  static const char* kNames[] = {"debug", "verbose", "notice", "warning"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  std::string line = std::string("{\"ts\":\"") + ts + "\",\"level\":\"" + kNames[level] +
                     "\",\"msg\":" + JsonString(msg);
  for (const auto& [k, v] : fields) line += "," + JsonString(k) + ":" + JsonString(v);
  line += "}\n";
  std::lock_guard l(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace bitcask::server
