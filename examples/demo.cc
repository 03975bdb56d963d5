// A short tour of the library: store, read back, delete, batch, reopen, print stats.
// `make demo` runs it.

#include <cstdio>
#include <memory>
#include <string>

#include "bitcask/db.h"

namespace {

int Fail(const char* what, const bitcask::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/bitcask-demo";
  std::unique_ptr<bitcask::DB> db;
  bitcask::Status s = bitcask::DB::Open(bitcask::Options(), dir, &db);
  if (!s.ok()) return Fail("open", s);

  const int n = 100000;
  for (int i = 0; i < n; i++) {
    s = db->Put("sensor:" + std::to_string(i),
                "{\"temperature\": " + std::to_string(20 + i % 10) + "}");
    if (!s.ok()) return Fail("put", s);
  }
  bitcask::WriteBatch batch;
  batch.Put("config:mode", "fast");
  batch.Delete("sensor:0");
  if (s = db->Write(batch); !s.ok()) return Fail("write batch", s);
  if (s = db->Close(); !s.ok()) return Fail("close", s);

  if (s = bitcask::DB::Open(bitcask::Options(), dir, &db); !s.ok()) return Fail("reopen", s);
  std::string value;
  if (s = db->Get("sensor:42", &value); !s.ok()) return Fail("get sensor:42", s);
  std::printf("sensor:42 -> %s\n", value.c_str());
  std::printf("sensor:0 after delete -> %s\n", db->Get("sensor:0", &value).ToString().c_str());
  bitcask::Stats stats;
  if (s = db->GetStats(&stats); !s.ok()) return Fail("stats", s);
  std::printf(
      "store %s: %llu live keys, %llu data files, %llu bytes (%llu dead), "
      "keydir %llu bytes, reopened in %.1f ms\n",
      dir.c_str(), (unsigned long long)stats.live_keys, (unsigned long long)stats.data_files,
      (unsigned long long)stats.total_bytes, (unsigned long long)stats.dead_bytes,
      (unsigned long long)stats.keydir_bytes, stats.open_micros / 1000.0);
  return 0;
}
