// DUMP and RESTORE beside a real redis-server: byte for byte the same replies (payloads of
// values Redis does not compress, every option and error), and each side restores what the
// other dumped (Redis compresses long values with LZF; bitcask-server writes them plain).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "server_harness.h"
#include "test_util.h"
#include "util/crc64.h"

namespace bitcask::test {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of a single bulk-string reply.
std::string Bulk(const std::string& reply) {
  const size_t eol = reply.find("\r\n");
  if (reply.empty() || reply[0] != '$' || eol == std::string::npos) return "";
  return reply.substr(eol + 2, std::stoul(reply.substr(1, eol - 1)));
}

// A payload as Redis frames it: body, RDB version (2 bytes LE), CRC-64 of both (8 bytes LE).
std::string Frame(const std::string& body, int version) {
  std::string p = body;
  p.push_back(char(version & 0xff));
  p.push_back(char(version >> 8));
  const uint64_t crc = util::Crc64(0, p);
  for (int i = 0; i < 8; i++) p.push_back(char(crc >> (8 * i)));
  return p;
}

TEST(DumpRestoreTest, RepliesLikeRedisAndEachRestoresTheOthers) {
  TempDir tmp;
  ServerProcess ours(tmp.Sub("bitcask"));
  ASSERT_TRUE(ours.ready());
  RealRedis redis(tmp.path());
  ASSERT_NE(redis.port(), 0) << "could not start redis-server";

  const std::string hello =
      Bulk(Replies(redis.port(), {{"SET", "s", "hello"}, {"DUMP", "s"}}).substr(5));  // past +OK
  ASSERT_FALSE(hello.empty());
  std::string flipped = hello;
  flipped[2] ^= 1;
  const std::string v11 = Frame(hello.substr(0, hello.size() - 10), 11);
  // A string longer than the payload (a shorter one Redis reads on into the footer).
  const std::string bad_body = Frame(std::string("\x00\x20hel", 5), 10);
  const std::vector<std::vector<std::string>> script = {
      {"SET", "s", "hello"},
      {"DUMP", "s"},
      {"SET", "n", "12345"},
      {"DUMP", "n"},
      {"SET", "neg", "-7"},
      {"DUMP", "neg"},
      {"SET", "big", "2147483648"},
      {"DUMP", "big"},
      {"SET", "lead", "007"},
      {"DUMP", "lead"},
      {"SET", "twenty", "abcdefghijabcdefghij"},
      {"DUMP", "twenty"},
      {"SET", "empty", ""},
      {"DUMP", "empty"},
      {"DUMP", "missing"},
      {"RESTORE", "r1", "0", hello},
      {"GET", "r1"},
      {"TTL", "r1"},
      {"RESTORE", "r1", "0", hello},
      {"RESTORE", "r1", "0", hello, "REPLACE"},
      {"RESTORE", "r2", "100000", hello},
      {"TTL", "r2"},
      {"RESTORE", "r3", "1", hello, "ABSTTL"},
      {"EXISTS", "r3"},
      {"RESTORE", "r1", "1", hello, "REPLACE", "ABSTTL"},
      {"EXISTS", "r1"},
      {"RESTORE", "r5", "-1", hello},
      {"RESTORE", "r5", "x", hello},
      {"RESTORE", "r5", "0", "garbage"},
      {"RESTORE", "r5", "0", flipped},
      {"RESTORE", "r5", "0", v11},
      {"RESTORE", "r5", "0", bad_body},
      {"RESTORE", "r5", "0", hello, "IDLETIME", "-1"},
      {"RESTORE", "r5", "0", hello, "IDLETIME", "x"},
      {"RESTORE", "r5", "0", hello, "FREQ", "256"},
      {"RESTORE", "r5", "0", hello, "NOPE"},
      {"RESTORE", "r5", "0", hello, "IDLETIME"},
      {"RESTORE", "r5", "0", hello, "IDLETIME", "5", "FREQ", "5"},
      {"RESTORE", "r5", "0", hello, "IDLETIME", "10"},
      {"RESTORE", "r6", "0", hello, "FREQ", "10", "REPLACE"},
      {"MGET", "r5", "r6"},
      {"RESTORE", "s", "0", hello},
      {"RESTORE", "r7", "0"},
      {"DUMP"},
      {"DUMP", "a", "b"},
  };
  const std::string want = Replies(redis.port(), script);
  EXPECT_EQ(Replies(ours.port(), script), want);

  // An absolute expiry far ahead is kept as given.
  EXPECT_EQ(Replies(ours.port(), {{"RESTORE", "r4", "4102444800000", hello, "ABSTTL"}}), "+OK\r\n");
  const std::string ttl = Replies(ours.port(), {{"PTTL", "r4"}});
  ASSERT_EQ(ttl[0], ':') << ttl;
  EXPECT_NEAR(std::stod(ttl.substr(1)), 4102444800000.0 - double(NowMs()), 5000.0);

  // Across: a long value (Redis compresses it) and binary bytes, each way.
  std::string binary;
  for (int b = 0; b < 256; b++) binary.push_back(char(b));
  const std::string long_value(1000, 'x');
  for (const std::string& value : {long_value, binary}) {
    Replies(redis.port(), {{"SET", "v", value}});
    Replies(ours.port(), {{"SET", "v", value}});
    const std::string from_redis = Bulk(Replies(redis.port(), {{"DUMP", "v"}}));
    const std::string from_ours = Bulk(Replies(ours.port(), {{"DUMP", "v"}}));
    EXPECT_EQ(Replies(ours.port(), {{"RESTORE", "w", "0", from_redis, "REPLACE"}}), "+OK\r\n");
    EXPECT_EQ(Replies(redis.port(), {{"RESTORE", "w", "0", from_ours, "REPLACE"}}), "+OK\r\n");
    EXPECT_EQ(Bulk(Replies(ours.port(), {{"GET", "w"}})), value);
    EXPECT_EQ(Bulk(Replies(redis.port(), {{"GET", "w"}})), value);
  }
  // A list from Redis: refused by name.
  Replies(redis.port(), {{"RPUSH", "list", "a", "b"}});
  const std::string list = Bulk(Replies(redis.port(), {{"DUMP", "list"}}));
  EXPECT_EQ(Replies(ours.port(), {{"RESTORE", "list", "0", list}}),
            "-ERR the payload holds a list (quicklist) (RDB type 18): bitcask-server stores "
            "strings only\r\n");
}

}  // namespace
}  // namespace bitcask::test
