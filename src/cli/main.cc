// bitcask: a command-line tool over a bitcask store.
//
//   bitcask --dir DIR get KEY
//   bitcask --dir DIR put KEY VALUE [--ttl SECONDS]     (VALUE "-": read from stdin)
//   bitcask --dir DIR delete KEY
//   bitcask --dir DIR scan [--prefix P | --start A --end B] [--reverse] [--limit N] [--values]
//   bitcask --dir DIR stats [--json]
//   bitcask --dir DIR merge [--salvage]        (--salvage: drop damaged records in place)
//   bitcask --dir DIR checkpoint NEWDIR                      (a copy, hard links where it can)
//   bitcask --dir DIR check
//   bitcask --dir DIR repair --output NEWDIR
//   bitcask --dir DIR dump [--output FILE] [--prefix P]       (JSON lines)
//   bitcask --dir DIR load [--input FILE]
//
// Commands that only read open the store read-only, so they work beside a running writer
// (bitcask-server). Exit status: 0 done, 1 failed (or key not found), 2 bad usage.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bitcask/db.h"
#include "bitcask/version.h"
#include "util/text.h"

namespace {

using bitcask::DB;
using bitcask::Options;
using bitcask::Status;
using nlohmann::json;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "bitcask: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const std::string& context = "") {
  if (s.ok()) return;
  std::string msg = context.empty() ? s.ToString() : context + ": " + s.ToString();
  if (s.IsBusy()) {
    msg +=
        "\n(another process, bitcask-server perhaps, has the store open for writing; stop it, "
        "or go through it with redis-cli)";
  }
  Fail(msg);
}

// A number option's check, with a message that says what is expected (CLI11's own ranges
// print their bounds to 300 digits).
CLI::Validator Number(std::string expected, bool (*ok)(double)) {
  return CLI::Validator(
      [expected, ok](std::string& in) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(in, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != in.size() || used == 0 || !ok(v))
          return "expects " + expected + ", not '" + in + "'";
        return {};
      },
      "");
}

std::unique_ptr<DB> OpenStore(const std::string& dir, bool read_only,
                              bitcask::RecoveryMode mode = bitcask::RecoveryMode::kStrict) {
  Options o;
  o.read_only = read_only;
  o.create_if_missing = !read_only;
  o.auto_merge = false;  // a short-lived tool does not start background merges
  o.recovery_mode = mode;
  std::unique_ptr<DB> db;
  Check(DB::Open(o, dir, &db), "opening " + dir);
  return db;
}

// A progress bar on stderr when it is a terminal; silent otherwise.
class Progress {
 public:
  Progress(std::string label, uint64_t total)
      : label_(std::move(label)),
        total_(total),
        tty_(isatty(STDERR_FILENO) != 0),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() { Finish(); }

  void Update(uint64_t done, uint64_t total = 0) {
    if (total != 0) total_ = total;
    done_ = done;
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    Draw();
  }
  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (!tty_) return;
    Draw();
    std::fputc('\n', stderr);
  }

 private:
  void Draw() const {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (total_ == 0) {  // unknown amount: a spinner
      static const char kSpin[] = "|/-\\";
      std::fprintf(stderr, "\r%s %c %.1f s", label_.c_str(), kSpin[int(secs * 8) % 4], secs);
      return;
    }
    const double frac = std::min(1.0, double(done_) / double(total_));
    const int width = 30, filled = int(frac * width);
    std::fprintf(stderr, "\r%s [%s%s] %3.0f%% %llu/%llu %.1f s", label_.c_str(),
                 std::string(size_t(filled), '=').c_str(),
                 std::string(size_t(width - filled), ' ').c_str(), frac * 100,
                 (unsigned long long)done_, (unsigned long long)total_, secs);
  }

  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// One record of a dump: {"key":..., "value":..., "expire_at_ms":...}; a key or value that is
// not UTF-8 goes as key_base64 / value_base64.
void PutField(json* j, const char* name, std::string_view bytes) {
  if (bitcask::util::IsValidUtf8(bytes)) {
    (*j)[name] = std::string(bytes);
  } else {
    (*j)[std::string(name) + "_base64"] = bitcask::util::Base64Encode(bytes);
  }
}

bool GetField(const json& j, const char* name, std::string* out) {
  if (j.contains(name) && j[name].is_string()) {
    *out = j[name].get<std::string>();
    return true;
  }
  const std::string b64 = std::string(name) + "_base64";
  if (!j.contains(b64) || !j[b64].is_string()) return false;
  std::optional<std::string> bytes = bitcask::util::Base64Decode(j[b64].get<std::string>());
  if (bytes) *out = std::move(*bytes);
  return bytes.has_value();
}

