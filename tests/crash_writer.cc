// Child process for the crash tests. Writes to a store and prints one line per acknowledged
// operation on stdout (flushed), so the parent knows exactly what was acknowledged when it
// kills this process with SIGKILL.
//
//   crash_writer DIR puts|batches|overwrite|deletes|threads SYNC MAX_FILE_SIZE [SYNC_EVERY]
//   crash_writer DIR open                     prints the status of an Open and exits
//   crash_writer DIR merge POINT              writes MergeWorkload(), then merges and kills
//                                             itself with SIGKILL when the merge reaches POINT
//
// SYNC is none, interval or always. Acknowledgement lines:
//   puts:      "ack I"        key-I holds ValueFor(I)
//   batches:   "ack I"        b-I-0 .. b-I-9 hold ValueFor(I)
//   overwrite: "ack I"        key-(I % 50) holds ValueFor(I)
//   deletes:   "put I" / "del I"
//   threads:   "ack I"        key-I holds ValueFor(I); four threads put keys 0, 1, 2, ...
// With SYNC_EVERY, DB::Sync after every SYNC_EVERY-th operation, then "synced C": the
// operations of the first C lines were acknowledged before that DB::Sync began.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bitcask/db.h"
#include "engine/db_impl.h"
#include "merge_workload.h"

namespace {

// The value written for operation i: its number, padded to a size that varies with i.
std::string ValueFor(long i) {
  std::string v = "value-" + std::to_string(i) + "-";
  v.append(static_cast<size_t>(i % 300), static_cast<char>('a' + i % 26));
  return v;
}

int Die(const char* what, const bitcask::Status& s) {
  std::fprintf(stderr, "crash_writer: %s: %s\n", what, s.ToString().c_str());
  return 2;
}

std::mutex out_mu;
long lines = 0;  // acknowledgement lines printed, guarded by out_mu

void Ack(const char* kind, long i) {
  std::lock_guard l(out_mu);
  std::printf("%s %ld\n", kind, i);
  lines++;
}

// After operation i: every sync_every operations, a DB::Sync, reported with the number of
// lines it covers for sure.
bitcask::Status MaybeSync(bitcask::DB* db, long sync_every, long i) {
  if (sync_every == 0 || (i + 1) % sync_every != 0) return bitcask::Status::OK();
  long covered;
  {
    std::lock_guard l(out_mu);
    covered = lines;
  }
  bitcask::Status s = db->Sync();
  if (s.ok()) {
    std::lock_guard l(out_mu);
    std::printf("synced %ld\n", covered);
  }
  return s;
}

}  // namespace

namespace bitcask::test {
// The store's Env: null (the operating system's) here; power_writer links power_recorder.cc,
// whose WriterEnv records what a power cut would keep.
[[gnu::weak]] Env* WriterEnv() { return nullptr; }
}  // namespace bitcask::test

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: crash_writer DIR MODE [SYNC MAX_FILE_SIZE]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string mode = argv[2];
  bitcask::Options options;
  if (argc > 3) {
    const std::string sync = mode == "merge" ? "always" : argv[3];
    options.sync_mode = sync == "always"     ? bitcask::SyncMode::kAlways
                        : sync == "interval" ? bitcask::SyncMode::kInterval
                                             : bitcask::SyncMode::kNone;
    options.sync_interval_ms = 5;
  }
  if (argc > 4) options.max_file_size = std::strtoull(argv[4], nullptr, 10);
  const long sync_every = argc > 5 ? std::strtol(argv[5], nullptr, 10) : 0;

  if (mode == "merge") {
    options.max_file_size = 16 * 1024;  // many files, several outputs
    options.auto_merge = false;
  }
  std::unique_ptr<bitcask::DB> db;
  options.env = bitcask::test::WriterEnv();
  bitcask::Status s = bitcask::DB::Open(options, dir, &db);
  if (mode == "open") {
    std::printf("%s\n", s.ToString().c_str());
    return 0;
  }
  if (!s.ok()) return Die("open", s);
  if (mode == "merge") {
    const std::string point = argc > 3 ? argv[3] : "";
    if (s = bitcask::test::MergeWorkload(db.get()); !s.ok()) return Die("workload", s);
    static_cast<bitcask::engine::DBImpl*>(db.get())->TEST_SetMergeHook(
        [point](std::string_view at) {
          if (at == point) ::raise(SIGKILL);
        });
    if (s = db->Merge(); !s.ok()) return Die("merge", s);
    std::printf("merged\n");
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  if (mode == "threads") {
    std::atomic<long> next{0};
    auto put = [&] {
      for (;;) {
        const long i = next++;
        bitcask::Status ps = db->Put("key-" + std::to_string(i), ValueFor(i));
        if (ps.ok()) Ack("ack", i);
        if (ps.ok()) ps = MaybeSync(db.get(), sync_every, i);
        if (!ps.ok()) std::_Exit(Die("put", ps));
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) threads.emplace_back(put);
    for (auto& t : threads) t.join();
    return 0;
  }

  for (long i = 0;; i++) {
    if (mode == "puts") {
      if (s = db->Put("key-" + std::to_string(i), ValueFor(i)); !s.ok()) return Die("put", s);
      Ack("ack", i);
    } else if (mode == "batches") {
      bitcask::WriteBatch batch;
      for (int j = 0; j < 10; j++) {
        batch.Put("b-" + std::to_string(i) + "-" + std::to_string(j), ValueFor(i));
      }
      if (s = db->Write(batch); !s.ok()) return Die("write", s);
      Ack("ack", i);
    } else if (mode == "overwrite") {
      if (s = db->Put("key-" + std::to_string(i % 50), ValueFor(i)); !s.ok()) return Die("put", s);
      Ack("ack", i);
    } else if (mode == "deletes") {
      if (s = db->Put("key-" + std::to_string(i), ValueFor(i)); !s.ok()) return Die("put", s);
      Ack("put", i);
      if (i % 2 == 0) {
        if (s = db->Delete("key-" + std::to_string(i)); !s.ok()) return Die("delete", s);
        Ack("del", i);
      }
    } else {
      std::fprintf(stderr, "crash_writer: unknown mode %s\n", mode.c_str());
      return 2;
    }
    if (s = MaybeSync(db.get(), sync_every, i); !s.ok()) return Die("sync", s);
  }
}
