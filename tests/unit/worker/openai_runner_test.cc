// The openai runner against tests/doubles/openai_double.py on loopback. The
// runner's clock is a fake: back-off and Retry-After waits are recorded, not slept.
#include "worker/runners/openai_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/doubles/openai_double.h"
#include "tests/unit/temp_dir.h"

namespace laneway::worker {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class FakeClock : public RunnerClock {
 public:
  std::chrono::steady_clock::time_point Now() override { return now_; }
  void Sleep(milliseconds d, RunContext&) override {
    sleeps.push_back(d);
    now_ += d;
  }
  int64_t UnixSeconds() override { return 1'700'000'000; }
  double Random() override { return 0.5; }
  std::vector<milliseconds> sleeps;

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

class RecordingContext : public RunContext {
 public:
  void Emit(std::string_view delta) override {
    std::lock_guard<std::mutex> l(mu_);
    deltas.emplace_back(delta);
  }
  bool Cancelled() const override { return cancelled; }
  std::vector<std::string> deltas;
  bool cancelled = false;

 private:
  std::mutex mu_;
};

class OpenAiRunnerTest : public ::testing::Test {
 protected:
  // One double for the suite (starting Python costs more than most tests).
  static void SetUpTestSuite() {
    suite_dir_ = new testing_util::TempDir();
    suite_server_ = new testing_util::OpenAiDouble(suite_dir_->path());
  }
  static void TearDownTestSuite() {
    delete suite_server_;
    delete suite_dir_;
  }

  // Gives the double `script` and points a runner at it.
  void Start(const std::string& script) {
    server_ = suite_server_;
    ASSERT_TRUE(server_->ok());
    ASSERT_TRUE(server_->Reset(script));
    agent_.id = "main";
    agent_.runner = common::RunnerKind::kOpenAi;
    agent_.base_url = server_->base_url();
    agent_.model = "test-model";
    agent_.run_timeout = std::chrono::minutes(10);
  }
  TurnOutput Run(const std::string& message, uint64_t turn_id = 10) {
    clock_ = std::make_shared<FakeClock>();
    auto r = OpenAiRunner::Create(agent_, 1 << 20, clock_);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return {};
    TurnInput in;
    in.turn_id = turn_id;
    in.agent = "main";
    in.session = "agent:main:main";
    in.message = message;
    in.transcript_path = dir_.path() + "/transcript.jsonl";
    return (*r)->Run(in, context_);
  }
  std::string Joined() const {
    std::string s;
    for (const std::string& d : context_.deltas) s += d;
    return s;
  }
  const common::Value* Meta(const TurnOutput& out, const char* key) { return out.meta.Find(key); }

  static testing_util::TempDir* suite_dir_;
  static testing_util::OpenAiDouble* suite_server_;
  testing_util::TempDir dir_;
  testing_util::OpenAiDouble* server_ = nullptr;
  common::AgentConfig agent_;
  std::shared_ptr<FakeClock> clock_;
  RecordingContext context_;
};

testing_util::TempDir* OpenAiRunnerTest::suite_dir_ = nullptr;
testing_util::OpenAiDouble* OpenAiRunnerTest::suite_server_ = nullptr;

TEST_F(OpenAiRunnerTest, StreamsDeltasInOrderAndAssemblesTheReply) {
  Start(R"([{"content": ["Hel", "lo", ", wor", "ld"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "Hello, world");
  EXPECT_EQ(context_.deltas, (std::vector<std::string>{"Hel", "lo", ", wor", "ld"}));
  ASSERT_NE(Meta(out, "usage"), nullptr);
  EXPECT_EQ(Meta(out, "usage")->GetInt("completion_tokens").value(), 4);
  EXPECT_EQ(Meta(out, "usage")->GetInt("prompt_tokens").value(), 1);
  EXPECT_EQ(Meta(out, "model")->as_string(), "test-model");
  EXPECT_NE(Meta(out, "latency_ms"), nullptr);
  EXPECT_NE(Meta(out, "first_token_ms"), nullptr);
  EXPECT_EQ(Meta(out, "attempts")->as_int(), 1);
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["path"], "/v1/chat/completions");
  EXPECT_EQ(reqs[0]["body"]["stream"], true);
  EXPECT_EQ(reqs[0]["body"]["stream_options"]["include_usage"], true);
  EXPECT_EQ(reqs[0]["body"]["model"], "test-model");
}

TEST_F(OpenAiRunnerTest, SendsSystemPromptHistoryAndTheNewMessage) {
  Start("[]");
  {
    std::ofstream t(dir_.path() + "/transcript.jsonl");
    t << R"({"ts":1,"turn_id":1,"role":"user","text":"first"})"
         "\n"
      << R"({"ts":2,"turn_id":1,"role":"assistant","text":"one"})"
         "\n"
      << R"({"ts":3,"turn_id":2,"role":"user","text":"broken"})"
         "\n"
      << R"({"ts":4,"turn_id":2,"role":"error","text":"boom"})"
         "\n"
      << R"({"ts":5,"turn_id":3,"role":"user","text":"second"})"
         "\n"
      << R"({"ts":6,"turn_id":3,"role":"assistant","text":"two"})"
         "\n"
      << R"({"ts":7,"turn_id":10,"role":"user","text":"third"})"
         "\n";
  }
  agent_.system_prompt = "You are terse.";
  agent_.max_completion_tokens = 77;
  agent_.temperature = 0.5;
  TurnOutput out = Run("third");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "echo: third");
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 1u);
  json expected = json::parse(R"([
    {"role":"system","content":"You are terse."},
    {"role":"user","content":"first"},{"role":"assistant","content":"one"},
    {"role":"user","content":"second"},{"role":"assistant","content":"two"},
    {"role":"user","content":"third"}])");
  EXPECT_EQ(reqs[0]["body"]["messages"], expected);
  EXPECT_EQ(reqs[0]["body"]["max_completion_tokens"], 77);
  EXPECT_EQ(reqs[0]["body"]["temperature"], 0.5);
}

