#include "server/command.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace bitcask::server {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Redis's string2ll: optional '-', digits, no leading zeros, no spaces, within int64.
bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  if (s[0] == '-' && (s.size() == 1 || s[1] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseFloat(std::string_view s, long double* out) {
  if (s.empty() || s.size() > 256 || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const std::string z(s);
  char* end = nullptr;
  errno = 0;
  *out = std::strtold(z.c_str(), &end);
  return end == z.c_str() + z.size() && errno != ERANGE && !std::isnan(*out);
}

void Err(CommandContext& c, std::string_view msg) { reply::Error(c.out, msg); }
void Ok(CommandContext& c) { reply::Simple(c.out, "OK"); }
void NotInteger(CommandContext& c) { Err(c, "ERR value is not an integer or out of range"); }
void SyntaxError(CommandContext& c) { Err(c, "ERR syntax error"); }
void WrongArgs(CommandContext& c) {
  Err(c, "ERR wrong number of arguments for '" + Lower(c.args[0]) + "' command");
}
// Redis's replies for a subcommand it does not know, or one called with the wrong arity.
void UnknownSubcommand(CommandContext& c) {
  Err(c, "ERR unknown subcommand '" + std::string(c.args[1].substr(0, 128)) + "'. Try " +
             Upper(c.args[0]) + " HELP.");
}
void SubcommandArity(CommandContext& c) {
  Err(c, "ERR wrong number of arguments for '" + Lower(c.args[0]) + "|" + Lower(c.args[1]) +
             "' command");
}

void StoreError(std::string* out, const Status& s, std::string_view context) {
  reply::Error(out, "ERR " + std::string(context) + s.ToString());
}
void StoreError(CommandContext& c, const Status& s, std::string_view context) {
  StoreError(c.out, s, context);
}

// Replies with a bulk string, or the null bulk string for NotFound; counts hits and misses.
void BulkOrNull(CommandContext& c, const Status& s, std::string_view value) {
  if (s.ok()) {
    c.server.keyspace_hits++;
    reply::Bulk(c.out, value);
  } else if (s.IsNotFound()) {
    c.server.keyspace_misses++;
    reply::Null(c.out);
  } else {
    StoreError(c, s);
  }
}

Status PutWithExpiry(Keyspace& ks, std::string_view key, std::string_view value,
                     uint64_t expire_at_ms) {
  WriteOptions w;
  w.expire_at_ms = expire_at_ms;
  return ks.Put(key, value, w);
}

// Reads key into *out (exists false for a missing key; the value only if want_value). On a
// store error, replies with it and returns false.
bool ReadForUpdate(CommandContext& c, std::string_view key, Stored* out, bool want_value) {
  const Status s = c.keyspace.GetWithExpiry(key, want_value ? &out->value : nullptr, &out->expiry);
  out->exists = s.ok();
  if (s.ok() || s.IsNotFound()) return true;
  StoreError(c, s);
  return false;
}

// An expiry option: EX seconds, PX ms, EXAT unix-seconds, PXAT unix-ms, to absolute ms.
// Returns false after replying with the error.
bool ParseExpiry(CommandContext& c, std::string_view unit, std::string_view amount,
                 const char* command, uint64_t* at_ms) {
  int64_t n;
  if (!ParseInt(amount, &n)) {
    NotInteger(c);
    return false;
  }
  const bool seconds = IEquals(unit, "ex") || IEquals(unit, "exat");
  const bool relative = IEquals(unit, "ex") || IEquals(unit, "px");
  int64_t ms = n;
  if (n <= 0 || (seconds && __builtin_mul_overflow(n, int64_t{1000}, &ms)) ||
      (relative && __builtin_add_overflow(ms, NowUnixMillis(), &ms))) {
    Err(c, std::string("ERR invalid expire time in '") + command + "' command");
    return false;
  }
  *at_ms = static_cast<uint64_t>(ms);
  return true;
}

std::vector<std::string_view> ArgsFrom(const Args& args, size_t first, size_t step) {
  std::vector<std::string_view> keys;
  for (size_t i = first; i < args.size(); i += step) keys.push_back(args[i]);
  return keys;
}

void ReplyValues(ServerState& server, std::span<const Status> statuses,
                 std::span<const std::string> values, std::string* out) {
  for (size_t i = 0; i < statuses.size(); i++) {
    if (statuses[i].ok()) {
      server.keyspace_hits++;
      reply::Bulk(out, values[i]);
    } else if (statuses[i].IsNotFound()) {
      server.keyspace_misses++;
      reply::Null(out);
    } else {
      reply::Error(out, "ERR " + statuses[i].ToString());
    }
  }
}

}  // namespace bitcask::server
