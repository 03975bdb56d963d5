// libFuzzer target for the RDB loader (what a replica reads in a full sync, from a leader that
// may be anything) and the DUMP payload parser (what RESTORE reads): `make fuzz` builds it with
// clang (-fsanitize=fuzzer,address,undefined) and runs it. Any input is fed in pieces of a size
// its first byte picks; the loader must end in an error, a request for more, or a complete file,
// never a crash, and a file it accepts must come out of the writer and back in unchanged.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "server/rdb.h"

namespace {

using bitcask::Status;
using bitcask::server::rdb::Loader;
using bitcask::server::rdb::Writer;

struct Collector : Loader::Handler {
  std::vector<std::tuple<std::string, std::string, uint64_t>> keys;
  Status OnAux(std::string_view, std::string_view) override { return Status::OK(); }
  Status OnKey(std::string_view key, std::string_view value, uint64_t expire_at_ms) override {
    keys.emplace_back(std::string(key), std::string(value), expire_at_ms);
    return Status::OK();
  }
  void OnSkipped(std::string_view) override {}
};

// Feeds data in pieces of `step` bytes; the first error, else OK. *complete: the file ended.
Status Load(std::string_view data, size_t step, Collector* into, bool* complete) {
  Loader loader(into);
  size_t at = 0;
  while (at < data.size() && !loader.done()) {
    const std::string_view piece = data.substr(at, step);
    size_t used = 0;
    if (Status s = loader.Feed(piece, &used); !s.ok()) {
      if (s.ToString().empty()) std::abort();  // an error always says what
      return s;
    }
    if (used > piece.size()) std::abort();
    if (used < piece.size() && !loader.done()) std::abort();  // only the end leaves bytes
    at += used;
  }
  *complete = loader.done();
  return Status::OK();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  Collector got;
  bool complete = false;
  if (Load(in, step, &got, &complete).ok() && complete) {
    // Accepted whole: written back and read again, the same keys.
    std::string again;
    Writer w([&](std::string_view b) {
      again.append(b);
      return Status::OK();
    });
    uint64_t expires = 0;
    for (const auto& k : got.keys) expires += std::get<2>(k) != 0;
    if (!w.Begin({{"redis-ver", "7.0.15"}}, got.keys.size(), expires).ok()) std::abort();
    for (const auto& [k, v, e] : got.keys) {
      if (!w.Add(k, v, e).ok()) std::abort();
    }
    if (!w.Finish().ok()) std::abort();
    Collector back;
    bool back_complete = false;
    if (!Load(again, 4096, &back, &back_complete).ok() || !back_complete) std::abort();
    if (back.keys != got.keys) std::abort();
  }

  // The same bytes as a DUMP payload.
  std::string value;
  if (bitcask::server::rdb::ParseDumpPayload(in, &value).ok()) {
    if (bitcask::server::rdb::DumpPayload(value) != in) {
      // Accepted payloads other than our own encoding are fine (Redis writes integers and LZF);
      // ours must read back as the same value.
      std::string back;
      if (!bitcask::server::rdb::ParseDumpPayload(bitcask::server::rdb::DumpPayload(value), &back)
               .ok() ||
          back != value) {
        std::abort();
      }
    }
  }
  return 0;
}
