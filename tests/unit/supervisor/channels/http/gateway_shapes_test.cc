// Pure parts of the gateway port: frames, auth, payload shapes, OpenAI parsing,
// listen parsing, [channels.http] keys.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/protocol.h"
#include "supervisor/channels/http/auth.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/listener.h"
#include "supervisor/channels/http/openai_http.h"
#include "supervisor/channels/http/payloads.h"

namespace laneway::supervisor::http {
namespace {

using common::Value;

TEST(GatewayFramesTest, ResAndEventFramesHaveOnlyTheSchemaKeys) {
  Json ok = Json::parse(ResOk("r1", {{"x", 1}}));
  EXPECT_EQ(ok.size(), 4u);
  EXPECT_EQ(ok["type"], "res");
  EXPECT_EQ(ok["ok"], true);
  Json err = Json::parse(ResError("r2", "INVALID_REQUEST", "nope"));
  EXPECT_EQ(err.size(), 4u);
  EXPECT_EQ(err["error"].size(), 2u);
  Json ev = Json::parse(EventFrame("tick", {{"ts", 1}}, 7));
  EXPECT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev["seq"], 7);
  EXPECT_EQ(Json::parse(EventFrame("connect.challenge", Json::object(), -1)).size(), 3u);
}

TEST(GatewayFramesTest, ParseReqNamesWhatIsWrongAndKeepsTheId) {
  std::string id;
  EXPECT_FALSE(ParseReq("{oops", &id).ok());
  EXPECT_EQ(id, "");
  auto no_method = ParseReq(R"({"type":"req","id":"a"})", &id);
  EXPECT_FALSE(no_method.ok());
  EXPECT_EQ(id, "a");
  EXPECT_NE(no_method.status().message().find("method"), std::string::npos);
  EXPECT_FALSE(ParseReq(R"({"type":"res","id":"a","method":"x"})", &id).ok());
  EXPECT_FALSE(ParseReq(R"({"type":"req","id":"a","method":"x","params":[1]})", &id).ok());
  auto good = ParseReq(R"({"type":"req","id":"b","method":"health"})", &id);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->method, "health");
  EXPECT_TRUE(good->params.is_object());
  std::string deep(100, '[');
  EXPECT_FALSE(ParseJson(deep + std::string(100, ']')).ok());
}

TEST(GatewayFramesTest, UuidsAreVersion4) {
  std::string u = NewUuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(u, NewUuid());
}

TEST(GatewayAuthTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(GatewayAuthTest, ConnectAcceptsTokenPasswordOrTheDevicesOwnToken) {
  Credentials c;
  c.token = "tok";
  c.password = "pw";
  c.device_tokens["dev"] = "devtok";
  EXPECT_TRUE(AuthorizeConnect(c, {{"auth", {{"token", "tok"}}}}));
  EXPECT_TRUE(AuthorizeConnect(c, {{"auth", {{"password", "pw"}}}}));
  EXPECT_TRUE(AuthorizeConnect(c, {{"auth", {{"token", "devtok"}}}, {"device", {{"id", "dev"}}}}));
  EXPECT_FALSE(AuthorizeConnect(c, {{"auth", {{"token", "devtok"}}}, {"device", {{"id", "x"}}}}));
  EXPECT_FALSE(AuthorizeConnect(c, {{"auth", {{"token", "devtok"}}}}));
  EXPECT_FALSE(AuthorizeConnect(c, {{"auth", {{"token", "bad"}}}}));
  EXPECT_FALSE(AuthorizeConnect(c, Json::object()));
  EXPECT_TRUE(AuthorizeBearer(c, "Bearer tok"));
  EXPECT_FALSE(AuthorizeBearer(c, "Bearer"));
  EXPECT_FALSE(AuthorizeBearer(c, "Basic tok"));
  EXPECT_TRUE(AuthorizeConnect(Credentials{}, Json::object())) << "no secret: open (loopback)";
}

TEST(GatewayAuthTest, PairedDevicesFileYieldsOperatorTokens) {
  auto d =
      ParsePairedDevices(R"({"a":{"tokens":{"operator":{"token":"t1"}}},"b":{"tokens":{}},"c":5})");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at("a"), "t1");
  EXPECT_FALSE(ParsePairedDevices("[]").ok());
}

TEST(GatewayPayloadsTest, RepliedTurnIsOkWithPayloadTextOthersAreErrors) {
  Value out = common::NewMessage(common::msg::kOutcome);
  out.Set("status", "replied");
  out.Set("reply", "hello");
  AgentResult r = FinalAgentResult("K", out, 12);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.payload["runId"], "K");
  EXPECT_EQ(r.payload["status"], "ok");
  EXPECT_EQ(r.payload["result"]["payloads"][0]["text"], "hello");
  EXPECT_TRUE(r.payload["result"]["payloads"][0]["mediaUrl"].is_null());
  EXPECT_EQ(r.payload["result"]["meta"]["durationMs"], 12);
  out.Set("status", "timed_out");
  out.Set("error", "run_timeout after 10m");
  AgentResult t = FinalAgentResult("K", out, 1);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_message, "turn timed_out: run_timeout after 10m");
  EXPECT_EQ(WaitPayload("K", out)["status"], "error");
  out.Set("status", "pending");
  EXPECT_EQ(WaitPayload("K", out)["status"], "timeout");
}

