// libFuzzer target for bitcask-server's command table: `make fuzz` builds it with clang
// (-fsanitize=fuzzer,address,undefined). Each input is read as RESP requests, which run one
// after the other through Dispatch against a real store (emptied first with FLUSHALL), the
// way a connection runs them.
//
// What must hold: no crash, no sanitizer report (UBSan catches the integer overflows that
// argument parsing invites: ranges, offsets, expiries, INCRBY); every reply is exactly one
// well-formed RESP2 reply. Left out: SHUTDOWN, CONFIG SET (it could raise the limits the
// next checks rely on) and SETRANGE offsets past 1 MiB (a legal 512 MiB value would only
// test the allocator).

#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/db.h"
#include "server/dispatch.h"
#include "server/resp.h"
#include "server/state.h"

namespace {

using bitcask::server::Args;
using bitcask::server::Client;
using bitcask::server::RespParser;
using bitcask::server::ServerState;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "commands_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Reads a CRLF-terminated line from p; returns its end (the CR) or nullptr.
const char* LineEnd(const char* p, const char* end) {
  for (; p + 1 < end; p++) {
    if (*p == '\r') return p[1] == '\n' ? p : nullptr;
    if (*p == '\n') return nullptr;
  }
  return nullptr;
}

bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  char* e = nullptr;
  const std::string copy(s);
  *v = std::strtoll(copy.c_str(), &e, 10);
  return e == copy.c_str() + copy.size();
}

// One RESP2 reply starting at p; returns where it ends, or nullptr if malformed.
const char* Reply(const char* p, const char* end, int depth) {
  if (p >= end || depth > 8) return nullptr;
  const char* eol = LineEnd(p + 1, end);
  if (eol == nullptr) return nullptr;
  const std::string_view line(p + 1, static_cast<size_t>(eol - p - 1));
  const char* next = eol + 2;
  int64_t n;
  switch (*p) {
    case '+':
    case '-':
      return next;
    case ':':
      return ParseInt(line, &n) ? next : nullptr;
    case '$':
      if (!ParseInt(line, &n) || n < -1) return nullptr;
      if (n == -1) return next;
      if (end - next < n + 2 || next[n] != '\r' || next[n + 1] != '\n') return nullptr;
      return next + n + 2;
    case '*':
      if (!ParseInt(line, &n) || n < -1) return nullptr;
      for (int64_t i = 0; i < n && next != nullptr; i++) next = Reply(next, end, depth + 1);
      return next;
    default:
      return nullptr;
  }
}

bool Is(std::string_view a, const char* b) {
  if (a.size() != std::strlen(b)) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

bool LeftOut(const Args& args) {
  if (args.empty()) return false;
  if (Is(args[0], "shutdown")) return true;
  if (Is(args[0], "checkpoint")) return true;  // would make directories where the input says
  if (Is(args[0], "config") && args.size() > 1 && Is(args[1], "set")) return true;
  int64_t offset;
  return Is(args[0], "setrange") && args.size() > 2 && ParseInt(args[2], &offset) &&
         offset > (int64_t{1} << 20);
}

ServerState& State() {
  static ServerState* state = [] {
    std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    dir += "/bitcask-commands-fuzz-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::unique_ptr<bitcask::DB> db;
    bitcask::Options options;
    options.auto_merge = false;
    options.max_file_size = 1 << 20;
    const bitcask::Status s = bitcask::DB::Open(options, dir, &db);
    if (!s.ok()) Fail("open", s.ToString());
    bitcask::server::ServerConfig cfg;
    cfg.dir = dir;
    return new ServerState(std::move(db), cfg);
  }();
  return *state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ServerState& state = State();
  Client client;
  client.id = 1;
  client.authenticated = true;
  std::string out;
  bitcask::server::Dispatch(state, client, Args{"FLUSHALL"}, &out);
  if (out != "+OK\r\n") Fail("FLUSHALL", out);

  bitcask::server::RespLimits limits;
  limits.max_bulk_bytes = 1 << 16;
  limits.max_args = 64;
  limits.max_inline_bytes = 1 << 12;
  const RespParser parser(limits);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Args args;
  std::vector<std::string> storage;
  std::string error;
  while (!in.empty()) {
    size_t consumed = 0;
    if (parser.Parse(in, &args, &consumed, &error, &storage) != RespParser::Result::kCommand) break;
    in.remove_prefix(consumed);
    if (args.empty() || LeftOut(args)) continue;
    out.clear();
    bitcask::server::Dispatch(state, client, args, &out);
    if (client.deferred) {
      out += client.deferred();
      client.deferred = nullptr;
    }
    const char* end = Reply(out.data(), out.data() + out.size(), 0);
    if (end != out.data() + out.size()) Fail("not one well-formed reply", out);
  }
  return 0;
}
