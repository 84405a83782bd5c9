// The gateway port's HTTP side against the real supervisor, with curl: the
// OpenAI-compatible /v1 endpoints and the health probes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <thread>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using Json = nlohmann::json;

const std::string kAuth = std::string("Authorization: Bearer ") + kGatewayToken;

Json Body(const HttpResult& r) {
  try {
    return Json::parse(r.body);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string ErrorCode(const HttpResult& r) {
  Json b = Body(r);
  if (!b.is_object() || !b.contains("error") || !b["error"]["code"].is_string()) return "";
  return b["error"]["code"].get<std::string>();
}

class GatewayHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(gw_.Start(GatewayConfig(home_, "max_payload = 4096"))) << gw_.Log();
  }
  HttpResult Post(const std::string& body, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body};
    args.insert(args.end(), extra.begin(), extra.end());
    return Curl(gw_.http_url("/v1/chat/completions"), args);
  }
  TempHome home_;
  GatewayServer gw_{home_};
};

TEST_F(GatewayHttpTest, ChatCompletionAnswersOneCompletionObject) {
  HttpResult r = Post(R"({"model":"laneway/main","user":"ann",
      "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi there"}]})",
                      {"-H", kAuth});
  ASSERT_EQ(r.status, 200) << r.body;
  Json b = Body(r);
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["model"], "laneway/main");
  EXPECT_EQ(b["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(b["choices"][0]["message"]["content"], "reply:hi there");
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
  // The user field picked the session.
  Json sessions = Json::parse(common::ToJson(Call(home_, "sessions")));
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["session"], "agent:main:openai-user:ann");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayHttpTest, ChatCompletionStreamsServerSentEvents) {
  HttpResult r = Post(R"({"model":"main","stream":true,
      "messages":[{"role":"user","content":[{"type":"text","text":"streamed"}]}]})",
                      {"-H", kAuth, "-H", "x-laneway-session: s1"});
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<Json> chunks;
  bool done = false;
  size_t pos = 0;
  while ((pos = r.body.find("data: ", pos)) != std::string::npos) {
    size_t end = r.body.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos) << r.body;
    std::string data = r.body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    EXPECT_FALSE(done) << "nothing after [DONE]";
    chunks.push_back(Json::parse(data));
  }
  EXPECT_TRUE(done) << r.body;
  ASSERT_GE(chunks.size(), 3u) << r.body;
  EXPECT_EQ(chunks.front()["object"], "chat.completion.chunk");
  EXPECT_EQ(chunks.front()["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (const Json& c : chunks) {
    const Json& d = c["choices"][0]["delta"];
    if (d.contains("content")) text += d["content"].get<std::string>();
  }
  EXPECT_EQ(text, "reply:streamed");
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "stop");
  Json sessions = Json::parse(common::ToJson(Call(home_, "sessions")));
  EXPECT_EQ(sessions[0]["session"], "agent:main:openai-user:s1");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayHttpTest, BadAuthIs401WithAnOpenAiErrorBody) {
  const std::string body = R"({"model":"main","messages":[{"role":"user","content":"x"}]})";
  HttpResult none = Post(body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none), "invalid_api_key") << none.body;
  HttpResult wrong = Post(body, {"-H", "Authorization: Bearer wrong"});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(Body(wrong)["error"]["message"].is_string());
  EXPECT_EQ(Curl(gw_.http_url("/v1/models")).status, 401);
  EXPECT_EQ(Counter(Status(home_), "turns_accepted"), 0);
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayHttpTest, BadBodiesGetTheRightStatusAndNoTurn) {
  HttpResult not_json = Post("{nope", {"-H", kAuth});
  EXPECT_EQ(not_json.status, 400) << not_json.body;
  EXPECT_TRUE(Body(not_json)["error"]["message"].is_string());
  HttpResult no_model = Post(R"({"messages":[{"role":"user","content":"x"}]})", {"-H", kAuth});
  EXPECT_EQ(no_model.status, 400);
  HttpResult unknown = Post(
      R"({"model":"laneway/ghost","messages":[{"role":"user","content":"x"}]})", {"-H", kAuth});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorCode(unknown), "model_not_found");
  HttpResult no_user =
      Post(R"({"model":"main","messages":[{"role":"system","content":"x"}]})", {"-H", kAuth});
  EXPECT_EQ(no_user.status, 400);
  HttpResult bad_stream =
      Post(R"({"model":"main","stream":"yes","messages":[{"role":"user","content":"x"}]})",
           {"-H", kAuth});
  EXPECT_EQ(bad_stream.status, 400);
  HttpResult too_big =
      Post(std::string(R"({"model":"main","messages":[{"role":"user","content":")") +
               std::string(8000, 'x') + "\"}]}",
           {"-H", kAuth});
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  HttpResult get = Curl(gw_.http_url("/v1/chat/completions"), {"-H", kAuth});
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(Curl(gw_.http_url("/v1/nothing"), {"-H", kAuth}).status, 404);
  EXPECT_EQ(Counter(Status(home_), "turns_accepted"), 0);
  ExpectEveryTurnSettled(home_);
}

