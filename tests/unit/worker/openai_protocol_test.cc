#include "worker/runners/openai_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/runners/retry_policy.h"

namespace laneway::worker {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

TEST(OpenAiProtocolTest, RequestCarriesMessagesStreamAndUsageOption) {
  ChatRequest r;
  r.model = "gpt-test";
  r.messages = {{"system", "be brief"}, {"user", "hi"}, {"assistant", "hello"}, {"user", "again"}};
  json j = json::parse(ChatRequestJson(r));
  EXPECT_EQ(j["model"], "gpt-test");
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  ASSERT_EQ(j["messages"].size(), 4u);
  EXPECT_EQ(j["messages"][0]["role"], "system");
  EXPECT_EQ(j["messages"][3]["content"], "again");
  EXPECT_FALSE(j.contains("max_completion_tokens"));
  EXPECT_FALSE(j.contains("temperature"));
  r.max_completion_tokens = 64;
  r.temperature = 0.25;
  r.stream = false;
  j = json::parse(ChatRequestJson(r));
  EXPECT_EQ(j["max_completion_tokens"], 64);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 0.25);
  EXPECT_FALSE(j.contains("stream_options"));
}

TEST(OpenAiProtocolTest, InvalidUtf8InAMessageIsReplacedNotThrown) {
  ChatRequest r;
  r.model = "m";
  r.messages = {{"user", "bad \xFF byte"}};
  json j = json::parse(ChatRequestJson(r));
  EXPECT_EQ(j["messages"][0]["content"], "bad \xEF\xBF\xBD byte");
}

TEST(OpenAiProtocolTest, ParsesContentFinishAndUsageChunks) {
  auto c = ParseChatChunk(R"({"model":"m1","choices":[{"index":0,"delta":{"content":"Hel"}}]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->delta, "Hel");
  EXPECT_EQ(c->model, "m1");
  EXPECT_FALSE(c->usage);
  auto role = ParseChatChunk(R"({"choices":[{"delta":{"role":"assistant","content":null}}]})");
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(role->delta, "");
  auto fin = ParseChatChunk(R"({"choices":[{"delta":{},"finish_reason":"stop"}]})");
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(fin->finish_reason, "stop");
  auto usage = ParseChatChunk(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})");
  ASSERT_TRUE(usage.ok());
  ASSERT_TRUE(usage->usage);
  EXPECT_EQ(usage->usage->prompt_tokens, 12);
  EXPECT_EQ(usage->usage->completion_tokens, 5);
}

TEST(OpenAiProtocolTest, LlamaCppTimingsCountAsUsage) {
  auto c = ParseChatChunk(
      R"({"choices":[{"delta":{},"finish_reason":"stop"}],"timings":{"prompt_n":9,"predicted_n":4}})");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->usage);
  EXPECT_EQ(c->usage->prompt_tokens, 9);
  EXPECT_EQ(c->usage->completion_tokens, 4);
}

TEST(OpenAiProtocolTest, MalformedAndErrorChunksAreErrors) {
  EXPECT_FALSE(ParseChatChunk("{not json").ok());
  EXPECT_FALSE(ParseChatChunk("[1]").ok());
  EXPECT_FALSE(ParseChatChunk(R"({"choices":{"a":1}})").ok());
  auto e = ParseChatChunk(R"({"error":{"message":"overloaded","type":"server_error"}})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("overloaded"), std::string::npos);
  EXPECT_NE(e.status().message().find("server_error"), std::string::npos);
}

TEST(OpenAiProtocolTest, PlainCompletionBody) {
  auto c = ParseChatCompletion(
      R"({"model":"m","choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->delta, "whole");
  EXPECT_EQ(c->finish_reason, "stop");
  ASSERT_TRUE(c->usage);
}

TEST(OpenAiProtocolTest, ServerErrorMessageInEveryDialect) {
  std::string code;
  EXPECT_EQ(
      ServerErrorMessage(
          R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})",
          &code),
      "Incorrect API key provided");
  EXPECT_EQ(code, "invalid_api_key");
  code.clear();
  EXPECT_EQ(ServerErrorMessage(R"({"error":"model 'x' not found"})", &code), "model 'x' not found");
  EXPECT_EQ(ServerErrorMessage(R"({"detail":"Not Found"})", nullptr), "Not Found");
  EXPECT_EQ(ServerErrorMessage("Bad\ngateway", nullptr), "Bad gateway");
  EXPECT_EQ(ServerErrorMessage("", nullptr), "(empty body)");
  EXPECT_EQ(ServerErrorMessage(std::string(1000, 'x'), nullptr).size(), 303u);
}

// --- RetryPolicy ---

