#include "common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace laneway::common {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kSource[] = "/tmp/x/laneway.toml";

// A minimal valid agent, for tests about other sections.
constexpr char kEchoAgent[] = "[agents.main]\nrunner = \"echo\"\n";

Config ParseOk(const std::string& text) {
  Result<Config> r = ParseConfig(text, kSource);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Config{};
}

// Expects an InvalidArgument of the form "<source>:<line>: <key>: <what>" and
// returns the <what> part so callers can check it.
std::string ExpectError(const std::string& text, int line, const std::string& key) {
  Result<Config> r = ParseConfig(text, kSource);
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  std::string msg = r.status().message();
  std::string prefix = std::string(kSource) + ":" + std::to_string(line) + ": " + key + ": ";
  EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
  return msg.size() > prefix.size() ? msg.substr(prefix.size()) : "";
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ConfigTest, ParsesFullFileWithEveryKey) {
  Config cfg = ParseOk(R"toml([supervisor]
max_workers = 8
idle_timeout = "2m"
heartbeat_interval = "500ms"
heartbeat_timeout = "3s"
restart_limit = 7
restart_window = "1m"
restart_backoff = "200ms"
restart_backoff_max = "10s"
stuck_after = "1h"
drain_timeout = "45s"
max_message_bytes = 2048
max_turns_in_memory = 500

[agents.main]
runner = "exec"
command = ["my-agent", "--stdin"]
run_timeout = "20m"
kill_grace = "2s"
queue_mode = "collect"
max_queue = 10
retry_on_restart = true
max_attempts = 5

[agents.helper-2]
runner = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
queue_mode = "interrupt"

[channels.http]
listen = "0.0.0.0:8080"
token_env = "MY_TOKEN"
)toml");
  EXPECT_EQ(cfg.source, kSource);
  const SupervisorConfig& s = cfg.supervisor;
  EXPECT_EQ(s.max_workers, 8u);
  EXPECT_EQ(s.idle_timeout, minutes(2));
  EXPECT_EQ(s.heartbeat_interval, milliseconds(500));
  EXPECT_EQ(s.heartbeat_timeout, seconds(3));
  EXPECT_EQ(s.restart_limit, 7u);
  EXPECT_EQ(s.restart_window, minutes(1));
  EXPECT_EQ(s.restart_backoff, milliseconds(200));
  EXPECT_EQ(s.restart_backoff_max, seconds(10));
  EXPECT_EQ(s.stuck_after, hours(1));
  EXPECT_EQ(s.drain_timeout, seconds(45));
  EXPECT_EQ(s.max_message_bytes, 2048u);
  EXPECT_EQ(s.max_turns_in_memory, 500u);

  ASSERT_EQ(cfg.agents.size(), 2u);
  const AgentConfig* main = cfg.FindAgent("main");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->id, "main");
  EXPECT_EQ(main->runner, RunnerKind::kExec);
  EXPECT_EQ(main->command, (std::vector<std::string>{"my-agent", "--stdin"}));
  EXPECT_EQ(main->run_timeout, minutes(20));
  EXPECT_EQ(main->kill_grace, seconds(2));
  EXPECT_EQ(main->queue_mode, QueueMode::kCollect);
  EXPECT_EQ(main->max_queue, 10u);
  EXPECT_TRUE(main->retry_on_restart);
  EXPECT_EQ(main->max_attempts, 5u);

  const AgentConfig* helper = cfg.FindAgent("helper-2");
  ASSERT_NE(helper, nullptr);
  EXPECT_EQ(helper->runner, RunnerKind::kOpenAi);
  EXPECT_EQ(helper->queue_mode, QueueMode::kInterrupt);
  EXPECT_EQ(helper->model, "llama3.2");

  EXPECT_TRUE(cfg.channels.http.enabled);
  EXPECT_EQ(cfg.channels.http.listen, "0.0.0.0:8080");
  EXPECT_EQ(cfg.channels.http.token_env, "MY_TOKEN");
}

// Found by the config fuzz target: toml++ 3.3.0 asserts in a table header whose key
// starts with '.', which aborted the fuzz build. Every build now reports it.
TEST(ConfigTest, TableHeaderWithoutAKeyIsAParseErrorNotAnAbort) {
  auto r = ParseConfig("[.agents]\nrunner = \"echo\"\n", "t.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("t.toml:1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("expected bare key"), std::string::npos)
      << r.status().message();
}

