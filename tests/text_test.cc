// util/text.h: base64 and the strict UTF-8 check.

#include "util/text.h"

#include <gtest/gtest.h>

#include <string>

namespace bitcask::util {
namespace {

TEST(TextTest, Base64RoundTripsAndRefusesWhatIsNotBase64) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("default:s3cret"), "ZGVmYXVsdDpzM2NyZXQ=");
  std::string all;
  for (int b = 0; b < 256; b++) all.push_back(static_cast<char>(b));
  for (size_t n = 0; n <= all.size(); n += 37) {
    EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n)) << n;
  }
  for (const char* bad : {"Zg=", "Z===", "Zg==Zg==", "Zm9v!", "=Zm9", "Zm=v"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(TextTest, Utf8AsRfc3629DefinesIt) {
  for (const char* good : {"", "plain", "h\xC3\xA9llo", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                           "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80"}) {
    EXPECT_TRUE(IsValidUtf8(good)) << good;
  }
  for (const char* bad : {"a\xC0\x80"
                          "b",
                          "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xED\xBF\xBF",
                          "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\x80",
                          "\xBF", "\xE2\x82", "\xC3", "\xFF", "\xE2\x28\xA1"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(TextTest, QuoteForJsonAndForRedis) {
  EXPECT_EQ(Quote("plain"), "\"plain\"");
  EXPECT_EQ(Quote("a\"b\\c\n\r\t"), "\"a\\\"b\\\\c\\n\\r\\t\"");
  EXPECT_EQ(Quote(std::string("\x01\xc3\xa9", 3)), "\"\\u0001\xc3\xa9\"");  // JSON: UTF-8 passes
  EXPECT_EQ(Quote(std::string("\x01\xc3\xa9\x7f", 4), /*hex_bytes=*/true),
            "\"\\x01\\xc3\\xa9\\x7f\"");
}

}  // namespace
}  // namespace bitcask::util