// A turn the journal cannot take (RLIMIT_FSIZE at the journal's size: every append
// fails, as on a full disk) is a 503 the client may retry, not a 400 it would not.
TEST_F(GatewayHttpTest, AChatCompletionTheJournalCannotTakeIs503AndSucceedsLater) {
  const std::string journal = home_.paths().journal_dir + "/journal.log";
  struct stat st;
  ASSERT_EQ(::stat(journal.c_str(), &st), 0);
  ASSERT_EQ(SetFileSizeLimit(gw_.supervisor().pid(), st.st_size), "");
  const std::string body =
      R"({"model":"laneway/main","user":"ann","messages":[{"role":"user","content":"hi"}]})";
  HttpResult r = Post(body, {"-H", kAuth});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["error"]["type"], "server_error") << r.body;
  EXPECT_NE(r.body.find("journal"), std::string::npos) << r.body;
  ASSERT_EQ(SetFileSizeLimit(gw_.supervisor().pid(), kNoFileSizeLimit), "");
  HttpResult later;
  ASSERT_TRUE(WaitFor([&] {
    later = Post(body, {"-H", kAuth});
    return later.status == 200;
  })) << later.status
      << " " << later.body;
  EXPECT_EQ(Body(later)["choices"][0]["message"]["content"], "reply:hi");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayHttpTest, ModelsListTheAgents) {
  HttpResult r = Curl(gw_.http_url("/v1/models"), {"-H", kAuth});
  ASSERT_EQ(r.status, 200);
  Json b = Body(r);
  EXPECT_EQ(b["object"], "list");
  ASSERT_EQ(b["data"].size(), 1u);
  EXPECT_EQ(b["data"][0]["id"], "laneway/main");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayHttpTest, HealthzAndReadyzNeedNoAuthAndReadyzIs503WhileDraining) {
  HttpResult h = Curl(gw_.http_url("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(Curl(gw_.http_url("/readyz")).status, 200);
  // A running turn holds the drain open.
  auto turn = std::async(std::launch::async, [&] {
    return Post(R"({"model":"main","messages":[{"role":"user","content":"gate drain"}]})",
                {"-H", kAuth, "-H", "x-laneway-session: drain"});
  });
  ASSERT_TRUE(WaitForWorker(home_, "agent:main:openai-user:drain", "busy"));
  // `laneway down` would wait for the exit; the request alone starts the drain.
  common::Value down = Call(home_, "shutdown");
  EXPECT_EQ(common::ToJson(down).find("\"draining\":true"), 1u) << common::ToJson(down);
  EXPECT_TRUE(WaitFor([&] { return Curl(gw_.http_url("/readyz")).status == 503; })) << gw_.Log();
  EXPECT_EQ(Curl(gw_.http_url("/healthz")).status, 200) << "the process still answers";
  home_.OpenGate();
  HttpResult r = turn.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(gw_.supervisor().WaitExit(), 0);
}

}  // namespace
}  // namespace laneway::testing