// toml++ 3.3.0 reaches __builtin_unreachable when it asks whether most non-ASCII
// characters are blanks, which it does inside keys and after a line-ending
// backslash of a multi-line string (common/config.cc, MakeAsciiSafe). Under the
// ASan+UBSan build each of these inputs was a report before the fix.
TEST(ConfigTest, NonAsciiTextInStringsKeepsItsValue) {
  Config cfg = ParseOk(
      "# caf\xc3\xa9: comments keep theirs\n"
      "[agents.fr]\nrunner = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n"
      "model = 'mod\xc3\xa8le \"x\" \\d'\n"
      "system_prompt = \"\"\"Bonjour \\\n   \xc3\x89lodie, \xc3\xa7"
      "a va? "
      "\xd0\x96 \xe3\x80\x80\xf0\x9f\x98\x80 \"\"\"\"\n"
      "[agents.lit]\nrunner = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n"
      "model = \"m\"\nsystem_prompt = '''\nun \xc3\xa9t\xc3\xa9 \\n\n'''\n");
  const AgentConfig* fr = cfg.FindAgent("fr");
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(fr->model, "mod\xc3\xa8le \"x\" \\d");
  EXPECT_EQ(fr->system_prompt,
            "Bonjour \xc3\x89lodie, \xc3\xa7"
            "a va? \xd0\x96 \xe3\x80\x80\xf0\x9f\x98\x80 \"");
  const AgentConfig* lit = cfg.FindAgent("lit");
  ASSERT_NE(lit, nullptr);
  EXPECT_EQ(lit->system_prompt, "un \xc3\xa9t\xc3\xa9 \\n\n");
}

TEST(ConfigTest, NonAsciiOutsideStringsIsAParseErrorWithItsLine) {
  // The fuzz target's input (fuzz/regressions/config/non-ascii-in-a-bare-key).
  auto r = ParseConfig(
      "[agents\xd2\x93"
      "ain]\nrunner = \"echo\"\n",
      "t.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("t.toml:1: TOML syntax error: character U+0493 outside"),
            std::string::npos)
      << r.status().message();
  auto second = ParseConfig("[agents.main]\nrunner = \"echo\" \xc3\xa9\n", "t.toml");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("t.toml:2:"), std::string::npos)
      << second.status().message();
  // A quoted key is read, then refused by laneway's own rule, not by toml++.
  auto quoted = ParseConfig("[agents.\"b\xc3\xa9ta\"]\nrunner = \"echo\"\n", "t.toml");
  ASSERT_FALSE(quoted.ok());
  EXPECT_NE(quoted.status().message().find("invalid agent id"), std::string::npos)
      << quoted.status().message();
  auto escape = ParseConfig("[agents.main]\nrunner = \"echo\\\xc3\xa9\"\n", "t.toml");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.status().message().find("not a TOML escape"), std::string::npos)
      << escape.status().message();
}

TEST(ConfigTest, OmittedKeysTakeDefaults) {
  Config cfg = ParseOk(kEchoAgent);
  EXPECT_EQ(cfg.supervisor, SupervisorConfig{});
  AgentConfig expected;
  expected.id = "main";
  expected.runner = RunnerKind::kEcho;
  ASSERT_NE(cfg.FindAgent("main"), nullptr);
  EXPECT_EQ(*cfg.FindAgent("main"), expected);
  EXPECT_EQ(cfg.channels.http, HttpChannelConfig{});
  EXPECT_FALSE(cfg.channels.http.enabled);
}

TEST(ConfigTest, EmptyHttpTableEnablesChannelWithDefaults) {
  Config cfg = ParseOk(std::string(kEchoAgent) + "[channels.http]\n");
  EXPECT_TRUE(cfg.channels.http.enabled);
  EXPECT_EQ(cfg.channels.http.listen, "127.0.0.1:18789");
  EXPECT_EQ(cfg.channels.http.token_env, "LANEWAY_TOKEN");
}

TEST(ConfigTest, AcceptsBracketedIpv6Listen) {
  Config cfg = ParseOk(std::string(kEchoAgent) + "[channels.http]\nlisten = \"[::1]:9000\"\n");
  EXPECT_EQ(cfg.channels.http.listen, "[::1]:9000");
}

TEST(ConfigTest, DefaultConfigHasOneEchoAgentNamedMain) {
  Config cfg = DefaultConfig();
  EXPECT_EQ(cfg.source, "<built-in>");
  ASSERT_EQ(cfg.agents.size(), 1u);
  ASSERT_NE(cfg.FindAgent("main"), nullptr);
  EXPECT_EQ(cfg.FindAgent("main")->runner, RunnerKind::kEcho);
  EXPECT_EQ(cfg.FindAgent("main")->id, "main");
  EXPECT_EQ(cfg.supervisor, SupervisorConfig{});
  EXPECT_FALSE(cfg.channels.http.enabled);
}

