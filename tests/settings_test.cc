// The settings table (server/settings.h) on its own: what each type accepts, the errors that
// name the setting and its range, config files, and CONFIG REWRITE's file.

#include "server/settings.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_util.h"

namespace bitcask::server {
namespace {

TEST(SettingsTest, NamesAreUniqueAndEveryOneRoundTrips) {
  std::set<std::string> names;
  const ServerConfig defaults;
  for (const Setting& s : Settings()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name << " twice";
    EXPECT_EQ(FindSetting(s.name), &s);
    // What CONFIG GET shows is what a file or a flag accepts, and stores the same value.
    ServerConfig c;
    const std::string shown = FormatSetting(s, defaults);
    EXPECT_EQ(ParseSetting(s, shown, &c), "") << s.name << " " << shown;
    EXPECT_EQ(FormatSetting(s, c), shown) << s.name;
  }
  EXPECT_EQ(FindSetting("MAXCLIENTS"), FindSetting("maxclients"));
  EXPECT_EQ(FindSetting("bitcask-sync"), nullptr);
}

TEST(SettingsTest, BadValuesNameTheSettingAndWhatItAccepts) {
  ServerConfig c;
  EXPECT_EQ(ApplySetting("port", "70000", &c).ToString(),
            "Invalid argument: 'port' must be between 0 and 65535 inclusive, not '70000'");
  EXPECT_EQ(c.port, 6380);
  EXPECT_EQ(ApplySetting("port", "-1", &c).ToString(),
            "Invalid argument: 'port' must be between 0 and 65535 inclusive, not '-1'");
  EXPECT_EQ(ApplySetting("port", "12ab", &c).ToString(),
            "Invalid argument: 'port' couldn't be parsed into an integer between 0 and 65535 "
            "inclusive, not '12ab'");
  EXPECT_EQ(ApplySetting("appendfsync", "sometimes", &c).ToString(),
            "Invalid argument: 'appendfsync' must be one of the following: always, everysec, no, "
            "not 'sometimes'");
  EXPECT_EQ(ApplySetting("http-metrics-auth", "maybe", &c).ToString(),
            "Invalid argument: 'http-metrics-auth' must be 'yes' or 'no', not 'maybe'");
  EXPECT_EQ(ApplySetting("databases", "16", &c).ToString(),
            "Invalid argument: 'databases' must be '1': bitcask-server has one database, not '16'");
  EXPECT_NE(ApplySetting("max-file-size", "1kb", &c).ToString().find("between 4096 and"),
            std::string::npos);
  EXPECT_EQ(ApplySetting("nonsense", "1", &c).ToString(),
            "Invalid argument: unknown setting 'nonsense' (bitcask-server --help lists them all)");
  EXPECT_TRUE(ApplySetting("databases", "1", &c).ok());
  EXPECT_TRUE(ApplySetting("save", "", &c).ok());
  EXPECT_TRUE(ApplySetting("appendonly", "yes", &c).ok());
}

TEST(SettingsTest, BytesTakeRedisUnits) {
  ServerConfig c;
  const std::pair<const char*, int64_t> cases[] = {
      {"1000", 1000},     {"1k", 1000},    {"1kb", 1024},
      {"64mb", 64 << 20}, {"1M", 1000000}, {"2GB", int64_t{2} << 30},
      {"5b", 5},
  };
  for (const auto& [text, bytes] : cases) {
    ASSERT_TRUE(ApplySetting("proto-max-bulk-len", text, &c).ok()) << text;
    EXPECT_EQ(c.proto_max_bulk_len, bytes) << text;
  }
  for (const char* bad : {"", "mb", "1tb", "-1", "1.5mb", "99999999999999999999"}) {
    EXPECT_TRUE(ApplySetting("proto-max-bulk-len", bad, &c).IsInvalidArgument()) << bad;
  }
}

class ConfigFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = tmp_.Sub("bitcask.conf");
    test::WriteFile(path, text);
    return path;
  }
  test::TempDir tmp_;
};

TEST_F(ConfigFileTest, ReadsRedisStyleLines) {
  ServerConfig c;
  const std::string path = Write(
      "# a comment\n"
      "\n"
      "port 7000\r\n"
      "requirepass \"two words\"\n"
      "MAXCLIENTS 64\n"
      "save \"\"\n"
      "client-query-buffer-limit 2mb\n");
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.requirepass, "two words");
  EXPECT_EQ(c.maxclients, 64);
  EXPECT_EQ(c.client_query_buffer_limit, 2 << 20);

  EXPECT_EQ(
      LoadConfigFile(Write("port 1\nport 70000\n"), &c).ToString(),
      "Invalid argument: " + tmp_.Sub("bitcask.conf") +
          " line 2 ('port 70000'): 'port' must be between 0 and 65535 inclusive, not '70000'");
  EXPECT_NE(LoadConfigFile(Write("requirepass \"open\n"), &c).ToString().find("unbalanced quotes"),
            std::string::npos);
  EXPECT_NE(LoadConfigFile(Write("timeout\n"), &c).ToString().find("'timeout' needs a value"),
            std::string::npos);
  EXPECT_TRUE(LoadConfigFile(tmp_.Sub("missing.conf"), &c).IsIOError());
}

TEST_F(ConfigFileTest, RewriteKeepsCommentsAndPlacesAndAddsWhatChanged) {
  const std::string path = Write(
      "# my server\n"
      "port 7000\n"
      "\n"
      "# who may connect\n"
      "maxclients 100\n"
      "maxclients 200\n"
      "unknown-to-us whatever\n");
  ServerConfig c;
  c.port = 7000;
  c.maxclients = 300;
  c.requirepass = "it's \"quoted\"\n";
  c.appendfsync = "always";
  ASSERT_TRUE(RewriteConfigFile(path, c).ok());
  EXPECT_EQ(test::ReadFile(path),
            "# my server\n"
            "port 7000\n"
            "\n"
            "# who may connect\n"
            "maxclients 300\n"
            "unknown-to-us whatever\n"
            "# Generated by CONFIG REWRITE\n"
            "requirepass \"it's \\\"quoted\\\"\\n\"\n"
            "appendfsync always\n");
  // What it wrote reads back as the same configuration (the line it does not know aside).
  test::WriteFile(path, test::ReadFile(path).substr(0, test::ReadFile(path).find("unknown")) +
                            "appendfsync always\nrequirepass \"it's \\\"quoted\\\"\\n\"\n");
  ServerConfig back;
  ASSERT_TRUE(LoadConfigFile(path, &back).ok());
  for (const Setting& s : Settings())
    EXPECT_EQ(FormatSetting(s, back), FormatSetting(s, c)) << s.name;
}

}  // namespace
}  // namespace bitcask::server
