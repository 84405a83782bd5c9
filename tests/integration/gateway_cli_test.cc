// The CLI on the gateway port (`laneway agent --url`, `laneway token`) and the
// seed's own CLI (skipped where clawdbot is not installed).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

TEST(GatewayCliTest, AgentOverTheGatewayUrlPrintsTheReply) {
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home))) << gw.Log();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "over ws", "--url",
                              gw.ws_url(), "--token", kGatewayToken});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "reply:over ws\n");
  CliResult bad = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--url", gw.ws_url(),
                                "--token", "wrong"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("token mismatch"), std::string::npos) << bad.err;
  CliResult failed = RunCli(home, {"agent", "--agent", "main", "--message", "fail", "--url",
                                   gw.ws_url(), "--token", kGatewayToken});
  EXPECT_EQ(failed.code, 1);
  CliResult usage =
      RunCli(home, {"agent", "--agent", "main", "--message", "x", "--url", "http://nope"});
  EXPECT_EQ(usage.code, 2);
  ExpectEveryTurnSettled(home);
}

TEST(GatewayCliTest, TokenIsGeneratedOnceWithMode0600) {
  if (std::getenv("LANEWAY_TOKEN")) GTEST_SKIP() << "LANEWAY_TOKEN is set in this environment";
  TempHome home;
  CliResult a = RunCli(home, {"token"});
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(a.out.size(), 33u) << a.out;
  CliResult b = RunCli(home, {"token"});
  EXPECT_EQ(a.out, b.out);
  struct stat st;
  ASSERT_EQ(::stat((home.path() + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(GatewayCliTest, NonLoopbackListenWithoutATokenIsRefusedAtStart) {
  TempHome home;
  SupervisorProcess sup(home, {{"LANEWAY_TOKEN", ""}, {"LANEWAY_HTTP_LISTEN", "0.0.0.0:0"}});
  home.Write("laneway.toml", GatewayConfig(home));
  int code = sup.RunToExit();
  EXPECT_EQ(code, 5) << "start-up failure";
  EXPECT_NE(sup.Log().find("without a token"), std::string::npos) << sup.Log();
}

TEST(GatewayCliTest, SeedCliTalksToLanewayWithoutFallingBack) {
  ProcResult which = RunProgram({"/bin/sh", "-c", "command -v clawdbot"});
  if (which.code != 0) GTEST_SKIP() << "clawdbot (the seed CLI) is not installed";
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home))) << gw.Log();
  std::string port = gw.addr().substr(gw.addr().rfind(':') + 1);
  Env env = {{"HOME", home.path()},
             {"CLAWDBOT_GATEWAY_PORT", port},
             {"CLAWDBOT_GATEWAY_TOKEN", kGatewayToken}};
  std::string bin = which.out.substr(0, which.out.find('\n'));
  ProcResult r = RunProgram({bin, "agent", "--agent", "main", "--message", "hi seed"}, env);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("reply:hi seed"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.err.find("falling back to embedded"), std::string::npos) << r.err;
  ProcResult h = RunProgram({bin, "gateway", "call", "health", "--params", "{}"}, env);
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_NE(h.out.find("defaultAgentId"), std::string::npos) << h.out;
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