TEST(ConfigTest, FindAgentReturnsNullForUnknownId) {
  EXPECT_EQ(DefaultConfig().FindAgent("nope"), nullptr);
}

TEST(ConfigTest, NamesRunnersAndQueueModes) {
  EXPECT_STREQ(RunnerKindName(RunnerKind::kEcho), "echo");
  EXPECT_STREQ(RunnerKindName(RunnerKind::kExec), "exec");
  EXPECT_STREQ(RunnerKindName(RunnerKind::kOpenAi), "openai");
  EXPECT_STREQ(QueueModeName(QueueMode::kQueue), "queue");
  EXPECT_STREQ(QueueModeName(QueueMode::kCollect), "collect");
  EXPECT_STREQ(QueueModeName(QueueMode::kInterrupt), "interrupt");
}

TEST(ConfigTest, ReportsTomlSyntaxErrorWithLine) {
  Result<Config> r = ParseConfig("[agents.main]\nrunner = \"echo\"\nmax_queue = = 3\n", kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), std::string(kSource) + ":3: TOML syntax error: "))
      << r.status().message();
}

TEST(ConfigTest, ReportsDuplicateKeyAsSyntaxError) {
  Result<Config> r = ParseConfig("[agents.main]\nrunner = \"echo\"\nrunner = \"exec\"\n", kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), ":3: TOML syntax error: ")) << r.status().message();
}

TEST(ConfigTest, RejectsUnknownTopLevelTable) {
  std::string what = ExpectError(std::string(kEchoAgent) + "[workers]\nx = 1\n", 3, "workers");
  EXPECT_TRUE(Contains(what, "unknown table")) << what;
}

TEST(ConfigTest, RejectsUnknownTopLevelKey) {
  EXPECT_EQ(ExpectError("verbose = true\n" + std::string(kEchoAgent), 1, "verbose"), "unknown key");
}

TEST(ConfigTest, RejectsUnknownKeyNamingFileLineAndKey) {
  EXPECT_EQ(ExpectError("[supervisor]\nmax_workers = 4\nmax_wrkers = 4\n" + std::string(kEchoAgent),
                        3, "supervisor.max_wrkers"),
            "unknown key");
}

TEST(ConfigTest, RejectsUnknownKeyInAgent) {
  EXPECT_EQ(
      ExpectError("[agents.main]\nrunner = \"echo\"\nmodle = \"x\"\n", 3, "agents.main.modle"),
      "unknown key");
}

TEST(ConfigTest, RejectsUnknownKeyInHttpChannel) {
  EXPECT_EQ(ExpectError(std::string(kEchoAgent) + "[channels.http]\nport = 80\n", 4,
                        "channels.http.port"),
            "unknown key");
}

TEST(ConfigTest, RejectsUnknownChannel) {
  std::string what =
      ExpectError(std::string(kEchoAgent) + "[channels.irc]\nserver = \"x\"\n", 3, "channels.irc");
  EXPECT_TRUE(Contains(what, "unknown channel")) << what;
}

TEST(ConfigTest, RejectsWrongTypeNamingBothTypes) {
  EXPECT_EQ(ExpectError("[supervisor]\nmax_workers = \"64\"\n" + std::string(kEchoAgent), 2,
                        "supervisor.max_workers"),
            "expected an integer, got a string");
  EXPECT_EQ(ExpectError("[agents.main]\nrunner = \"echo\"\nretry_on_restart = 1\n", 3,
                        "agents.main.retry_on_restart"),
            "expected a boolean, got an integer");
  std::string what = ExpectError("[agents.main]\nrunner = \"echo\"\nkill_grace = 5\n", 3,
                                 "agents.main.kill_grace");
  EXPECT_TRUE(Contains(what, "got an integer")) << what;
  EXPECT_EQ(ExpectError("supervisor = 3\n" + std::string(kEchoAgent), 1, "supervisor"),
            "expected a table, got an integer");
}

TEST(ConfigTest, RejectsBadDurationQuotingIt) {
  std::string text = "[agents.main]\nrunner = \"echo\"\n\n\n\n\nrun_timeout = \"ten\"\n";
  Result<Config> r = ParseConfig(text, kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "/tmp/x/laneway.toml:7: agents.main.run_timeout: bad duration \"ten\" (expected a "
            "number and a unit: ms, s, m, h; e.g. \"250ms\", \"10s\", \"5m\")");
}

