// libFuzzer target for recovery: `make fuzz` builds it with clang (-fsanitize=fuzzer,address,
// undefined) and runs it beside the RESP parser's. Each input becomes a store on disk, data
// file 1 (a valid file header, then the input's bytes as records) and, if the input asks, a
// hint file for it whose entries come from the input and whose checksum the harness computes,
// so that the entries themselves get exercised; records may get matching checksums the same
// way. Data file 2, a bare header, is the active
// file. Then the store is opened (strict or salvage, read-only or not) and read every way.
//
// What must hold for every input: no crash, no sanitizer report; Open fails only with
// Corruption or NotSupported and a message; reads return OK, NotFound or Corruption; a merge
// that succeeds changes nothing that reads back; a strict writable open that succeeded leaves
// a store that opens again, strict, with the same contents.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/db.h"
#include "bitcask/iterator.h"
#include "engine/format.h"
#include "util/coding.h"
#include "util/hash.h"

namespace {

namespace format = bitcask::engine::format;
using bitcask::DB;
using bitcask::Options;
using bitcask::Status;

void Check(bool ok, const char* what, const Status& s = Status::OK()) {
  if (ok) return;
  std::fprintf(stderr, "store_fuzz: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

// Reads the input front to back; past the end it yields zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(reinterpret_cast<const char*>(data)), n_(size) {}
  uint64_t Int(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && n_ > 0; i++, p_++, n_--) {
      v |= uint64_t{static_cast<uint8_t>(*p_)} << (8 * i);
    }
    return v;
  }
  std::string_view Bytes(size_t want) {
    const size_t n = want < n_ ? want : n_;
    std::string_view out(p_, n);
    p_ += n;
    n_ -= n;
    return out;
  }
  std::string_view Rest() { return Bytes(n_); }

 private:
  const char* p_;
  size_t n_;
};

void WriteFile(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  Check(f != nullptr, "create a file");
  Check(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(), "write a file");
  std::fclose(f);
}

std::string FileHeader(const char (&magic)[4], uint32_t id) {
  std::string h(format::kFileHeaderSize, '\0');
  format::EncodeFileHeader(h.data(), magic, id);
  return h;
}

const std::string& Dir() {
  static const std::string dir = [] {
    // In memory where there is a tmpfs: a store's open and close flush files and the directory.
    std::string tmpl = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    tmpl += "/bitcask-store-fuzz-XXXXXX";
    Check(::mkdtemp(tmpl.data()) != nullptr, "make a temporary directory");
    return tmpl;
  }();
  return dir;
}

bool AllowedOpenError(const Status& s) {
  return (s.IsCorruption() || s.IsNotSupported()) && !s.ToString().empty();
}

bool AllowedReadStatus(const Status& s) { return s.ok() || s.IsNotFound() || s.IsCorruption(); }

// Reads every key every way; returns the keys (empty if Keys found damage).
std::vector<std::string> ReadAll(DB* db, bool* keys_ok) {
  std::vector<std::string> keys;
  const Status ks = db->Keys(&keys);
  Check(ks.ok() || ks.IsCorruption(), "Keys", ks);
  *keys_ok = ks.ok();
  for (const std::string& k : keys) {
    std::string v;
    const Status s = db->Get(k, &v);
    Check(AllowedReadStatus(s), "Get", s);
    size_t seen = 0;
    const Status vs = db->GetView(k, [&](std::string_view view) { seen = view.size(); });
    Check(vs.code() == s.code(), "GetView and Get disagree", vs);
    Check(!s.ok() || seen == v.size(), "GetView and Get differ in size");
    Check(AllowedReadStatus(db->Contains(k)), "Contains");
  }
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<std::string> values(views.size());
  std::vector<Status> statuses(views.size());
  db->MultiGet(views, values, statuses);
  for (const Status& s : statuses) Check(AllowedReadStatus(s), "MultiGet", s);
  std::unique_ptr<bitcask::Iterator> it = db->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
  }
  Check(it->status().ok() || it->status().IsCorruption(), "iterator", it->status());
  it.reset();
  uint64_t count = 0;
  const Status cs = db->Count(&count);
  Check(cs.ok() || cs.IsCorruption(), "Count", cs);
  bitcask::CheckReport report;
  const Status rs = db->Check(&report);
  Check(rs.ok() || rs.IsCorruption(), "Check", rs);
  return keys;
}

// Every key that reads back, with its value (keys whose read finds damage are left out).
std::map<std::string, std::string> Contents(DB* db) {
  std::map<std::string, std::string> out;
  std::vector<std::string> keys;
  if (!db->Keys(&keys).ok()) return out;
  for (const std::string& k : keys) {
    std::string v;
    if (db->Get(k, &v).ok()) out.emplace(k, std::move(v));
  }
  return out;
}

