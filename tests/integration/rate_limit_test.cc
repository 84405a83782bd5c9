// The gateway port's failed-login budget (channels/http/login_limiter.h), and
// that the token is never echoed: not in the log, not in `status`, not taken
// from a URL.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using Json = nlohmann::json;

const std::string kAuth = std::string("Authorization: Bearer ") + kGatewayToken;

class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw_.Start(GatewayConfig(home_))) << gw_.Log(); }
  HttpResult Models(const std::string& auth_header, bool with_headers = false) {
    std::vector<std::string> args = {"-H", auth_header};
    if (with_headers) args.push_back("-i");
    return Curl(gw_.http_url("/v1/models"), args);
  }
  TempHome home_;
  GatewayServer gw_{home_};
};

TEST_F(RateLimitTest, TenFailedLoginsFromOneAddressThen429WithRetryAfterEvenForTheRightToken) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Models("Authorization: Bearer wrong-" + std::to_string(i)).status, 401) << i;
  }
  HttpResult limited = Models("Authorization: Bearer wrong-x", /*with_headers=*/true);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_NE(limited.body.find("Retry-After: "), std::string::npos) << limited.body;
  EXPECT_NE(limited.body.find("\"code\":\"rate_limited\""), std::string::npos) << limited.body;
  // The budget is per address, not per token: guessing right does not get in.
  EXPECT_EQ(Models(kAuth).status, 429);
  // The WebSocket door shares the budget: the upgrade itself is refused.
  std::string raw;
  Json ws = WsClient({"handshake", gw_.ws_url(), kGatewayToken}, &raw);
  EXPECT_FALSE(ws.is_object() && ws["res"].value("ok", false)) << raw;
  // Unauthenticated probes stay open.
  EXPECT_EQ(Curl(gw_.http_url("/healthz")).status, 200);
  Json status = Json::parse(common::ToJson(Status(home_)));
  bool found = false;
  for (const Json& ch : status["channels"]) {
    if (ch.value("kind", "") != "http") continue;
    found = true;
    EXPECT_GE(ch.value("logins_rate_limited", 0), 3) << ch.dump();
    EXPECT_EQ(ch.value("auth_failures", 0), 10) << ch.dump();
  }
  EXPECT_TRUE(found) << status.dump();
}

TEST_F(RateLimitTest, WebSocketConnectFailuresCountTowardsTheSameBudget) {
  for (int i = 0; i < 10; ++i) {
    Json r = WsClient({"handshake", gw_.ws_url(), "not-the-token"});
    ASSERT_TRUE(r.is_object()) << i;
    EXPECT_FALSE(r["res"]["ok"].get<bool>()) << i;
  }
  EXPECT_EQ(Models(kAuth).status, 429);
}

TEST(SecurityTokenTest, TokensNeverAppearInLogsStatusOrAsAUrlCredential) {
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home))) << gw.Log();
  const std::string wrong = "wrong-secret-9f3a7c";
  // A good login on both doors, a bad one, and the token offered in the URL.
  Json ok = WsClient({"handshake", gw.ws_url(), kGatewayToken});
  ASSERT_TRUE(ok.is_object());
  EXPECT_TRUE(ok["res"]["ok"].get<bool>());
  EXPECT_EQ(Curl(gw.http_url("/v1/models"), {"-H", kAuth}).status, 200);
  EXPECT_EQ(Curl(gw.http_url("/v1/models"), {"-H", "Authorization: Bearer " + wrong}).status, 401);
  EXPECT_EQ(Curl(gw.http_url(std::string("/v1/models?token=") + kGatewayToken)).status, 401)
      << "a token in the URL is not a credential";
  Json bad = WsClient({"handshake", gw.ws_url(), wrong});
  ASSERT_TRUE(bad.is_object());
  EXPECT_FALSE(bad["res"]["ok"].get<bool>());
  // A chat turn through the gateway, so that its log lines exist too.
  HttpResult chat =
      Curl(gw.http_url("/v1/chat/completions"),
           {"-X", "POST", "-H", kAuth, "-H", "Content-Type: application/json", "--data-binary",
            R"({"model":"laneway/main","messages":[{"role":"user","content":"x"}]})"});
  EXPECT_EQ(chat.status, 200) << chat.body;

  CliResult status = RunCli(home, {"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.err;
  CliResult text = RunCli(home, {"status"});
  const std::string log = gw.Log();
  for (const std::string& secret : {std::string(kGatewayToken), wrong}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log:\n" << log;
    EXPECT_EQ(status.out.find(secret), std::string::npos) << secret << " in status --json";
    EXPECT_EQ(text.out.find(secret), std::string::npos) << secret << " in status";
  }
  EXPECT_NE(status.out.find("env LANEWAY_TOKEN"), std::string::npos)
      << "status names where the token comes from: " << status.out;
}

}  // namespace
}  // namespace laneway::testing
