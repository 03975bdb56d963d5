// The RDB format (server/rdb.h), CRC-64 and LZF against Redis 7.0.15's own bytes: an RDB a real
// redis-server wrote for a full sync, DUMP payloads it produced, the checksums they carry.

#include "server/rdb.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "util/crc64.h"
#include "util/lzf.h"

namespace bitcask::server::rdb {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Collects what a Loader reads.
struct Collector : Loader::Handler {
  std::map<std::string, std::pair<std::string, uint64_t>> keys;
  std::map<std::string, std::string> aux;
  std::vector<std::string> skipped;
  Status OnAux(std::string_view k, std::string_view v) override {
    aux[std::string(k)] = v;
    return Status::OK();
  }
  Status OnKey(std::string_view k, std::string_view v, uint64_t expire) override {
    keys[std::string(k)] = {std::string(v), expire};
    return Status::OK();
  }
  void OnSkipped(std::string_view what) override { skipped.emplace_back(what); }
};

// Feeds the whole of data in pieces of `step` bytes; returns the loader's last status.
Status FeedInPieces(Loader* loader, std::string_view data, size_t step, size_t* used_total) {
  *used_total = 0;
  for (size_t at = 0; at < data.size() && !loader->done();) {
    const size_t n = std::min(step, data.size() - at);
    size_t used = 0;
    if (Status s = loader->Feed(data.substr(at, n), &used); !s.ok()) return s;
    *used_total += used;
    at += n;
  }
  return Status::OK();
}

TEST(Crc64Test, CheckValues) {
  EXPECT_EQ(util::Crc64(0, "123456789"), 0xe9c6d914c4b8d9caull);
  EXPECT_EQ(util::Crc64(util::Crc64(0, "1234"), "56789"), 0xe9c6d914c4b8d9caull);
  EXPECT_EQ(util::Crc64(0, ""), 0u);
}

TEST(LzfTest, RedisCompressedRunOfA) {
  std::string out;
  ASSERT_TRUE(util::LzfDecompress(Unhex("016161e05700016161"), 100, &out));
  EXPECT_EQ(out, std::string(100, 'a'));
  EXPECT_FALSE(util::LzfDecompress(Unhex("016161e05700016161"), 99, &out));  // too long
  EXPECT_FALSE(util::LzfDecompress(Unhex("016161e0570001"), 100, &out));     // cut short
  EXPECT_FALSE(util::LzfDecompress(Unhex("e05705"), 100, &out));  // reference before the start
}

// A full sync's RDB as redis-server 7.0.15 sent it (db 0: seven keys, one with an expiry,
// ints, an LZF string; db 2: one key). Database 0 loads; database 2 is refused by name.
TEST(RdbLoaderTest, ReadsWhatRedisWrites) {
  const std::string rdb = Unhex(
      "524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa05"
      "6374696d65c268c7166bfa08757365642d6d656dc2780f1000fa0e7265706c2d73747265616d2d6462c000fa"
      "077265706c2d69642839333264393562396666396131336163396362373534333237623366663338646436"
      "633364646530fa0b7265706c2d6f6666736574c000fa08616f662d62617365c000fe00fb070100016ec13930"
      "00036e6567c0fbfc00d8c32cbb03000000036578700376616c00046c656164033030370006626967696e740b"
      "31323334353637383930310003666f6f036261720003626967c3094064016161e05700016161fe02fb010000"
      "01780179ff22f072d1943c6d11");
  ASSERT_EQ(rdb.size(), 275u);
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
    Collector got;
    Loader loader(&got);
    size_t used = 0;
    const Status s = FeedInPieces(&loader, rdb, step, &used);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.ToString().find("the RDB has keys in database 2: bitcask-server has one database"),
              std::string::npos)
        << s.ToString();
    EXPECT_EQ(got.aux["redis-ver"], "7.0.15");
    EXPECT_EQ(got.aux["redis-bits"], "64");
    EXPECT_EQ(got.aux["repl-id"], "932d95b9ff9a13ac9cb754327b3ff38dd6c3dde0");
    EXPECT_EQ(got.aux["repl-offset"], "0");
    const std::map<std::string, std::pair<std::string, uint64_t>> want = {
        {"n", {"12345", 0}},
        {"neg", {"-5", 0}},
        {"exp", {"val", 4102444800000}},
        {"lead", {"007", 0}},
        {"bigint", {"12345678901", 0}},
        {"foo", {"bar", 0}},
        {"big", {std::string(100, 'a'), 0}}};
    EXPECT_EQ(got.keys, want) << "step " << step;
  }
}

