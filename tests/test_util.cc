#include "test_util.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

namespace bitcask::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/bitcask-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string DBTest::Get(const std::string& key) {
  std::string value;
  Status s = db_->Get(key, &value);
  if (s.IsNotFound()) return "NOT_FOUND";
  if (!s.ok()) return s.ToString();
  return value;
}

void DBTest::ExpectExactly(const std::map<std::string, std::string>& expected) {
  std::vector<std::string> keys;
  ASSERT_OK(db_->Keys(&keys));
  ASSERT_EQ(keys.size(), expected.size());
  for (const auto& [k, v] : expected) ASSERT_EQ(Get(k), v) << k;
}

void DBTest::ForEachPowerCut(const std::string& shadow, uint32_t images,
                             const std::function<void()>& check) {
  const std::string killed = tmp_.Sub("killed");
  std::filesystem::remove_all(killed);
  std::filesystem::rename(dir(), killed);
  for (uint32_t seed = 0; seed < images; seed++) {
    SCOPED_TRACE("power cut image " + std::to_string(seed));
    std::filesystem::remove_all(dir());
    PowerCutImage(killed, shadow, dir(), seed);
    check();
    db_.reset();
    if (::testing::Test::HasFatalFailure()) return;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

namespace {
std::string NumberedValue(int i) { return "v" + std::to_string(i) + std::string(100, '.'); }
}  // namespace

void PutNumbered(DB* db, int n) {
  for (int i = 0; i < n; i++) ASSERT_OK(db->Put("k" + std::to_string(i), NumberedValue(i)));
}

void ExpectNumbered(DB* db, int n) {
  std::string v;
  for (int i = 0; i < n; i++) {
    ASSERT_OK(db->Get("k" + std::to_string(i), &v));
    EXPECT_EQ(v, NumberedValue(i)) << i;
  }
}

std::vector<std::string> DataFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".data")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// A name's version in a store: the file's inode and the inode's generation (see
// power_recorder.cc), or absent.
struct Version {
  bool present = false;
  uint64_t ino = 0;
  uint64_t gen = 0;
  bool operator==(const Version&) const = default;
};

uint64_t Generation(const std::string& shadow, uint64_t ino) {
  const std::string path = shadow + "/gen-" + std::to_string(ino);
  return std::filesystem::exists(path) ? std::stoull(ReadFile(path)) : 0;
}

// The regular files of dir by name (none if dir does not exist).
std::map<std::string, Version> CurrentVersions(const std::string& dir, const std::string& shadow) {
  std::map<std::string, Version> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out[e.path().filename().string()] = {true, st.st_ino, Generation(shadow, st.st_ino)};
  }
  return out;
}

std::map<std::string, Version> DurableVersions(const std::string& shadow) {
  std::map<std::string, Version> out;
  std::istringstream in(ReadFile(shadow + "/listing"));
  Version v{true};
  std::string name;
  while (in >> v.ino >> v.gen >> name) out[name] = v;
  return out;
}

// Where the recorder keeps what the last flush of version v made durable.
std::string FlushedPath(const std::string& shadow, const Version& v) {
  return shadow + "/f-" + std::to_string(v.ino) + "-" + std::to_string(v.gen);
}

// Of two versions of a file's bytes, one of the two sizes and per 4 KiB page one of the two.
std::string MixPages(const std::string& a, const std::string& b, std::mt19937& rng) {
  constexpr size_t kPage = 4096;
  std::string out(rng() % 2 ? a.size() : b.size(), '\0');
  for (size_t at = 0; at < out.size(); at += kPage) {
    const std::string& from = rng() % 2 ? a : b;
    if (at < from.size()) {
      const size_t n = std::min({kPage, out.size() - at, from.size() - at});
      out.replace(at, n, from, at, n);
    }
  }
  return out;
}

}  // namespace

void SeedPowerShadow(const std::string& dir, const std::string& shadow) {
  std::filesystem::remove_all(shadow);
  std::filesystem::create_directories(shadow);
  std::string listing;
  for (const auto& [name, v] : CurrentVersions(dir, shadow)) {
    const Version seeded{true, v.ino, 0};
    WriteFile(FlushedPath(shadow, seeded), ReadFile(dir + "/" + name));
    listing += std::to_string(v.ino) + " 0 " + name + "\n";
  }
  WriteFile(shadow + "/listing", listing);
}

void PowerCutImage(const std::string& killed, const std::string& shadow, const std::string& out,
                   uint32_t seed) {
  const std::map<std::string, Version> durable = DurableVersions(shadow);
  const std::map<std::string, Version> current = CurrentVersions(killed, shadow);
  std::set<std::string> names;
  for (const auto* m : {&durable, &current}) {
    for (const auto& entry : *m) names.insert(entry.first);
  }
  std::mt19937 rng(seed);
  std::filesystem::create_directories(out);
  for (const std::string& name : names) {
    const auto d = durable.find(name);
    const auto c = current.find(name);
    const Version none;
    const Version& was = d == durable.end() ? none : d->second;
    const Version& is = c == current.end() ? none : c->second;
    const Version& v = seed == 0 || rng() % 2 ? was : is;
    if (!v.present) continue;
    std::string contents = ReadFile(FlushedPath(shadow, v));
    // Bytes written after the last flush may have reached the disk too, or some of them.
    if (seed != 0 && v == is) contents = MixPages(contents, ReadFile(killed + "/" + name), rng);
    WriteFile(out + "/" + name, contents);
  }
}

}  // namespace bitcask::test