// Expiry is decided against this fixed time, so that no key expires half way through an
// input's checks.
class FixedClock : public bitcask::EnvWrapper {
 public:
  FixedClock() : EnvWrapper(bitcask::Env::Default()) {}
  uint64_t NowUnixMillis() override { return 1'750'000'000'000; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const unsigned mode = static_cast<unsigned>(in.Int(1));
  const std::string& dir = Dir();
  for (const auto& e : std::filesystem::directory_iterator(dir)) std::filesystem::remove(e.path());

  std::string hint;
  if (mode & 4) {
    // A hint with the input's entries and footer fields, and a checksum that matches.
    const std::string_view entries = in.Bytes(in.Int(2) % 1024);
    const uint64_t count = in.Int(1);
    const uint64_t data_size = in.Int(2);
    const uint64_t max_seq = in.Int(8);
    hint = FileHeader(format::kHintMagic, 1);
    hint.append(entries);
    char footer[40] = {'B', 'C', 'H', 'E'};
    bitcask::util::EncodeFixed64(footer + 8, count);
    bitcask::util::EncodeFixed64(footer + 16, data_size);
    bitcask::util::EncodeFixed64(footer + 24, max_seq);
    hint.append(footer, 32);
    char hash[8];
    bitcask::util::EncodeFixed64(hash, bitcask::util::Hash64(hint.data(), hint.size()));
    hint.append(hash, 8);
  }
  std::string records(in.Rest());
  if (mode & 8) {
    // Give each record the input lays out a checksum that matches, so that the fuzzer reaches
    // what lies behind the checksum: sequence numbers, flags, batches, codecs, expiries.
    size_t at = 0;
    while (records.size() - at >= format::kRecordHeaderSize) {
      char* rec = records.data() + at;
      const uint64_t n = format::RecordSize(bitcask::util::DecodeFixed16(rec + 24),
                                            bitcask::util::DecodeFixed32(rec + 20));
      if (n > records.size() - at) break;
      bitcask::util::EncodeFixed32(rec, bitcask::util::Checksum32(rec + 4, n - 4));
      at += n;
    }
  }
  WriteFile(dir + "/00000001.data", FileHeader(format::kDataMagic, 1) + records);
  WriteFile(dir + "/00000002.data", FileHeader(format::kDataMagic, 2));
  if (!hint.empty()) WriteFile(dir + "/00000001.hint", hint);

  Options options;
  options.create_if_missing = false;
  options.auto_merge = false;
  options.max_file_size = 64 << 10;  // the active file's preallocation
  static FixedClock clock;
  options.env = &clock;
  options.recovery_mode =
      (mode & 1) ? bitcask::RecoveryMode::kSkipCorrupt : bitcask::RecoveryMode::kStrict;
  options.read_only = (mode & 2) != 0;
  std::unique_ptr<DB> db;
  const Status s = DB::Open(options, dir, &db);
  if (!s.ok()) {
    Check(AllowedOpenError(s), "Open", s);
    return 0;
  }
  bool keys_ok;
  const std::vector<std::string> keys = ReadAll(db.get(), &keys_ok);
  if (options.read_only) return 0;
  // A writable store takes a write; a merge keeps every value that read back before it; and
  // a strict open that succeeded opens again with the same contents.
  Check(db->Put("fuzz-new-key", "value").ok(), "Put after open");
  const std::map<std::string, std::string> before = Contents(db.get());
  const Status m = db->Merge();
  Check(m.ok() || m.IsCorruption(), "Merge", m);
  if (m.ok()) Check(Contents(db.get()) == before, "a merge changed what reads back");
  Check(db->Close().ok(), "Close");
  db.reset();
  if (options.recovery_mode != bitcask::RecoveryMode::kStrict) {
    // A salvage merge rewrites what read back into sound files: a strict open takes them.
    if (!m.ok()) return 0;
    options.recovery_mode = bitcask::RecoveryMode::kStrict;
    const Status strict = DB::Open(options, dir, &db);
    Check(strict.ok(), "strict open after a salvage merge", strict);
    Check(Contents(db.get()) == before,
          "a strict open after a salvage merge changed what reads back");
    return 0;
  }
  const Status again = DB::Open(options, dir, &db);
  Check(again.ok(), "strict reopen of a store a strict open accepted", again);
  if (m.ok()) Check(Contents(db.get()) == before, "reopen changed what reads back");
  if (!keys_ok) return 0;
  std::vector<std::string> after;
  Check(db->Keys(&after).ok(), "Keys after reopen");
  const size_t added = std::count(keys.begin(), keys.end(), "fuzz-new-key") == 0 ? 1 : 0;
  Check(after.size() == keys.size() + added, "reopen lost or gained keys");
  return 0;
}