TEST(RdbLoaderTest, RoundTripAndStopsAtTheEnd) {
  std::string file;
  Writer w([&](std::string_view b) {
    file.append(b);
    return Status::OK();
  });
  ASSERT_TRUE(w.Begin({{"redis-ver", "7.0.15"}, {"repl-offset", "42"}}, 4, 1).ok());
  const std::string big(200000, 'z');
  std::string binary;
  for (int b = 0; b < 256; b++) binary.push_back(static_cast<char>(b));
  ASSERT_TRUE(w.Add("k", "v", 0).ok());
  ASSERT_TRUE(w.Add("123", "-32768", 4102444800000).ok());
  ASSERT_TRUE(w.Add(binary, big, 0).ok());
  ASSERT_TRUE(w.Add("", "", 0).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.bytes_written(), file.size());
  // What follows the file (a replication stream) is not taken.
  const std::string after = "*1\r\n$4\r\nPING\r\n";
  for (size_t step : {size_t{3}, size_t{65536}, file.size() + after.size()}) {
    Collector got;
    Loader loader(&got);
    size_t used = 0;
    ASSERT_TRUE(FeedInPieces(&loader, file + after, step, &used).ok());
    EXPECT_TRUE(loader.done());
    EXPECT_EQ(used, file.size()) << step;
    EXPECT_EQ(got.aux["repl-offset"], "42");
    EXPECT_EQ(got.keys.size(), 4u);
    EXPECT_EQ(got.keys["123"], std::make_pair(std::string("-32768"), uint64_t{4102444800000}));
    EXPECT_EQ(got.keys[binary].first, big);
    EXPECT_EQ(got.keys[""].first, "");
  }
}

TEST(RdbLoaderTest, DamageAndUnsupportedTypesAreClearErrors) {
  std::string file;
  Writer w([&](std::string_view b) {
    file.append(b);
    return Status::OK();
  });
  ASSERT_TRUE(w.Begin({}, 1, 0).ok());
  ASSERT_TRUE(w.Add("key", "value", 0).ok());
  ASSERT_TRUE(w.Finish().ok());
  std::string flipped = file;
  flipped[file.size() - 12] ^= 1;  // a byte of the value
  Collector got;
  Loader loader(&got);
  size_t used;
  Status s = loader.Feed(flipped, &used);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.ToString().find("wrong RDB checksum"), std::string::npos) << s.ToString();

  // A list (RDB type 18) under a key: refused naming it.
  std::string list = Unhex("524544495330303130fe00fb010012") + std::string("\x06mylist", 7);
  Loader l2(&got);
  s = l2.Feed(list, &used);
  EXPECT_NE(s.ToString().find("key 'mylist' holds a list (quicklist) (RDB type 18): "
                              "bitcask-server stores strings only"),
            std::string::npos)
      << s.ToString();
  Loader l3(&got);
  EXPECT_NE(l3.Feed("REDIS0011", &used).ToString().find("newer than the newest"),
            std::string::npos);
  Loader l4(&got);
  EXPECT_NE(l4.Feed("RUBBISH00", &used).ToString().find("no REDIS magic"), std::string::npos);
}

TEST(DumpPayloadTest, RedisBytes) {
  EXPECT_EQ(DumpPayload("bar"), Unhex("00036261720a00e6be4960ee66fd17"));
  std::string v;
  ASSERT_TRUE(ParseDumpPayload(Unhex("00036261720a00e6be4960ee66fd17"), &v).ok());
  EXPECT_EQ(v, "bar");
  // Redis's DUMP of 12345 (int16) and of 100 a's (LZF), with the checksum computed here.
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {Unhex("00c139300a00"), "12345"},
           {Unhex("00c3094064016161e057000161610a00"), std::string(100, 'a')}}) {
    std::string payload = body;
    const uint64_t crc = util::Crc64(0, payload);
    for (int i = 0; i < 8; i++) payload.push_back(static_cast<char>(crc >> (8 * i)));
    ASSERT_TRUE(ParseDumpPayload(payload, &v).ok());
    EXPECT_EQ(v, want);
  }
  std::string bad = DumpPayload("bar");
  bad[2] ^= 1;
  EXPECT_EQ(ParseDumpPayload(bad, &v).ToString(),
            "Invalid argument: DUMP payload version or checksum are wrong");
  EXPECT_EQ(ParseDumpPayload("short", &v).ToString(),
            "Invalid argument: DUMP payload version or checksum are wrong");
}

}  // namespace
}  // namespace bitcask::server::rdb
