#include <gtest/gtest.h>

#include "common/config.h"

namespace laneway::common {
namespace {

constexpr const char* kAgent = "[agents.main]\nrunner = \"echo\"\n";

Result<Config> Parse(const std::string& extra) {
  return ParseConfig(std::string(kAgent) + extra, "t.toml");
}

TEST(TelegramConfigTest, EmptyTableEnablesTheChannelWithDefaults) {
  auto cfg = Parse("[channels.telegram]\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  const TelegramChannelConfig& tg = cfg->channels.telegram;
  EXPECT_TRUE(tg.enabled);
  EXPECT_EQ(tg.bot_token_env, "TELEGRAM_BOT_TOKEN");
  EXPECT_EQ(tg.api_base, "https://api.telegram.org");
  EXPECT_EQ(tg.agent, "main");
  EXPECT_TRUE(tg.allow_everyone);
  EXPECT_FALSE(tg.groups);
  EXPECT_EQ(tg.poll_timeout, std::chrono::seconds(30));
  EXPECT_EQ(tg.typing_interval, std::chrono::seconds(4));
  EXPECT_FALSE(Parse("")->channels.telegram.enabled);
}

TEST(TelegramConfigTest, ReadsEveryKey) {
  auto cfg = Parse(
      "[channels.telegram]\nbot_token_file = \"/run/tg\"\napi_base = \"http://127.0.0.1:81\"\n"
      "agent = \"main\"\nallow_from = [1, 22]\ngroups = true\npoll_timeout = \"2s\"\n"
      "watchdog_margin = \"1s\"\ntyping_interval = \"500ms\"\nretry_backoff = \"50ms\"\n"
      "retry_backoff_max = \"1s\"\nparse_mode = \"HTML\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  const TelegramChannelConfig& tg = cfg->channels.telegram;
  EXPECT_EQ(tg.bot_token_file, "/run/tg");
  EXPECT_EQ(tg.api_base, "http://127.0.0.1:81");
  EXPECT_FALSE(tg.allow_everyone);
  EXPECT_EQ(tg.allow_from, (std::vector<int64_t>{1, 22}));
  EXPECT_TRUE(tg.groups);
  EXPECT_EQ(tg.poll_timeout, std::chrono::seconds(2));
  EXPECT_EQ(tg.watchdog_margin, std::chrono::seconds(1));
  EXPECT_EQ(tg.typing_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(tg.parse_mode, "HTML");
}

void ExpectError(const std::string& extra, const std::string& key, const std::string& what) {
  auto cfg = Parse(extra);
  ASSERT_FALSE(cfg.ok()) << extra;
  EXPECT_NE(cfg.status().message().find(key), std::string::npos) << cfg.status().message();
  EXPECT_NE(cfg.status().message().find(what), std::string::npos) << cfg.status().message();
}

TEST(TelegramConfigTest, RejectsBadValuesNamingTheKey) {
  ExpectError("[channels.telegram]\nbot_token = \"x\"\n", "channels.telegram.bot_token",
              "unknown key");
  ExpectError("[channels.telegram]\nbot_token_env = \"A\"\nbot_token_file = \"/f\"\n",
              "bot_token_file", "not both");
  ExpectError("[channels.telegram]\napi_base = \"ftp://x\"\n", "channels.telegram.api_base",
              "bad api_base");
  ExpectError("[channels.telegram]\nagent = \"other\"\n", "channels.telegram.agent",
              "no such agent");
  ExpectError("[channels.telegram]\nallow_from = [\"42\"]\n", "allow_from[0]", "integer");
  ExpectError("[channels.telegram]\npoll_timeout = \"1h\"\n", "poll_timeout", "at most 10m");
  ExpectError("[channels.telegram]\nparse_mode = \"bbcode\"\n", "parse_mode", "unknown");
  ExpectError("[channels.telegram]\nretry_backoff = \"5s\"\nretry_backoff_max = \"1s\"\n",
              "retry_backoff_max", "at least");
}

}  // namespace
}  // namespace laneway::common