TEST_F(OpenAiRunnerTest, HistoryBudgetOfZeroTurnsSendsOnlyTheMessage) {
  Start("[]");
  {
    std::ofstream t(dir_.path() + "/transcript.jsonl");
    t << R"({"ts":1,"turn_id":1,"role":"user","text":"first"})"
         "\n"
      << R"({"ts":2,"turn_id":1,"role":"assistant","text":"one"})"
         "\n";
  }
  agent_.history_turns = 0;
  ASSERT_TRUE(Run("x").ok);
  EXPECT_EQ(server_->Requests()[0]["body"]["messages"].size(), 1u);
}

TEST_F(OpenAiRunnerTest, KeyFromEnvGoesInTheAuthorizationHeaderWithExtraHeaders) {
  Start("[]");
  ::setenv("LANEWAY_TEST_OPENAI_KEY", "sk-test-secret-123", 1);
  agent_.api_key_env = "LANEWAY_TEST_OPENAI_KEY";
  agent_.headers = {{"X-Title", "laneway-test"}, {"OpenAI-Organization", "org-1"}};
  TurnOutput out = Run("hi");
  ::unsetenv("LANEWAY_TEST_OPENAI_KEY");
  ASSERT_TRUE(out.ok) << out.text;
  auto h = server_->Requests()[0]["headers"];
  EXPECT_EQ(h["authorization"], "Bearer sk-test-secret-123");
  EXPECT_EQ(h["x-title"], "laneway-test");
  EXPECT_EQ(h["openai-organization"], "org-1");
  EXPECT_EQ(h["content-type"], "application/json");
  EXPECT_EQ(out.text.find("sk-test"), std::string::npos);
}

TEST_F(OpenAiRunnerTest, KeyFromFileIsTrimmed) {
  Start("[]");
  std::ofstream(dir_.path() + "/key") << "sk-from-file\n";
  agent_.api_key_file = dir_.path() + "/key";
  ASSERT_TRUE(Run("hi").ok);
  EXPECT_EQ(server_->Requests()[0]["headers"]["authorization"], "Bearer sk-from-file");
}

TEST_F(OpenAiRunnerTest, MissingKeyOrPromptFileFailsTheTurnBeforeAnyRequest) {
  Start("[]");
  agent_.api_key_env = "LANEWAY_TEST_UNSET_KEY_VAR";
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("LANEWAY_TEST_UNSET_KEY_VAR is not set"), std::string::npos) << out.text;
  agent_.api_key_env.clear();
  agent_.system_prompt_file = dir_.path() + "/no-such-prompt";
  out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("system_prompt_file"), std::string::npos) << out.text;
  EXPECT_TRUE(server_->Requests().empty());
}

TEST_F(OpenAiRunnerTest, SystemPromptFileIsSent) {
  Start("[]");
  std::ofstream(dir_.path() + "/prompt") << "From a file.\n";
  agent_.system_prompt_file = dir_.path() + "/prompt";
  ASSERT_TRUE(Run("hi").ok);
  EXPECT_EQ(server_->Requests()[0]["body"]["messages"][0]["content"], "From a file.");
}