TEST(GatewayPayloadsTest, SessionsListAndHealthUseTheRealShapes) {
  common::Config cfg = common::DefaultConfig();
  Value rows = Value::MakeArray();
  for (int i = 0; i < 3; ++i) {
    Value r = Value::MakeMap();
    r.Set("session", "agent:main:s" + std::to_string(i));
    r.Set("agent", "main");
    r.Set("last_activity_unix_ms", int64_t{1000 + i});
    rows.Push(r);
  }
  Json list = SessionsListPayload(cfg, rows);
  EXPECT_EQ(list["count"], 3);
  EXPECT_EQ(list["sessions"][0]["key"], "agent:main:s0");
  EXPECT_EQ(list["sessions"][0]["kind"], "direct");
  Value status = Value::MakeMap();
  status.Set("healthy", true);
  status.Set("home", "/h");
  Json health = HealthPayload(cfg, status, rows, 3);
  EXPECT_EQ(health["ok"], true);
  EXPECT_EQ(health["defaultAgentId"], "main");
  EXPECT_EQ(health["sessions"]["count"], 3);
  EXPECT_EQ(health["sessions"]["recent"][0]["key"], "agent:main:s2") << "newest first";
  EXPECT_EQ(health["agents"][0]["agentId"], "main");
  Json st = StatusPayload(cfg, status, rows);
  EXPECT_EQ(st["sessions"]["count"], 3);
  EXPECT_TRUE(st["channelSummary"].is_array());
}

TEST(GatewayOpenAiTest, ParsesModelSessionAndLastUserMessage) {
  common::Config cfg = common::DefaultConfig();
  ChatRequest r;
  auto err = ParseChatRequest(
      R"({"model":"laneway/main","user":"u1","stream":true,"messages":[
        {"role":"user","content":"first"},{"role":"assistant","content":"a"},
        {"role":"user","content":[{"type":"text","text":"sec"},{"type":"text","text":"ond"}]}]})",
      "", cfg, &r);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(r.agent, "main");
  EXPECT_EQ(r.message, "second");
  EXPECT_EQ(r.session, "openai-user:u1");
  EXPECT_TRUE(r.stream);
  ChatRequest h;
  ASSERT_FALSE(ParseChatRequest(R"({"model":"main","messages":[{"role":"user","content":"x"}]})",
                                "hdr", cfg, &h));
  EXPECT_EQ(h.session, "openai-user:hdr");
  ChatRequest fresh1, fresh2;
  ParseChatRequest(R"({"model":"main","messages":[{"role":"user","content":"x"}]})", "", cfg,
                   &fresh1);
  ParseChatRequest(R"({"model":"main","messages":[{"role":"user","content":"x"}]})", "", cfg,
                   &fresh2);
  EXPECT_NE(fresh1.session, fresh2.session);
  EXPECT_EQ(fresh1.session.rfind("openai:", 0), 0u);
}

TEST(GatewayOpenAiTest, BadRequestsGetStatusAndCode) {
  common::Config cfg = common::DefaultConfig();
  ChatRequest r;
  EXPECT_EQ(ParseChatRequest("{", "", cfg, &r)->status, 400u);
  EXPECT_EQ(ParseChatRequest(R"({"messages":[]})", "", cfg, &r)->code, "missing_model");
  auto unknown =
      ParseChatRequest(R"({"model":"x","messages":[{"role":"user","content":"a"}]})", "", cfg, &r);
  EXPECT_EQ(unknown->status, 404u);
  EXPECT_EQ(unknown->code, "model_not_found");
  EXPECT_EQ(ParseChatRequest(R"({"model":"main","messages":[{"role":"system","content":"a"}]})", "",
                             cfg, &r)
                ->code,
            "missing_user_message");
  Json body = Json::parse(OpenAiErrorBody(*unknown));
  EXPECT_EQ(body["error"]["code"], "model_not_found");
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_EQ(Json::parse(ModelsBody(cfg))["data"][0]["id"], "laneway/main");
}

TEST(GatewayListenTest, ParsesHostPortWithPortZeroAndKnowsLoopback) {
  std::string host;
  uint16_t port = 1;
  ASSERT_TRUE(ParseListen("127.0.0.1:0", &host, &port).ok());
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListen("[::1]:18789", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 18789);
  EXPECT_FALSE(ParseListen("127.0.0.1:70000", &host, &port).ok());
  EXPECT_FALSE(ParseListen("nohost", &host, &port).ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
}

TEST(GatewayConfigTest, ReadsEveryHttpKey) {
  auto cfg = common::ParseConfig(R"([agents.main]
runner = "echo"
[channels.http]
token_file = "tok"
password_env = "PW"
paired_devices_file = "/p.json"
max_connections = 10
max_payload = 2048
max_buffered_bytes = 4096
handshake_timeout = "2s"
tick_interval = "250ms"
)",
                                 "t.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  const auto& h = cfg->channels.http;
  EXPECT_EQ(h.token_file, "tok");
  EXPECT_EQ(h.password_env, "PW");
  EXPECT_EQ(h.paired_devices_file, "/p.json");
  EXPECT_EQ(h.max_connections, 10u);
  EXPECT_EQ(h.max_payload, 2048u);
  EXPECT_EQ(h.max_buffered_bytes, 4096u);
  EXPECT_EQ(h.handshake_timeout, std::chrono::seconds(2));
  EXPECT_EQ(h.tick_interval, std::chrono::milliseconds(250));
  EXPECT_FALSE(h.generate_token_file);
  auto bad = common::ParseConfig(
      "[agents.main]\nrunner = \"echo\"\n[channels.http]\nmax_payload = 5\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("channels.http.max_payload"), std::string::npos);
  common::Config built_in = common::BuiltInConfig();
  EXPECT_TRUE(built_in.channels.http.enabled);
  EXPECT_EQ(built_in.channels.http.listen, "127.0.0.1:18789");
  EXPECT_EQ(built_in.channels.http.token_file, "token");
  EXPECT_TRUE(built_in.channels.http.generate_token_file);
}

}  // namespace
}  // namespace laneway::supervisor::http