uint64_t CountKeys(DB* db) {
  uint64_t n = 0;
  (void)db->Count(&n);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bitcask: inspect and manage a bitcask store"};
  app.set_version_flag("--version", "bitcask " BITCASK_VERSION);
  app.require_subcommand(1);
  std::string dir;
  app.add_option("-d,--dir", dir, "The store's directory")->envname("BITCASK_DIR")->required();

  std::string key, value, prefix, start, end, output, input;
  double ttl = 0;
  bool reverse = false, values = false, as_json = false;
  size_t limit = SIZE_MAX;

  auto* get = app.add_subcommand("get", "Print the value of KEY (exit 1 if absent)");
  get->add_option("key", key, "The key")->required();

  auto* put = app.add_subcommand("put", "Store VALUE under KEY");
  put->add_option("key", key, "The key")->required();
  put->add_option("value", value, "The value; '-' reads it from standard input")->required();
  put->add_option("--ttl", ttl, "Seconds until the key expires")
      ->check(Number("a number of seconds above 0 (below 4.6e15)",
                     [](double v) { return v > 0 && v * 1000 < 0x1p62; }));

  auto* del = app.add_subcommand("delete", "Remove KEY (exit 1 if absent)");
  del->add_option("key", key, "The key")->required();

  auto* scan = app.add_subcommand("scan", "List keys in order, by prefix or range");
  scan->add_option("--prefix", prefix, "Only keys starting with this");
  scan->add_option("--start", start, "First key (inclusive)");
  scan->add_option("--end", end, "Last key (exclusive)");
  scan->add_flag("--reverse", reverse, "Walk down from the last key");
  scan->add_option("--limit", limit, "At most this many keys")
      ->check(Number("a whole number of keys, 0 or more",
                     [](double v) { return v >= 0 && v < 0x1p63 && v == std::floor(v); }));
  scan->add_flag("--values", values, "Print key<TAB>value");

  auto* stats = app.add_subcommand("stats", "Keys, files, bytes, fragmentation, merges");
  stats->add_flag("--json", as_json, "As JSON");

  bool salvage = false;
  auto* merge =
      app.add_subcommand("merge", "Rewrite the data files without dead records (reclaim space)");
  merge->add_flag("--salvage", salvage,
                  "Open past damage and rewrite what verifies, dropping damaged records (after "
                  "it the store opens without complaint; `repair` copies to a new store "
                  "instead)");
  auto* checkpoint = app.add_subcommand(
      "checkpoint", "Copy the store into a new directory (sealed files as hard links)");
  checkpoint->add_option("target", output, "Directory of the copy (must not exist)")->required();
  app.add_subcommand("check", "Verify every record's checksum and every hint file");

  auto* repair = app.add_subcommand("repair", "Copy every readable record into a new store");
  repair->add_option("--output", output, "Directory of the new store (must not exist)")->required();

  auto* dump = app.add_subcommand("dump", "Write every key and value as JSON lines");
  dump->add_option("--output", output, "File to write (default: standard output)");
  dump->add_option("--prefix", prefix, "Only keys starting with this");

  auto* load = app.add_subcommand("load", "Store the records of a dump (JSON lines)");
  load->add_option("--input", input, "File to read (default: standard input)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error and a hint
    return code == 0 ? 0 : 2;
  }

  if (get->parsed()) {
    auto db = OpenStore(dir, true);
    std::string v;
    const Status s = db->Get(key, &v);
    if (s.IsNotFound()) Fail("key '" + key + "' not found");
    Check(s);
    std::fwrite(v.data(), 1, v.size(), stdout);
    if (isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
    return 0;
  }
  if (put->parsed()) {
    if (value == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      value = ss.str();
    }
    auto db = OpenStore(dir, false);
    bitcask::WriteOptions w;
    // Rounded up: a TTL asked for is never 0 ms, which would mean none.
    w.ttl_ms = ttl > 0 ? static_cast<uint64_t>(std::ceil(ttl * 1000)) : 0;
    w.sync = true;  // a one-off tool: make it durable before saying OK
    Check(db->Put(key, value, w));
    Check(db->Close());
    return 0;
  }
  if (del->parsed()) {
    auto db = OpenStore(dir, false);
    bitcask::WriteOptions w;
    w.sync = true;
    const Status s = db->Delete(key, w);
    if (s.IsNotFound()) Fail("key '" + key + "' not found");
    Check(s);
    Check(db->Close());
    return 0;
  }
  if (scan->parsed()) {
    auto db = OpenStore(dir, true);
    bitcask::IteratorOptions o;
    o.prefix = prefix;
    o.lower_bound = start;
    o.upper_bound = end;
    auto it = db->NewIterator(o);
    size_t n = 0;
    for (reverse ? it->SeekToLast() : it->SeekToFirst(); it->Valid() && n < limit;
         reverse ? it->Prev() : it->Next(), n++) {
      std::fwrite(it->key().data(), 1, it->key().size(), stdout);
      if (values) {
        std::fputc('\t', stdout);
        std::fwrite(it->value().data(), 1, it->value().size(), stdout);
      }
      std::fputc('\n', stdout);
    }
    Check(it->status());
    return 0;
  }
  if (stats->parsed()) {
    auto db = OpenStore(dir, true);
    bitcask::Stats st;
    Check(db->GetStats(&st));
    if (as_json) {
      json files = json::array();
      for (const auto& f : st.files) {
        files.push_back({{"id", f.file_id},
                         {"total_bytes", f.total_bytes},
                         {"dead_bytes", f.dead_bytes},
                         {"fragmentation", f.fragmentation()},
                         {"has_hint", f.has_hint}});
      }
      std::cout << json{{"live_keys", st.live_keys},
                        {"data_files", st.data_files},
                        {"total_bytes", st.total_bytes},
                        {"dead_bytes", st.dead_bytes},
                        {"keydir_bytes", st.keydir_bytes},
                        {"open_seconds", st.open_micros / 1e6},
                        {"files", files}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::printf(
        "store          %s\nlive keys      %llu\ndata files     %llu\nbytes          %llu\n"
        "dead bytes     %llu (%.1f%%)\nkeydir memory  %llu bytes\nopened in      %.1f ms\n\n",
        dir.c_str(), (unsigned long long)st.live_keys, (unsigned long long)st.data_files,
        (unsigned long long)st.total_bytes, (unsigned long long)st.dead_bytes,
        st.total_bytes ? 100.0 * st.dead_bytes / st.total_bytes : 0.0,
        (unsigned long long)st.keydir_bytes, st.open_micros / 1000.0);
    std::printf("%-10s %14s %14s %8s %5s\n", "file", "bytes", "dead", "frag", "hint");
    for (const auto& f : st.files) {
      std::printf("%08u.data %12llu %14llu %7.1f%% %5s\n", f.file_id,
                  (unsigned long long)f.total_bytes, (unsigned long long)f.dead_bytes,
                  100 * f.fragmentation(), f.has_hint ? "yes" : "no");
    }
    return 0;
  }
  if (merge->parsed()) {
    auto db = OpenStore(
        dir, false, salvage ? bitcask::RecoveryMode::kSkipCorrupt : bitcask::RecoveryMode::kStrict);
    bitcask::Stats before, after;
    Check(db->GetStats(&before));
    Status s;
    {
      Progress p("merging", 0);
      std::atomic<bool> done{false};
      std::thread work([&] {
        s = db->Merge();
        done = true;
      });
      while (!done) {
        p.Update(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      work.join();
    }
    Check(s);
    Check(db->GetStats(&after));
    Check(db->Close());
    std::printf("merged: %llu -> %llu bytes in %llu files (%.1f MiB reclaimed)\n",
                (unsigned long long)before.total_bytes, (unsigned long long)after.total_bytes,
                (unsigned long long)after.data_files, after.merge_bytes_reclaimed / 1048576.0);
    if (salvage) {
      std::printf(
          "salvaged: %llu bytes of damaged records skipped while opening, %llu keys "
          "whose records were damaged dropped\n",
          (unsigned long long)after.corrupt_bytes_skipped,
          (unsigned long long)after.damaged_keys_dropped);
    }
    return 0;
  }
  if (checkpoint->parsed()) {
    auto db = OpenStore(dir, false);
    Check(db->Checkpoint(output));
    Check(db->Close());
    std::printf("checkpoint of %s in %s\n", dir.c_str(), output.c_str());
    return 0;
  }
  if (app.got_subcommand("check")) {
    auto db = OpenStore(dir, true, bitcask::RecoveryMode::kSkipCorrupt);
    bitcask::CheckReport r;
    Status s;
    {
      Progress p("checking", 0);
      s = db->Check(&r, [&](uint64_t done, uint64_t total) { p.Update(done, total); });
    }
    std::printf("%llu data files, %llu records, %llu bytes, %llu hint files checked\n",
                (unsigned long long)r.data_files, (unsigned long long)r.records,
                (unsigned long long)r.bytes, (unsigned long long)r.hint_files);
    for (const auto& problem : r.problems) std::printf("PROBLEM %s\n", problem.reason.c_str());
    if (r.problems.empty()) {
      std::printf("OK: every checksum verified\n");
      return 0;
    }
    std::printf(
        "%zu problem(s); `bitcask merge --salvage` rewrites the store without the "
        "damaged records, `bitcask repair` copies what is readable into a new store\n",
        r.problems.size());
    return 1;
  }
  if (repair->parsed()) {
    auto src = OpenStore(dir, true, bitcask::RecoveryMode::kSkipCorrupt);
    Options o;
    o.error_if_exists = true;
    o.auto_merge = false;
    std::unique_ptr<DB> dst;
    Check(DB::Open(o, output, &dst), "creating " + output);
    bitcask::Stats st;
    Check(src->GetStats(&st));
    uint64_t copied = 0, unreadable = 0, seen = 0;
    {
      // Key by key rather than with an iterator, so one unreadable record is counted and
      // skipped instead of ending the walk.
      std::vector<std::string> keys;
      Check(src->Keys(&keys));
      Progress p("repairing", keys.size());
      bitcask::WriteBatch batch;
      std::string v;
      for (const std::string& k : keys) {
        uint64_t expiry = 0;
        const Status s = src->GetWithExpiry(k, &v, &expiry);
        if (s.ok()) {
          batch.Put(k, v, expiry);
          copied++;
        } else if (!s.IsNotFound()) {  // NotFound: deleted or expired since Keys()
          std::fprintf(stderr, "skipping key '%s': %s\n", k.c_str(), s.ToString().c_str());
          unreadable++;
        }
        if (batch.Count() == 1000) {
          Check(dst->Write(batch), "writing " + output);
          batch.Clear();
        }
        p.Update(++seen);
      }
      Check(dst->Write(batch), "writing " + output);
    }
    Check(dst->Close());
    std::printf(
        "copied %llu keys into %s; %llu unreadable; %llu bytes of damaged records "
        "skipped while opening\n",
        (unsigned long long)copied, output.c_str(), (unsigned long long)unreadable,
        (unsigned long long)st.corrupt_bytes_skipped);
    return 0;
  }
  if (dump->parsed()) {
    auto db = OpenStore(dir, true);
    std::ofstream file;
    if (!output.empty()) {
      file.open(output, std::ios::binary | std::ios::trunc);
      if (!file) Fail("cannot write " + output);
    }
    std::ostream& out = output.empty() ? std::cout : file;
    bitcask::IteratorOptions io;
    io.prefix = prefix;
    auto it = db->NewIterator(io);
    uint64_t n = 0;
    {
      Progress p("dumping", CountKeys(db.get()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        json j;
        PutField(&j, "key", it->key());
        PutField(&j, "value", it->value());
        uint64_t expiry = 0;
        if (db->GetWithExpiry(it->key(), nullptr, &expiry).ok() && expiry != 0)
          j["expire_at_ms"] = expiry;
        out << j.dump() << "\n";
        p.Update(++n);
      }
    }
    Check(it->status());
    if (!out) Fail("writing the dump failed");
    std::fprintf(stderr, "dumped %llu keys\n", (unsigned long long)n);
    return 0;
  }
  if (load->parsed()) {
    std::ifstream file;
    if (!input.empty()) {
      file.open(input, std::ios::binary);
      if (!file) Fail("cannot read " + input);
    }
    std::istream& in = input.empty() ? std::cin : file;
    auto db = OpenStore(dir, false);
    bitcask::WriteBatch batch;
    std::string line, k, v;
    uint64_t n = 0;
    {
      Progress p("loading", 0);
      for (uint64_t number = 1; std::getline(in, line); number++) {
        if (line.empty()) continue;
        const json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !GetField(j, "key", &k) ||
            !GetField(j, "value", &v)) {
          Fail("line " + std::to_string(number) +
               " of the input is not a dump record "
               "({\"key\": ..., \"value\": ...})");
        }
        const uint64_t expiry = j.value("expire_at_ms", uint64_t{0});
        batch.Put(k, v, expiry);
        if (batch.Count() == 1000) {
          Check(db->Write(batch));
          batch.Clear();
        }
        p.Update(++n);
      }
      Check(db->Write(batch));
    }
    Check(db->Sync());
    Check(db->Close());
    std::fprintf(stderr, "loaded %llu keys\n", (unsigned long long)n);
    return 0;
  }
  return 2;
}