AttemptFailure Status(long s, std::string message = "m", std::string code = "") {
  AttemptFailure f;
  f.http_status = s;
  f.message = std::move(message);
  f.error_code = std::move(code);
  return f;
}

constexpr milliseconds kLots{std::chrono::minutes(10)};

TEST(OpenAiRetryPolicyTest, AuthErrorsFailAtOnce) {
  RetryPolicy p;
  EXPECT_EQ(p.Decide(Status(401), 1, kLots, 0.5).action, RetryAction::kFail);
  EXPECT_EQ(p.Decide(Status(403), 1, kLots, 0.5).action, RetryAction::kFail);
  EXPECT_EQ(p.Decide(Status(400), 1, kLots, 0.5).action, RetryAction::kFail);
  EXPECT_EQ(p.Decide(Status(422), 1, kLots, 0.5).action, RetryAction::kFail);
}

TEST(OpenAiRetryPolicyTest, NotFoundAndNonRetryable5xxFallBack) {
  RetryPolicy p;
  EXPECT_EQ(p.Decide(Status(404), 1, kLots, 0.5).action, RetryAction::kFallback);
  EXPECT_EQ(p.Decide(Status(501), 1, kLots, 0.5).action, RetryAction::kFallback);
  EXPECT_EQ(p.Decide(Status(505), 1, kLots, 0.5).action, RetryAction::kFallback);
}

TEST(OpenAiRetryPolicyTest, RateLimitAndServerErrorsRetryWithBackoff) {
  RetryPolicy p(milliseconds(100), milliseconds(1000));
  for (long s : {429L, 500L, 502L, 503L, 504L, 529L}) {
    RetryDecision d = p.Decide(Status(s), 1, kLots, 0.0);
    EXPECT_EQ(d.action, RetryAction::kRetry) << s;
    EXPECT_EQ(d.delay, milliseconds(50)) << s;
  }
  EXPECT_EQ(p.Decide(Status(500), 3, kLots, 0.999).delay, milliseconds(399));
  EXPECT_EQ(p.Decide(Status(500), 7, kLots, 0.0).delay, milliseconds(500));  // capped
  EXPECT_EQ(p.Decide(Status(500), RetryPolicy::kMaxAttempts, kLots, 0.5).action,
            RetryAction::kFail);
}

TEST(OpenAiRetryPolicyTest, RetryAfterIsHonouredWithinTheDeadline) {
  RetryPolicy p;
  AttemptFailure f = Status(429);
  f.retry_after = milliseconds(3000);
  RetryDecision d = p.Decide(f, 1, kLots, 0.5);
  EXPECT_EQ(d.action, RetryAction::kRetry);
  EXPECT_EQ(d.delay, milliseconds(3000));
  d = p.Decide(f, 1, milliseconds(2000), 0.5);
  EXPECT_EQ(d.action, RetryAction::kFail);
  EXPECT_NE(d.why.find("run_timeout"), std::string::npos);
}

TEST(OpenAiRetryPolicyTest, ExhaustedQuotaIsNotRetried) {
  RetryPolicy p;
  EXPECT_EQ(p.Decide(Status(429, "x", "insufficient_quota"), 1, kLots, 0.5).action,
            RetryAction::kFail);
  EXPECT_EQ(p.Decide(Status(429, "You exceeded your current quota, please check your plan"), 1,
                     kLots, 0.5)
                .action,
            RetryAction::kFail);
  EXPECT_EQ(p.Decide(Status(429, "Rate limit reached for requests per min"), 1, kLots, 0.5).action,
            RetryAction::kRetry);
}

TEST(OpenAiRetryPolicyTest, NoResponseIsRetriedAFewTimes) {
  RetryPolicy p;
  EXPECT_EQ(p.Decide(Status(0), 1, kLots, 0.5).action, RetryAction::kRetry);
  EXPECT_EQ(p.Decide(Status(0), RetryPolicy::kMaxTransportAttempts, kLots, 0.5).action,
            RetryAction::kFail);
}

TEST(OpenAiRetryPolicyTest, RetryAfterParsing) {
  EXPECT_EQ(ParseRetryAfter("2", false, 0), milliseconds(2000));
  EXPECT_EQ(ParseRetryAfter(" 120 ", false, 0), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("250", true, 0), milliseconds(250));
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", false, 784111770), milliseconds(7000));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", false, 784111800), milliseconds(0));
  EXPECT_FALSE(ParseRetryAfter("soon", false, 0));
  EXPECT_FALSE(ParseRetryAfter("", false, 0));
  EXPECT_FALSE(ParseRetryAfter("1.5", true, 0));
}

}  // namespace
}  // namespace laneway::worker
