// The RESP parser and writers, and glob matching.

#include "server/resp.h"

#include <gtest/gtest.h>

#include <random>

#include "server/glob.h"

namespace bitcask::server {
namespace {

using Result = RespParser::Result;

struct Parsed {
  Result result;
  std::vector<std::string> args;
  size_t consumed = 0;
  std::string error;
};

Parsed Parse(std::string_view in, RespLimits limits = {}) {
  RespParser parser(limits);
  std::vector<std::string_view> views;
  std::vector<std::string> storage;
  Parsed p;
  p.result = parser.Parse(in, &views, &p.consumed, &p.error, &storage);
  for (auto v : views) p.args.emplace_back(v);
  return p;
}

TEST(RespParserTest, Multibulk) {
  const std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n";
  Parsed p = Parse(in);
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_EQ(p.args, (std::vector<std::string>{"SET", "k", "va\r\nl"}));  // binary safe
  EXPECT_EQ(p.consumed, in.size());
}

TEST(RespParserTest, PipelinedCommandsOneAtATime) {
  const std::string in = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
  Parsed first = Parse(in);
  ASSERT_EQ(first.result, Result::kCommand);
  EXPECT_EQ(first.args, std::vector<std::string>{"PING"});
  Parsed second = Parse(std::string_view(in).substr(first.consumed));
  ASSERT_EQ(second.result, Result::kCommand);
  EXPECT_EQ(second.args, (std::vector<std::string>{"ECHO", "hi"}));
}

TEST(RespParserTest, EveryPrefixNeedsMore) {
  const std::string in = "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
  for (size_t n = 1; n < in.size(); n++) {
    Parsed p = Parse(std::string_view(in).substr(0, n));
    ASSERT_EQ(p.result, Result::kNeedMore) << n;
    EXPECT_GT(p.consumed, n) << "the hint must ask for more than what is there";
  }
  // Once the bulk header is in, the hint is the whole command.
  Parsed p = Parse(std::string_view(in).substr(0, 20));
  EXPECT_EQ(p.consumed, in.size());
}

TEST(RespParserTest, Inline) {
  Parsed p = Parse("SET key \"two words\\n\" 'it\\'s' \\x41\r\n");
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_EQ(p.args, (std::vector<std::string>{"SET", "key", "two words\n", "it's", "\\x41"}));
  p = Parse("PING\n");
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_EQ(p.args, std::vector<std::string>{"PING"});
  p = Parse("\r\n");
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_TRUE(p.args.empty());
  p = Parse("GET \"unterminated\r\n");
  ASSERT_EQ(p.result, Result::kError);
  EXPECT_EQ(p.error, "ERR Protocol error: unbalanced quotes in request");
}

TEST(RespParserTest, ProtocolErrorsUseRedisWording) {
  EXPECT_EQ(Parse("*x\r\n").error, "ERR Protocol error: invalid multibulk length");
  EXPECT_EQ(Parse("*1\r\n+3\r\n").error, "ERR Protocol error: expected '$', got '+'");
  EXPECT_EQ(Parse("*1\r\n$-5\r\n").error, "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(Parse("*1\r\n$abc\r\n").error, "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(Parse("*1\r\n$3\r\nGETxx").result, Result::kError);
  RespLimits small;
  small.max_bulk_bytes = 10;
  small.max_args = 4;
  small.max_inline_bytes = 32;
  EXPECT_EQ(Parse("*1\r\n$11\r\n", small).error, "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(Parse("*5\r\n", small).error, "ERR Protocol error: invalid multibulk length");
  EXPECT_EQ(Parse(std::string(40, 'a'), small).error, "ERR Protocol error: too big inline request");
  EXPECT_EQ(Parse("*" + std::string(40, '1'), small).error,
            "ERR Protocol error: too big mbulk count string");
}

TEST(RespParserTest, EmptyMultibulkIsSkipped) {
  Parsed p = Parse("*0\r\n");
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_TRUE(p.args.empty());
  EXPECT_EQ(p.consumed, 4u);
}

// Random bytes must never crash the parser or make it read past the input; this runs
// everywhere (ASan included). tests/resp_fuzz.cc is the libFuzzer version.
TEST(RespParserTest, RandomGarbageIsHandled) {
  std::mt19937 rng(42);
  const std::string alphabet = "*$\r\n0123456789-+ \"'\\xabcGETSET";
  for (int i = 0; i < 200000; i++) {
    std::string in(rng() % 48, '\0');
    for (auto& c : in) c = rng() % 4 ? alphabet[rng() % alphabet.size()] : char(rng());
    Parsed p = Parse(in);
    if (p.result == Result::kCommand) {
      ASSERT_LE(p.consumed, in.size());
    } else if (p.result == Result::kError) {
      ASSERT_EQ(p.error.rfind("ERR Protocol error", 0), 0u) << p.error;
    }
  }
}

TEST(RespWriterTest, Replies) {
  std::string out;
  reply::Simple(&out, "OK");
  reply::Error(&out, "ERR x");
  reply::Integer(&out, -42);
  reply::Bulk(&out, "a\r\nb");
  reply::Null(&out);
  reply::NullArray(&out);
  reply::ArrayHeader(&out, 2);
  EXPECT_EQ(out, "+OK\r\n-ERR x\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*-1\r\n*2\r\n");
}

// An error that quotes what a client sent stays one line (found by commands_fuzz: CONFIG
// "A\r" answered with a CR inside the error line).
TEST(RespWriterTest, ErrorsStayOnOneLine) {
  std::string out;
  reply::Error(&out, "ERR unknown subcommand 'A\r\nB'");
  EXPECT_EQ(out, "-ERR unknown subcommand 'A  B'\r\n");
}

TEST(GlobTest, RedisPatterns) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("h*llo", "heeeello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("user:*:name", "user:42:name"));
  EXPECT_FALSE(GlobMatch("user:*:name", "user:42:email"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*b", std::string(30, 'a') + "b"));
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*b", std::string(3000, 'a')));  // no blow-up
  EXPECT_EQ(GlobLiteralPrefix("user:*"), "user:");
  EXPECT_EQ(GlobLiteralPrefix("log[0-9]"), "log");
  EXPECT_EQ(GlobLiteralPrefix("plain"), "plain");
}

}  // namespace
}  // namespace bitcask::server
