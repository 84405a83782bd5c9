// The openai runner's config keys: parsing, validation errors with file:line:key,
// and the round trip through the `configure` settings.
#include <gtest/gtest.h>

#include "common/agent_settings.h"
#include "common/config.h"

namespace laneway::common {
namespace {

Result<Config> Parse(const std::string& text) { return ParseConfig(text, "t.toml"); }

std::string ErrorOf(const std::string& text) {
  auto c = Parse(text);
  return c.ok() ? "(no error)" : c.status().message();
}

const char* kFull = R"(
[agents.main]
runner = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
api_key_env = "OPENAI_API_KEY"
system_prompt = "Be brief."
max_completion_tokens = 512
temperature = 0.7
history_turns = 8
history_bytes = 32768
connect_timeout = "3s"
idle_timeout = "45s"
fallback_models = ["llama3.1", "qwen2.5"]
run_timeout = "2m"
[agents.main.headers]
X-Title = "laneway"
"OpenAI-Organization" = "org-123"
)";

TEST(OpenAiConfigTest, ReadsEveryKey) {
  auto c = Parse(kFull);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const AgentConfig& a = *c->FindAgent("main");
  EXPECT_EQ(a.runner, RunnerKind::kOpenAi);
  EXPECT_EQ(a.base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(a.model, "llama3.2");
  EXPECT_EQ(a.api_key_env, "OPENAI_API_KEY");
  EXPECT_EQ(a.system_prompt, "Be brief.");
  EXPECT_EQ(a.max_completion_tokens, 512u);
  ASSERT_TRUE(a.temperature);
  EXPECT_DOUBLE_EQ(*a.temperature, 0.7);
  EXPECT_EQ(a.history_turns, 8u);
  EXPECT_EQ(a.history_bytes, 32768u);
  EXPECT_EQ(a.connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(a.idle_timeout, std::chrono::seconds(45));
  EXPECT_EQ(a.fallback_models, (std::vector<std::string>{"llama3.1", "qwen2.5"}));
  EXPECT_EQ(a.headers.at("X-Title"), "laneway");
  EXPECT_EQ(a.headers.at("OpenAI-Organization"), "org-123");
}

TEST(OpenAiConfigTest, DefaultsWhenOnlyTheRequiredKeysAreGiven) {
  auto c = Parse(
      "[agents.m]\nrunner = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\n"
      "model = \"gpt-4o-mini\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const AgentConfig& a = *c->FindAgent("m");
  EXPECT_EQ(a.history_turns, 20u);
  EXPECT_EQ(a.history_bytes, 256u << 10);
  EXPECT_EQ(a.connect_timeout, std::chrono::seconds(10));
  EXPECT_EQ(a.idle_timeout, std::chrono::seconds(60));
  EXPECT_FALSE(a.temperature);
  EXPECT_EQ(a.max_completion_tokens, 0u);
  EXPECT_TRUE(a.api_key_env.empty() && a.api_key_file.empty());
}

TEST(OpenAiConfigTest, ErrorsNameFileLineAndKey) {
  const std::string head = "[agents.main]\nrunner = \"openai\"\n";
  const std::string ok = "base_url = \"http://h/v1\"\nmodel = \"m\"\n";
  EXPECT_EQ(ErrorOf(head),
            "t.toml:1: agents.main.base_url: missing (required for runner = openai)");
  EXPECT_EQ(ErrorOf(head + "base_url = \"http://h/v1\"\n"),
            "t.toml:1: agents.main.model: missing (required for runner = openai)");
  EXPECT_NE(ErrorOf(head + "base_url = \"ftp://h\"\nmodel = \"m\"\n")
                .find("t.toml:3: agents.main.base_url: bad base_url \"ftp://h\""),
            std::string::npos);
  EXPECT_EQ(
      ErrorOf(head + ok + "api_key_env = \"A\"\napi_key_file = \"/k\"\n"),
      "t.toml:6: agents.main.api_key_file: give either api_key_env or api_key_file, not both");
  EXPECT_EQ(ErrorOf(head + ok + "system_prompt = \"a\"\nsystem_prompt_file = \"/p\"\n"),
            "t.toml:6: agents.main.system_prompt_file: give either system_prompt or "
            "system_prompt_file, not both");
  EXPECT_NE(ErrorOf(head + ok + "api_key_env = \"1BAD\"\n")
                .find("t.toml:5: agents.main.api_key_env: bad environment variable name"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(head + ok + "temperature = 3.0\n"),
            "t.toml:5: agents.main.temperature: out of range (expected 0 to 2)");
  EXPECT_EQ(ErrorOf(head + ok + "temperature = \"hot\"\n"),
            "t.toml:5: agents.main.temperature: expected a number, got a string");
  EXPECT_NE(ErrorOf(head + ok + "history_turns = -1\n").find("t.toml:5: agents.main.history_turns"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(head + ok + "idle_timeout = \"0s\"\n").find("t.toml:5: agents.main.idle_timeout"),
      std::string::npos);
  EXPECT_EQ(ErrorOf(head + ok + "fallback_models = [\"a\", \"\"]\n"),
            "t.toml:5: agents.main.fallback_models[1]: must not be empty");
  EXPECT_EQ(ErrorOf(head + ok + "[agents.main.headers]\nAuthorization = \"Bearer x\"\n"),
            "t.toml:6: agents.main.headers.Authorization: Authorization is set by the runner (use "
            "api_key_env or api_key_file)");
  EXPECT_EQ(ErrorOf(head + ok + "[agents.main.headers]\n\"bad name\" = \"x\"\n"),
            "t.toml:6: agents.main.headers.\"bad name\": bad header name \"bad name\"");
  EXPECT_EQ(ErrorOf(head + ok + "[agents.main.headers]\nX = \"a\\nb\"\n"),
            "t.toml:6: agents.main.headers.X: header value must not contain CR, LF or NUL");
}

TEST(OpenAiConfigTest, OpenAiKeysAreRefusedForOtherRunners) {
  EXPECT_EQ(ErrorOf("[agents.main]\nrunner = \"echo\"\nmodel = \"m\"\n"),
            "t.toml:3: agents.main.model: only for runner = openai (this agent's runner is echo)");
  EXPECT_EQ(
      ErrorOf("[agents.main]\nrunner = \"exec\"\ncommand = [\"cat\"]\nidle_timeout = \"5s\"\n"),
      "t.toml:4: agents.main.idle_timeout: only for runner = openai (this agent's runner is "
      "exec)");
}

TEST(OpenAiConfigTest, SettingsRoundTripThroughConfigure) {
  auto c = Parse(kFull);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const AgentConfig& a = *c->FindAgent("main");
  Value v = AgentSettingsToValue(a);
  // Through msgpack, as the configure message travels.
  auto decoded = DecodeMsgpack(EncodeMsgpack(v).data(), EncodeMsgpack(v).size());
  ASSERT_TRUE(decoded.ok());
  auto back = AgentSettingsFromValue(*decoded);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->base_url, a.base_url);
  EXPECT_EQ(back->model, a.model);
  EXPECT_EQ(back->api_key_env, a.api_key_env);
  EXPECT_EQ(back->api_key_file, a.api_key_file);
  EXPECT_EQ(back->system_prompt, a.system_prompt);
  EXPECT_EQ(back->system_prompt_file, a.system_prompt_file);
  EXPECT_EQ(back->max_completion_tokens, a.max_completion_tokens);
  EXPECT_EQ(back->temperature, a.temperature);
  EXPECT_EQ(back->history_turns, a.history_turns);
  EXPECT_EQ(back->history_bytes, a.history_bytes);
  EXPECT_EQ(back->connect_timeout, a.connect_timeout);
  EXPECT_EQ(back->idle_timeout, a.idle_timeout);
  EXPECT_EQ(back->fallback_models, a.fallback_models);
  EXPECT_EQ(back->headers, a.headers);
  EXPECT_EQ(back->run_timeout, a.run_timeout);
  // Keys the worker does not get (queue settings) stay at their defaults.
  AgentConfig expected = a;
  expected.queue_mode = back->queue_mode;
  expected.max_queue = back->max_queue;
  expected.retry_on_restart = back->retry_on_restart;
  expected.max_attempts = back->max_attempts;
  EXPECT_EQ(*back, expected);
}

TEST(OpenAiConfigTest, SettingsWithoutTemperatureOrKeysRoundTrip) {
  AgentConfig a;
  a.id = "x";
  a.runner = RunnerKind::kOpenAi;
  a.base_url = "http://127.0.0.1:8080/v1";
  a.model = "local";
  a.api_key_file = "/run/secrets/key";
  auto back = AgentSettingsFromValue(AgentSettingsToValue(a));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, a);
}

TEST(OpenAiConfigTest, SettingsNeverCarryASecretValue) {
  ::setenv("LANEWAY_TEST_SECRET_FOR_SETTINGS", "sk-never-in-settings", 1);
  auto c = Parse(
      "[agents.m]\nrunner = \"openai\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n"
      "api_key_env = \"LANEWAY_TEST_SECRET_FOR_SETTINGS\"\n");
  ASSERT_TRUE(c.ok());
  std::string json = ToJson(AgentSettingsToValue(*c->FindAgent("m")));
  ::unsetenv("LANEWAY_TEST_SECRET_FOR_SETTINGS");
  EXPECT_EQ(json.find("sk-never"), std::string::npos);
  EXPECT_NE(json.find("LANEWAY_TEST_SECRET_FOR_SETTINGS"), std::string::npos);
}

TEST(OpenAiConfigTest, BadSettingsAreErrorsNotCrashes) {
  AgentConfig a;
  a.id = "x";
  a.runner = RunnerKind::kOpenAi;
  a.base_url = "http://h";
  a.model = "m";
  Value v = AgentSettingsToValue(a);
  v.Set("temperature", "hot");
  EXPECT_FALSE(AgentSettingsFromValue(v).ok());
  v = AgentSettingsToValue(a);
  v.Set("headers", Value::MakeArray());
  EXPECT_FALSE(AgentSettingsFromValue(v).ok());
  v = AgentSettingsToValue(a);
  v.Set("history_turns", int64_t{-5});
  EXPECT_FALSE(AgentSettingsFromValue(v).ok());
  v = AgentSettingsToValue(a);
  v.Set("idle_timeout_ms", int64_t{0});
  EXPECT_FALSE(AgentSettingsFromValue(v).ok());
}

}  // namespace
}  // namespace laneway::common
