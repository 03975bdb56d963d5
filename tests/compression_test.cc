// Per-record compression: every codec round-trips, any mix of codecs reads back, values
// that do not shrink are stored plain, and a compressed payload that does not decode is
// Corruption, not data.

#include "engine/compression.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>

#include "engine/format.h"
#include "test_util.h"

namespace bitcask::test {
namespace {

std::string Json(int i) {
  return "{\"device\": \"sensor-" + std::to_string(i % 50) +
         "\", \"temperature\": " + std::to_string(20 + i % 15) +
         ".5, \"humidity\": 60, \"status\": \"ok\", \"tags\": [\"building-a\", \"floor-3\", "
         "\"room-" +
         std::to_string(i % 40) + "\"], \"firmware\": \"v2.14.1\"}";
}

std::string Noise(size_t n, int seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class CompressionTest : public DBTest, public ::testing::WithParamInterface<Compression> {};

TEST_P(CompressionTest, RoundTripsAndShrinksText) {
  Options o;
  o.compression = GetParam();
  o.compression_min_bytes = 64;
  ASSERT_OK(Open(o));
  uint64_t raw = 0;
  for (int i = 0; i < 2000; i++) {
    const std::string v = Json(i) + Json(i + 1) + Json(i + 2);
    raw += v.size();
    ASSERT_OK(db_->Put("doc" + std::to_string(i), v));
  }
  ASSERT_OK(db_->Put("noise", Noise(5000, 1)));  // incompressible: stored plain
  ASSERT_OK(db_->Put("tiny", "{}"));             // below the threshold
  WriteBatch batch;
  batch.Put("batched", Json(7) + Json(8));
  ASSERT_OK(db_->Write(batch));
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  if (GetParam() != Compression::kNone) {
    EXPECT_LT(stats.total_bytes, raw * 7 / 10) << "JSON should compress well";
  }
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 2000; i += 97) {
      const std::string want = Json(i) + Json(i + 1) + Json(i + 2);
      ASSERT_EQ(Get("doc" + std::to_string(i)), want);
      std::string viewed;
      ASSERT_OK(db_->GetView("doc" + std::to_string(i), [&](std::string_view v) { viewed = v; }));
      ASSERT_EQ(viewed, want) << "GetView hands over the decompressed value";
    }
    EXPECT_EQ(Get("noise"), Noise(5000, 1));
    EXPECT_EQ(Get("tiny"), "{}");
    EXPECT_EQ(Get("batched"), Json(7) + Json(8));
    auto it = db_->NewIterator({.lower_bound = "", .upper_bound = "", .prefix = "doc1"});
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->value(), Json(1) + Json(2) + Json(3));
    ASSERT_OK(db_->Merge());  // copies compressed records as they are
    Reopen(o);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kLz4,
                                           Compression::kZstd),
                         [](const auto& info) {
                           return info.param == Compression::kNone  ? std::string("none")
                                  : info.param == Compression::kLz4 ? std::string("lz4")
                                                                    : std::string("zstd");
                         });

TEST_F(DBTest, AnyMixOfCodecsReadsBack) {
  const Compression codecs[] = {Compression::kLz4, Compression::kZstd, Compression::kNone};
  for (int c = 0; c < 3; c++) {
    Options o;
    o.compression = codecs[c];
    ASSERT_OK(Open(o));
    for (int i = 0; i < 100; i++)
      ASSERT_OK(db_->Put(std::to_string(c) + "-" + std::to_string(i), Json(i) + Json(i)));
    db_.reset();
  }
  ASSERT_OK(Open());
  for (int c = 0; c < 3; c++) {
    for (int i = 0; i < 100; i++)
      ASSERT_EQ(Get(std::to_string(c) + "-" + std::to_string(i)), Json(i) + Json(i));
  }
}

TEST_F(DBTest, UndecodableCompressedValueIsCorruption) {
  ASSERT_OK(Open());
  ASSERT_OK(db_->Put("fine", "ok"));
  db_.reset();
  // A record whose checksum is right but whose lz4 payload is garbage: written by hand.
  const std::string garbage = std::string("\x00\x10\x00\x00", 4) + "this is not an lz4 block";
  std::string rec(engine::format::RecordSize(3, garbage.size()), '\0');
  engine::format::EncodeRecord(
      rec.data(), 99, 0, engine::format::kCodecLz4 << engine::format::kCodecShift, "bad", garbage);
  const std::string path = dir() + "/00000001.data";
  std::filesystem::remove(dir() + "/00000001.hint");
  WriteFile(path, ReadFile(path) + rec);
  ASSERT_OK(Open());
  std::string value = "untouched";
  const Status s = db_->Get("bad", &value);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("does not decode"), std::string::npos) << s.ToString();
  EXPECT_EQ(Get("fine"), "ok");
  bool called = false;
  const Status v = db_->GetView("bad", [&](std::string_view) { called = true; });
  EXPECT_TRUE(v.IsCorruption()) << v.ToString();
  EXPECT_FALSE(called);
}

// Found by store_fuzz: a forged record (its checksum right) whose lz4 value claimed 1 GiB made
// Get allocate 1 GiB before finding that the payload does not decode. The claim is now
// checked against what the payload can hold first.
TEST_F(DBTest, CompressedValueClaimingMoreThanItCanHoldIsCorruption) {
  ASSERT_OK(Open());
  db_.reset();
  std::string zstd;
  ASSERT_EQ(engine::CompressValue(Compression::kZstd, 1, std::string(1000, 'z'), &zstd),
            engine::format::kCodecZstd);
  std::string content = ReadFile(dir() + "/00000001.data");
  uint64_t seq = 100;
  for (const auto& [key, codec, stored] :
       {std::tuple{"lz4", engine::format::kCodecLz4,
                   std::string("\x00\x00\x00\x40", 4) + "tiny payload"},
        std::tuple{"zstd", engine::format::kCodecZstd,
                   std::string("\x00\x00\x00\x40", 4) + zstd.substr(4)}}) {
    std::string rec(engine::format::RecordSize(std::strlen(key), stored.size()), '\0');
    engine::format::EncodeRecord(rec.data(), seq++, 0,
                                 static_cast<uint8_t>(codec << engine::format::kCodecShift), key,
                                 stored);
    content += rec;
  }
  WriteFile(dir() + "/00000001.data", content);
  ASSERT_OK(Open());
  for (const char* key : {"lz4", "zstd"}) {
    std::string value = "untouched";
    const Status s = db_->Get(key, &value);
    EXPECT_TRUE(s.IsCorruption()) << key << ": " << s.ToString();
    EXPECT_NE(s.ToString().find("cannot hold the 1073741824 bytes it claims"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(value, "untouched");
  }
}

// The check above stays clear of what the codecs really do at their densest.
TEST(CompressionLimitTest, MostCompressibleValuesStillDecode) {
  const std::string zeros(16 << 20, '\0');
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    std::string stored, back;
    const uint8_t codec = engine::CompressValue(c, 1, zeros, &stored);
    ASSERT_NE(codec, engine::format::kCodecNone);
    ASSERT_OK(engine::DecompressValue(codec, stored, &back, "test"));
    EXPECT_EQ(back, zeros);
  }
}

}  // namespace
}  // namespace bitcask::test