TEST(ConfigTest, RejectsZeroDuration) {
  std::string what = ExpectError("[supervisor]\ndrain_timeout = \"0s\"\n" + std::string(kEchoAgent),
                                 2, "supervisor.drain_timeout");
  EXPECT_TRUE(Contains(what, "greater than 0")) << what;
  ExpectError("[supervisor]\nidle_timeout = \"0\"\n" + std::string(kEchoAgent), 2,
              "supervisor.idle_timeout");
}

TEST(ConfigTest, RejectsDurationLongerThanAYear) {
  ExpectError("[supervisor]\nstuck_after = \"8761h\"\n" + std::string(kEchoAgent), 2,
              "supervisor.stuck_after");
}

TEST(ConfigTest, RejectsOutOfRangeIntegerShowingRange) {
  EXPECT_EQ(ExpectError("[supervisor]\nmax_workers = 0\n" + std::string(kEchoAgent), 2,
                        "supervisor.max_workers"),
            "0 is out of range (expected 1..100000)");
  ExpectError("[supervisor]\nmax_message_bytes = 1023\n" + std::string(kEchoAgent), 2,
              "supervisor.max_message_bytes");
  ExpectError("[supervisor]\nmax_message_bytes = 67108865\n" + std::string(kEchoAgent), 2,
              "supervisor.max_message_bytes");
  ExpectError("[agents.main]\nrunner = \"echo\"\nmax_attempts = 101\n", 3,
              "agents.main.max_attempts");
  ExpectError("[agents.main]\nrunner = \"echo\"\nmax_queue = -1\n", 3, "agents.main.max_queue");
  // Larger than uint32_t: must not wrap around into range.
  ExpectError("[supervisor]\nmax_turns_in_memory = 4294967297\n" + std::string(kEchoAgent), 2,
              "supervisor.max_turns_in_memory");
}

TEST(ConfigTest, RejectsUnknownRunner) {
  EXPECT_EQ(ExpectError("[agents.main]\nrunner = \"bash\"\n", 2, "agents.main.runner"),
            "unknown runner \"bash\" (expected echo, exec or openai)");
}

TEST(ConfigTest, RejectsUnknownQueueMode) {
  std::string what = ExpectError("[agents.main]\nrunner = \"echo\"\nqueue_mode = \"drop\"\n", 3,
                                 "agents.main.queue_mode");
  EXPECT_TRUE(Contains(what, "\"drop\"")) << what;
}

TEST(ConfigTest, RejectsAgentWithoutRunner) {
  std::string what = ExpectError("[agents.main]\nmax_queue = 3\n", 1, "agents.main.runner");
  EXPECT_TRUE(Contains(what, "missing")) << what;
}

TEST(ConfigTest, RejectsExecWithoutCommand) {
  std::string what = ExpectError("[agents.main]\nrunner = \"exec\"\n", 1, "agents.main.command");
  EXPECT_TRUE(Contains(what, "required for runner = exec")) << what;
}

TEST(ConfigTest, RejectsExecWithEmptyCommand) {
  ExpectError("[agents.main]\nrunner = \"exec\"\ncommand = []\n", 3, "agents.main.command");
}

TEST(ConfigTest, RejectsCommandWithEchoRunner) {
  std::string what = ExpectError("[agents.main]\nrunner = \"echo\"\ncommand = [\"x\"]\n", 3,
                                 "agents.main.command");
  EXPECT_TRUE(Contains(what, "command is only for runner = exec")) << what;
}

TEST(ConfigTest, RejectsEmptyCommandElement) {
  ExpectError("[agents.main]\nrunner = \"exec\"\ncommand = [\"my-agent\", \"\"]\n", 3,
              "agents.main.command[1]");
}

TEST(ConfigTest, RejectsNonStringCommandElement) {
  std::string what = ExpectError("[agents.main]\nrunner = \"exec\"\ncommand = [\"a\", 3]\n", 3,
                                 "agents.main.command[1]");
  EXPECT_EQ(what, "expected a string, got an integer");
}

TEST(ConfigTest, RejectsHeartbeatTimeoutNotAboveInterval) {
  std::string what =
      ExpectError("[supervisor]\nheartbeat_interval = \"2s\"\nheartbeat_timeout = \"2s\"\n" +
                      std::string(kEchoAgent),
                  3, "supervisor.heartbeat_timeout");
  EXPECT_TRUE(Contains(what, "heartbeat_interval")) << what;
}

TEST(ConfigTest, RejectsIntervalAboveDefaultHeartbeatTimeout) {
  ExpectError("[supervisor]\nheartbeat_interval = \"20s\"\n" + std::string(kEchoAgent), 2,
              "supervisor.heartbeat_timeout");
}