TEST_F(OpenAiRunnerTest, PlainJsonAnswerWorks) {
  Start(R"([{"mode": "plain", "content": "all at once"}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "all at once");
  EXPECT_EQ(context_.deltas, std::vector<std::string>{"all at once"});
  ASSERT_NE(Meta(out, "usage"), nullptr);
}

TEST_F(OpenAiRunnerTest, OllamaStreamWithoutUsageWorks) {
  Start(R"([{"dialect": "ollama", "model": "llama3.2:1b", "content": ["a", "b"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "ab");
  EXPECT_EQ(Meta(out, "usage"), nullptr);
  EXPECT_EQ(Meta(out, "model")->as_string(), "llama3.2:1b");
}

TEST_F(OpenAiRunnerTest, LlamaCppTimingsBecomeUsage) {
  Start(R"([{"dialect": "llamacpp", "content": ["a", "b", "c"]}])");
  TurnOutput out = Run("one two");
  ASSERT_TRUE(out.ok) << out.text;
  ASSERT_NE(Meta(out, "usage"), nullptr);
  EXPECT_EQ(Meta(out, "usage")->GetInt("completion_tokens").value(), 3);
  EXPECT_EQ(Meta(out, "usage")->GetInt("prompt_tokens").value(), 2);
}

TEST_F(OpenAiRunnerTest, KeepAlivesAndOneByteFragmentsWithUtf8AreHandled) {
  Start(
      R"([{"keepalive": true, "fragment": 1, "content": ["caf\u00e9 ", "\u20ac ", "\ud83d\ude00"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(context_.deltas.size(), 3u);
}

TEST_F(OpenAiRunnerTest, UnauthorizedFailsAtOnceNamingTheServersMessage) {
  Start(
      R"([{"status": 401, "error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("HTTP 401"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("Incorrect API key provided"), std::string::npos) << out.text;
  EXPECT_EQ(server_->Requests().size(), 1u);
  EXPECT_TRUE(clock_->sleeps.empty());
  EXPECT_EQ(Meta(out, "http_status")->as_int(), 401);
}

TEST_F(OpenAiRunnerTest, RateLimitHonoursRetryAfterThenSucceeds) {
  Start(
      R"([{"status": 429, "headers": {"Retry-After": "7"}, "error": {"message": "Rate limit reached"}},
            {"content": ["ok"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "ok");
  EXPECT_EQ(clock_->sleeps, std::vector<milliseconds>{milliseconds(7000)});
  EXPECT_EQ(server_->Requests().size(), 2u);
  EXPECT_EQ(Meta(out, "attempts")->as_int(), 2);
}

TEST_F(OpenAiRunnerTest, RetryAfterPastTheRunTimeoutFailsNow) {
  Start(
      R"([{"status": 429, "headers": {"Retry-After": "120"}, "error": {"message": "slow down"}}])");
  agent_.run_timeout = std::chrono::seconds(30);
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("slow down"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("run_timeout"), std::string::npos) << out.text;
  EXPECT_TRUE(clock_->sleeps.empty());
}

TEST_F(OpenAiRunnerTest, ExhaustedQuotaIsNotRetried) {
  Start(
      R"([{"status": 429, "error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("quota"), std::string::npos) << out.text;
  EXPECT_EQ(server_->Requests().size(), 1u);
}

TEST_F(OpenAiRunnerTest, ServerErrorThenSuccessBacksOff) {
  Start(R"([{"status": 500, "error": {"message": "internal"}},
            {"status": 503, "body_text": "busy"},
            {"content": ["fine"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "fine");
  ASSERT_EQ(clock_->sleeps.size(), 2u);
  EXPECT_LT(clock_->sleeps[0], clock_->sleeps[1]);  // exponential
}

TEST_F(OpenAiRunnerTest, PersistentServerErrorsGiveUpWithTheLastMessage) {
  Start(R"([{"status": 502, "error": {"message": "bad gateway upstream"}, "times": 20}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("bad gateway upstream"), std::string::npos) << out.text;
  EXPECT_EQ(server_->Requests().size(), static_cast<size_t>(RetryPolicy::kMaxAttempts));
}

TEST_F(OpenAiRunnerTest, NotFoundFallsBackToTheNextModel) {
  Start(R"([{"status": 404, "error": {"message": "model 'big' not found"}},
            {"status": 501, "error": {"message": "not implemented"}},
            {"content": ["from small"]}])");
  agent_.model = "big";
  agent_.fallback_models = {"medium", "small"};
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "from small");
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["body"]["model"], "big");
  EXPECT_EQ(reqs[1]["body"]["model"], "medium");
  EXPECT_EQ(reqs[2]["body"]["model"], "small");
  EXPECT_EQ(Meta(out, "model")->as_string(), "small");
}

TEST_F(OpenAiRunnerTest, NotFoundWithoutFallbackFails) {
  Start(R"([{"status": 404, "error": {"message": "model 'nope' not found"}}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("model 'nope' not found"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("no fallback_models"), std::string::npos) << out.text;
}

TEST_F(OpenAiRunnerTest, DroppedStreamFailsKeepingThePartialText) {
  Start(R"([{"content": ["par", "tial", "never"], "drop_after": 2}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("stream broke off"), std::string::npos) << out.text;
  ASSERT_NE(Meta(out, "partial"), nullptr);
  EXPECT_EQ(Meta(out, "partial")->as_string(), "partial");
  EXPECT_EQ(server_->Requests().size(), 1u);  // streamed text is never retried
}

TEST_F(OpenAiRunnerTest, StreamEndingWithoutDoneFails) {
  Start(
      R"([{"mode": "raw", "raw": ["data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\n"]}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("[DONE]"), std::string::npos) << out.text;
  EXPECT_EQ(Meta(out, "partial")->as_string(), "half");
}

TEST_F(OpenAiRunnerTest, MalformedChunkFailsTheTurn) {
  Start(
      R"([{"mode": "raw", "raw": ["data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n", "data: {broken\n\n", "data: [DONE]\n\n"]}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("malformed JSON"), std::string::npos) << out.text;
  EXPECT_EQ(Meta(out, "partial")->as_string(), "ok");
}

TEST_F(OpenAiRunnerTest, ErrorInsideTheStreamFailsTheTurn) {
  Start(
      R"([{"mode": "raw", "raw": ["data: {\"error\":{\"message\":\"model overloaded\"}}\n\n"]}])");
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("model overloaded"), std::string::npos) << out.text;
}

TEST_F(OpenAiRunnerTest, RawDoneWithoutBlankLineAtEndIsAccepted) {
  Start(
      R"([{"mode": "raw", "raw": ["data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n", ": ping\n\n", "data: [DONE]\n"]}])");
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "x");
}

TEST_F(OpenAiRunnerTest, SlowFirstTokenPastIdleTimeoutFails) {
  Start(R"([{"content": ["late"], "delay_first_ms": 5000}])");
  agent_.idle_timeout = milliseconds(200);
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("idle_timeout"), std::string::npos) << out.text;
}

TEST_F(OpenAiRunnerTest, TrickleWithinIdleTimeoutSucceeds) {
  Start(R"([{"content": ["a", "b", "c"], "delay_ms": 30, "delay_first_ms": 30}])");
  agent_.idle_timeout = milliseconds(5000);
  TurnOutput out = Run("hi");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text, "abc");
}

TEST_F(OpenAiRunnerTest, CancelledContextStopsTheTransfer) {
  Start(R"([{"content": ["a"], "delay_first_ms": 5000}])");
  context_.cancelled = true;
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("cancelled"), std::string::npos) << out.text;
}

TEST_F(OpenAiRunnerTest, UnreachableServerFailsAfterAFewAttempts) {
  Start("[]");
  agent_.base_url = "http://127.0.0.1:1/v1";  // nothing listens on port 1
  TurnOutput out = Run("hi");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("cannot reach http://127.0.0.1:1/v1/chat/completions"), std::string::npos)
      << out.text;
  EXPECT_EQ(clock_->sleeps.size(), static_cast<size_t>(RetryPolicy::kMaxTransportAttempts - 1));
}

TEST_F(OpenAiRunnerTest, ReplyLargerThanTheLimitFails) {
  Start(R"([{"content": ["0123456789", "0123456789"]}])");
  clock_ = std::make_shared<FakeClock>();
  auto r = OpenAiRunner::Create(agent_, 15, clock_);
  ASSERT_TRUE(r.ok());
  TurnInput in;
  in.turn_id = 1;
  in.message = "hi";
  in.transcript_path = dir_.path() + "/t.jsonl";
  TurnOutput out = (*r)->Run(in, context_);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.text.find("exceeds 15 bytes"), std::string::npos) << out.text;
}

TEST_F(OpenAiRunnerTest, ConnectionIsReusedAcrossTurns) {
  Start("[]");
  clock_ = std::make_shared<FakeClock>();
  auto r = OpenAiRunner::Create(agent_, 1 << 20, clock_);
  ASSERT_TRUE(r.ok());
  TurnInput in;
  in.message = "hi";
  in.transcript_path = dir_.path() + "/t.jsonl";
  for (int i = 1; i <= 3; ++i) {
    in.turn_id = i;
    ASSERT_TRUE((*r)->Run(in, context_).ok);
  }
  auto reqs = server_->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["peer_port"], reqs[1]["peer_port"]);
  EXPECT_EQ(reqs[1]["peer_port"], reqs[2]["peer_port"]);
}

}  // namespace
}  // namespace laneway::worker