TEST(ConfigTest, RejectsBackoffMaxBelowBackoff) {
  std::string what =
      ExpectError("[supervisor]\nrestart_backoff = \"1s\"\nrestart_backoff_max = \"500ms\"\n" +
                      std::string(kEchoAgent),
                  3, "supervisor.restart_backoff_max");
  EXPECT_TRUE(Contains(what, "restart_backoff")) << what;
}

TEST(ConfigTest, AcceptsBackoffMaxEqualToBackoff) {
  Config cfg = ParseOk("[supervisor]\nrestart_backoff = \"1s\"\nrestart_backoff_max = \"1s\"\n" +
                       std::string(kEchoAgent));
  EXPECT_EQ(cfg.supervisor.restart_backoff_max, seconds(1));
}

TEST(ConfigTest, RejectsBadAgentId) {
  std::string what =
      ExpectError("[agents.\"my agent\"]\nrunner = \"echo\"\n", 1, "agents.\"my agent\"");
  EXPECT_TRUE(Contains(what, "invalid agent id")) << what;
  ExpectError("[agents.main]\nrunner = \"echo\"\n[agents." + std::string(65, 'a') +
                  "]\nrunner = \"echo\"\n",
              3, "agents." + std::string(65, 'a'));
}

TEST(ConfigTest, AcceptsAgentIdOfSixtyFourChars) {
  std::string id(64, 'z');
  Config cfg = ParseOk("[agents." + id + "]\nrunner = \"echo\"\n");
  EXPECT_NE(cfg.FindAgent(id), nullptr);
}

TEST(ConfigTest, RejectsConfigWithNoAgents) {
  for (const char* text : {"", "[supervisor]\nmax_workers = 3\n", "[agents]\n"}) {
    Result<Config> r = ParseConfig(text, kSource);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), std::string(kSource) +
                                        ": no agents configured (add at least one "
                                        "[agents.<id>] table)");
  }
}

TEST(ConfigTest, RejectsBadListenAddress) {
  for (const char* listen : {"localhost", "127.0.0.1:0", "127.0.0.1:65536", ":80",
                             "host:", "host:8o", "::1:80", "a b:80"}) {
    std::string what =
        ExpectError(std::string(kEchoAgent) + "[channels.http]\nlisten = \"" + listen + "\"\n", 4,
                    "channels.http.listen");
    EXPECT_TRUE(Contains(what, "bad listen address")) << listen << ": " << what;
  }
}

TEST(ConfigTest, RejectsBadTokenEnvName) {
  ExpectError(std::string(kEchoAgent) + "[channels.http]\ntoken_env = \"1TOKEN\"\n", 4,
              "channels.http.token_env");
  ExpectError(std::string(kEchoAgent) + "[channels.http]\ntoken_env = \"MY-TOKEN\"\n", 4,
              "channels.http.token_env");
}

TEST(ConfigTest, ReportsEarliestErrorInFileOrder) {
  // toml++ sorts keys; the report must still follow the file.
  ExpectError("[supervisor]\nzzz = 1\naaa = 2\n" + std::string(kEchoAgent), 2, "supervisor.zzz");
  ExpectError("[supervisor]\nmax_workers = 0\n[agents.main]\nrunner = \"bash\"\n", 2,
              "supervisor.max_workers");
}

TEST(ConfigTest, EscapesControlCharactersInKeys) {
  Result<Config> r = ParseConfig(std::string(kEchoAgent) + "\"a\\u0007b\" = 1\n", kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "\"a\\x07b\": unknown key")) << r.status().message();
}

TEST(ConfigTest, LoadsFileAndNamesItInErrors) {
  std::string path =
      ::testing::TempDir() + "laneway_config_test_" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(path);
    out << "[agents.main]\nrunner = \"exec\"\ncommand = [\"cat\"]\n";
  }
  Result<Config> ok = LoadConfigFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->source, path);
  EXPECT_EQ(ok->FindAgent("main")->command, std::vector<std::string>{"cat"});
  {
    std::ofstream out(path);
    out << "[agents.main]\nrunner = \"exec\"\n";
  }
  Result<Config> bad = LoadConfigFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().substr(0, path.size() + 3), path + ":1:");
  std::remove(path.c_str());
}

TEST(ConfigTest, MissingFileIsIoErrorNamingPath) {
  std::string path = ::testing::TempDir() + "laneway_no_such_dir/laneway.toml";
  Result<Config> r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_EQ(r.status().message(), "cannot read config " + path + ": No such file or directory");
}

TEST(ConfigTest, DirectoryIsIoError) {
  Result<Config> r = LoadConfigFile(::testing::TempDir());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_TRUE(Contains(r.status().message(), "cannot read config ")) << r.status().message();
}

}  // namespace
}  // namespace laneway::common
