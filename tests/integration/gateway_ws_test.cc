// The gateway port's WebSocket side (protocol 3) against the real supervisor,
// with a real WebSocket client (Python websockets). Every test ends by checking
// the ledger: each accepted turn ended exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using Json = nlohmann::json;

std::string Str(const Json& j, const std::string& pointer) {
  Json::json_pointer p(pointer);
  return j.contains(p) && j[p].is_string() ? j[p].get<std::string>() : "";
}

class GatewayWsTest : public ::testing::Test {
 protected:
  bool StartGateway(const std::string& http_extra = "", const std::string& agent_extra = "") {
    return gw_.Start(GatewayConfig(home_, http_extra, agent_extra));
  }
  std::vector<std::string> Args(const std::string& mode, std::vector<std::string> rest = {},
                                const std::string& token = kGatewayToken) {
    std::vector<std::string> a = {mode, gw_.ws_url(), token};
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  }
  TempHome home_;
  GatewayServer gw_{home_};
};

TEST_F(GatewayWsTest, HandshakeSendsChallengeThenHelloOkWithPolicy) {
  ASSERT_TRUE(StartGateway("tick_interval = \"2s\"")) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("handshake"), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_EQ(Str(r, "/challenge/event"), "connect.challenge");
  EXPECT_FALSE(Str(r, "/challenge/payload/nonce").empty());
  EXPECT_EQ(r["challenge"].size(), 3u) << "no keys beyond type, event, payload";
  ASSERT_TRUE(r["res"]["ok"].get<bool>()) << raw;
  EXPECT_EQ(r["res"].size(), 4u) << "res has exactly type, id, ok, payload";
  EXPECT_EQ(Str(r, "/res/payload/type"), "hello-ok");
  EXPECT_EQ(r["res"]["payload"]["protocol"], 3);
  EXPECT_EQ(r["res"]["payload"]["policy"]["tickIntervalMs"], 2000);
  EXPECT_EQ(r["res"]["payload"]["policy"]["maxPayload"], 524288);
  const Json& methods = r["res"]["payload"]["features"]["methods"];
  for (const char* m :
       {"agent", "agent.wait", "health", "status", "sessions.list", "workers.list", "turns.get"}) {
    EXPECT_NE(std::find(methods.begin(), methods.end(), m), methods.end()) << m;
  }
  EXPECT_FALSE(r["res"]["payload"].contains("auth")) << "a stored deviceToken would be wrong";
  // The supervisor's status shows the channel and the address it bound.
  Json channels = Json::parse(common::ToJson(Status(home_)))["channels"];
  ASSERT_EQ(channels.size(), 1u) << channels.dump();
  EXPECT_EQ(channels[0]["kind"], "http");
  EXPECT_EQ(channels[0]["ok"], true);
  EXPECT_EQ(channels[0]["listen"], gw_.addr());
  EXPECT_EQ(channels[0].dump().find(kGatewayToken), std::string::npos) << "no secret in status";
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, ConnectSentBeforeTheChallengeIsAnsweredToo) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("fast-connect"), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  ASSERT_FALSE(r["frames"].empty());
  const Json& last = r["frames"].back();
  EXPECT_TRUE(last["ok"].get<bool>()) << raw;
  EXPECT_EQ(Str(last, "/payload/type"), "hello-ok");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, ClientThatNeverSendsConnectIsClosedAfterTheHandshakeTimeout) {
  ASSERT_TRUE(StartGateway("handshake_timeout = \"300ms\"")) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("silent"), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_EQ(r["close_code"], 1008) << raw;
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, WrongTokenIsRefusedWithCloseCode1008) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("handshake", {}, "not-the-token"), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_FALSE(r["res"]["ok"].get<bool>());
  EXPECT_EQ(Str(r, "/res/error/code"), "INVALID_REQUEST");
  EXPECT_EQ(Str(r, "/res/error/message"), "unauthorized: gateway token mismatch");
  EXPECT_EQ(r["close_code"], 1008) << raw;
  EXPECT_EQ(gw_.Log().find(kGatewayToken), std::string::npos) << "the token is never logged";
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, ProtocolRangeWithout3IsRefusedWithCloseCode1002) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("handshake", {"4", "5"}), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_FALSE(r["res"]["ok"].get<bool>());
  EXPECT_EQ(Str(r, "/res/error/message"), "protocol mismatch");
  EXPECT_EQ(r["close_code"], 1002) << raw;
  // A range that includes 3 is fine.
  Json ok = WsClient(Args("handshake", {"2", "4"}), &raw);
  EXPECT_TRUE(ok["res"]["ok"].get<bool>()) << raw;
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, DeviceTokenFromTheOldGatewaysPairedFileIsAccepted) {
  home_.Write("paired.json",
              R"({"dev-1": {"tokens": {"operator": {"token": "device-secret-1"}}},
                  "dev-2": {"tokens": {}}})");
  ASSERT_TRUE(StartGateway("paired_devices_file = \"paired.json\"")) << gw_.Log();
  std::string raw;
  Json ok = WsClient(Args("handshake", {"3", "3", "dev-1"}, "device-secret-1"), &raw);
  ASSERT_TRUE(ok.is_object()) << raw;
  EXPECT_TRUE(ok["res"]["ok"].get<bool>()) << raw;
  // The device token of one device does not open the door for another.
  Json other = WsClient(Args("handshake", {"3", "3", "dev-2"}, "device-secret-1"), &raw);
  EXPECT_FALSE(other["res"]["ok"].get<bool>()) << raw;
  EXPECT_EQ(other["close_code"], 1008) << raw;
  // The shared token still works.
  Json shared = WsClient(Args("handshake"), &raw);
  EXPECT_TRUE(shared["res"]["ok"].get<bool>()) << raw;
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, AgentAnswersAcceptedThenTheFinalResultWithLifecycleEvents) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("call", {"agent", R"({"message":"hello gw","agentId":"main",
      "sessionKey":"agent:main:main","deliver":false,"channel":"whatsapp","timeout":600,
      "idempotencyKey":"key-two-phase"})"}),
                    &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  ASSERT_TRUE(r["accepted"].is_object()) << raw;
  EXPECT_EQ(Str(r, "/accepted/payload/runId"), "key-two-phase");
  EXPECT_TRUE(r["accepted"]["payload"]["acceptedAt"].is_number());
  ASSERT_TRUE(r["res"]["ok"].get<bool>()) << raw;
  EXPECT_EQ(r["res"].size(), 4u);
  EXPECT_EQ(Str(r, "/res/payload/status"), "ok");
  EXPECT_EQ(Str(r, "/res/payload/runId"), "key-two-phase");
  EXPECT_EQ(Str(r, "/res/payload/result/payloads/0/text"), "reply:hello gw");
  ASSERT_GE(r["events"].size(), 2u) << raw;
  EXPECT_EQ(Str(r["events"].front(), "/payload/stream"), "lifecycle");
  EXPECT_EQ(Str(r["events"].front(), "/payload/data/phase"), "start");
  EXPECT_EQ(Str(r["events"].back(), "/payload/data/phase"), "end");
  EXPECT_EQ(Str(r["events"].back(), "/payload/sessionKey"), "agent:main:main");
  EXPECT_EQ(Counter(Status(home_), "turns_replied"), 1);
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, FailedTurnIsOkFalseWithTheReason) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("call", {"agent", R"({"message":"fail now","agentId":"main"})"}), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_TRUE(r["accepted"].is_object()) << raw;
  EXPECT_FALSE(r["res"]["ok"].get<bool>()) << raw;
  EXPECT_NE(Str(r, "/res/error/message").find("failed"), std::string::npos) << raw;
  Json unknown = WsClient(Args("call", {"agent", R"({"message":"x","agentId":"ghost"})"}), &raw);
  EXPECT_FALSE(unknown["res"]["ok"].get<bool>()) << raw;
  EXPECT_NE(Str(unknown, "/res/error/message").find("unknown agent"), std::string::npos) << raw;
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, TicksKeepTheConnectionOpenThroughATurnLongerThanTwoTickIntervals) {
  ASSERT_TRUE(StartGateway("tick_interval = \"200ms\"")) << gw_.Log();
  const std::string ticks_file = home_.path() + "/ticks-seen";
  auto f = WsClientAsync(Args("call", {"agent", R"({"message":"gate long","agentId":"main",
      "idempotencyKey":"long-1"})",
                                       ticks_file, "5"}));
  // The turn is held by the gate until the client has heard five ticks (> 2 x 200ms).
  ASSERT_TRUE(WaitFor([&] { return ::access(ticks_file.c_str(), F_OK) == 0; })) << gw_.Log();
  home_.OpenGate();
  Json r = f.get();
  ASSERT_TRUE(r.is_object());
  EXPECT_GE(r["ticks"].get<int>(), 5);
  EXPECT_TRUE(r["res"]["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(Str(r, "/res/payload/result/payloads/0/text"), "reply:gate long");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, StreamingRunnerOutputArrivesAsAssistantEventsBeforeTheEnd) {
  // The agent prints its first part, then waits for the gate before the second.
  home_.Write("stream.sh",
              "#!/bin/sh\nprintf 'first part '\nflock -s \"$LANEWAY_HOME/gate.lock\" true\n"
              "printf 'second part'\n",
              0755);
  ASSERT_TRUE(gw_.Start("[agents.main]\nrunner = \"exec\"\ncommand = [\"" + home_.path() +
                        "/stream.sh\"]\n[channels.http]\n"))
      << gw_.Log();
  const std::string seen = home_.path() + "/assistant-seen";
  auto f = WsClientAsync(
      Args("call", {"agent", R"({"message":"go","agentId":"main"})", seen, "assistant"}));
  // The first part reaches the client while the turn is still running.
  ASSERT_TRUE(WaitFor([&] { return ::access(seen.c_str(), F_OK) == 0; })) << gw_.Log();
  home_.OpenGate();
  Json r = f.get();
  ASSERT_TRUE(r.is_object());
  ASSERT_TRUE(r["res"]["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(Str(r, "/res/payload/result/payloads/0/text"), "first part second part");
  std::string last_text, deltas;
  for (const Json& e : r["events"]) {
    if (Str(e, "/payload/stream") != "assistant") continue;
    deltas += Str(e, "/payload/data/delta");
    last_text = Str(e, "/payload/data/text");
  }
  EXPECT_EQ(deltas, "first part second part") << r.dump();
  EXPECT_EQ(last_text, "first part second part");
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, RetryWithTheSameIdempotencyKeyAttachesToTheSameTurn) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  const std::string params =
      R"({"message":"gate once","agentId":"main","idempotencyKey":"retry-key-1"})";
  auto first = WsClientAsync(Args("call", {"agent", params}));
  ASSERT_TRUE(WaitForWorker(home_, "agent:main:main", "busy")) << gw_.Log();
  auto second = WsClientAsync(Args("call", {"agent", params}));
  ASSERT_TRUE(WaitFor([&] { return Counter(Status(home_), "turns_accepted") >= 1; }));
  home_.OpenGate();
  Json a = first.get(), b = second.get();
  ASSERT_TRUE(a.is_object() && b.is_object());
  EXPECT_TRUE(a["res"]["ok"].get<bool>()) << a.dump();
  EXPECT_TRUE(b["res"]["ok"].get<bool>()) << b.dump();
  EXPECT_EQ(Str(a, "/res/payload/result/payloads/0/text"), "reply:gate once");
  EXPECT_EQ(Str(b, "/res/payload/result/payloads/0/text"), "reply:gate once");
  EXPECT_EQ(Str(b, "/res/payload/runId"), "retry-key-1");
  EXPECT_EQ(Counter(Status(home_), "turns_accepted"), 1) << "one run only";
  // A retry after the turn ended gets the same outcome, still without a new run.
  Json c = WsClient(Args("call", {"agent", params}));
  EXPECT_EQ(Str(c, "/res/payload/result/payloads/0/text"), "reply:gate once") << c.dump();
  EXPECT_EQ(Counter(Status(home_), "turns_accepted"), 1);
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, AgentWaitAndRetryFindATurnAcceptedBeforeASupervisorRestart) {
  const std::string config = GatewayConfig(home_);
  ASSERT_TRUE(gw_.Start(config)) << gw_.Log();
  const std::string params =
      R"({"message":"before restart","agentId":"main","idempotencyKey":"restart-key"})";
  Json first = WsClient(Args("call", {"agent", params}));
  ASSERT_TRUE(first["res"]["ok"].get<bool>()) << first.dump();
  gw_.supervisor().Signal(SIGKILL);
  gw_.supervisor().WaitExit();
  GatewayServer again(home_);
  ASSERT_TRUE(again.Start(config)) << again.Log();
  std::vector<std::string> wait = {"call", again.ws_url(), kGatewayToken, "agent.wait",
                                   R"({"runId":"restart-key","timeoutMs":10000})"};
  Json w = WsClient(wait);
  EXPECT_TRUE(w["res"]["ok"].get<bool>()) << w.dump();
  EXPECT_EQ(Str(w, "/res/payload/status"), "ok") << w.dump();
  EXPECT_EQ(Str(w, "/res/payload/result/payloads/0/text"), "reply:before restart") << w.dump();
  Json retry = WsClient({"call", again.ws_url(), kGatewayToken, "agent", params});
  EXPECT_TRUE(retry["res"]["ok"].get<bool>()) << retry.dump();
  EXPECT_EQ(Str(retry, "/res/payload/result/payloads/0/text"), "reply:before restart");
  EXPECT_EQ(Counter(Status(home_), "turns_accepted"), 0) << "the retry ran nothing";
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, ClientLeavingMidTurnDoesNotCancelItAndAgentWaitGetsTheOutcome) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json acc =
      WsClient(Args("accept-then-leave",
                    {R"({"message":"gate left","agentId":"main","idempotencyKey":"left-1"})"}),
               &raw);
  ASSERT_TRUE(acc.is_object()) << raw;
  EXPECT_EQ(Str(acc, "/accepted/payload/status"), "accepted") << raw;
  ASSERT_TRUE(WaitForWorker(home_, "agent:main:main", "busy"));
  auto waiter =
      WsClientAsync(Args("call", {"agent.wait", R"({"runId":"left-1","timeoutMs":60000})"}));
  home_.OpenGate();
  Json w = waiter.get();
  ASSERT_TRUE(w.is_object());
  EXPECT_TRUE(w["res"]["ok"].get<bool>()) << w.dump();
  EXPECT_EQ(Str(w, "/res/payload/status"), "ok") << w.dump();
  EXPECT_EQ(Str(w, "/res/payload/result/payloads/0/text"), "reply:gate left") << w.dump();
  EXPECT_EQ(Counter(Status(home_), "turns_replied"), 1);
  EXPECT_EQ(Counter(Status(home_), "turns_cancelled"), 0);
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, AgentWaitTimesOutWithStatusTimeoutWhileTheTurnRuns) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  auto runner = WsClientAsync(Args(
      "call", {"agent", R"({"message":"gate slow","agentId":"main","idempotencyKey":"slow-1"})"}));
  ASSERT_TRUE(WaitForWorker(home_, "agent:main:main", "busy"));
  Json w = WsClient(Args("call", {"agent.wait", R"({"runId":"slow-1","timeoutMs":300})"}));
  EXPECT_TRUE(w["res"]["ok"].get<bool>()) << w.dump();
  EXPECT_EQ(Str(w, "/res/payload/status"), "timeout") << w.dump();
  home_.OpenGate();
  EXPECT_TRUE(runner.get()["res"]["ok"].get<bool>());
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, TwoHundredConcurrentConnectionsOnOneHundredSessionsAreAllAnswered) {
  ASSERT_TRUE(
      gw_.Start("[supervisor]\nmax_workers = 128\n[agents.main]\nrunner = \"echo\"\n"
                "[channels.http]\n"))
      << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("concurrent", {"200", "100"}), &raw, std::chrono::seconds(110));
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_EQ(r["ok"], 200) << raw;
  EXPECT_EQ(r["failed"], 0) << raw;
  EXPECT_EQ(Counter(Status(home_), "turns_replied"), 200);
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, ClientThatNeverReadsIsCutAndOthersAreStillServed) {
  ASSERT_TRUE(StartGateway("max_buffered_bytes = 65536")) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("noread", {"5000"}), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_TRUE(r["cut"].get<bool>()) << raw;
  Json h = WsCall(gw_, "health");
  EXPECT_TRUE(h["res"]["ok"].get<bool>()) << h.dump();
  EXPECT_NE(gw_.Log().find("http_slow_client_cut"), std::string::npos);
  Json channels = Json::parse(common::ToJson(Status(home_)))["channels"];
  ASSERT_EQ(channels.size(), 1u) << channels.dump();
  EXPECT_GE(channels[0]["slow_clients_cut"].get<int>(), 1) << channels.dump();
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, MalformedFramesAndUnknownMethodsAreAnsweredOkFalse) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  std::string raw;
  Json bad = WsClient(Args("raw", {"{not json"}), &raw);
  ASSERT_TRUE(bad.is_object()) << raw;
  EXPECT_FALSE(bad["res"]["ok"].get<bool>());
  EXPECT_NE(Str(bad, "/res/error/message").find("malformed frame"), std::string::npos) << raw;
  Json no_method = WsClient(Args("raw", {R"({"type":"req","id":"m1","params":{}})"}), &raw);
  EXPECT_EQ(Str(no_method, "/res/id"), "m1") << raw;
  EXPECT_FALSE(no_method["res"]["ok"].get<bool>());
  Json unknown = WsCall(gw_, "no.such.method");
  EXPECT_FALSE(unknown["res"]["ok"].get<bool>());
  EXPECT_EQ(Str(unknown, "/res/error/code"), "INVALID_REQUEST");
  EXPECT_NE(Str(unknown, "/res/error/message").find("no.such.method"), std::string::npos);
  Json no_message = WsCall(gw_, "agent", R"({"agentId":"main"})");
  EXPECT_FALSE(no_message["res"]["ok"].get<bool>());
  // The connection survived all of it: a request before connect is refused and closed.
  Json early = WsClient(Args("before-connect"), &raw);
  EXPECT_FALSE(early["res"]["ok"].get<bool>()) << raw;
  EXPECT_EQ(early["close_code"], 1008) << raw;
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, FrameOverMaxPayloadClosesWith1009) {
  ASSERT_TRUE(StartGateway("max_payload = 65536")) << gw_.Log();
  std::string raw;
  Json r = WsClient(Args("big", {"100000"}), &raw);
  ASSERT_TRUE(r.is_object()) << raw;
  EXPECT_EQ(r["close_code"], 1009) << raw;
  Json h = WsCall(gw_, "health");
  EXPECT_TRUE(h["res"]["ok"].get<bool>());
  ExpectEveryTurnSettled(home_);
}

TEST_F(GatewayWsTest, OperatorMethodsMapOntoTheCoresMethodTable) {
  ASSERT_TRUE(StartGateway()) << gw_.Log();
  Json turn =
      WsCall(gw_, "agent", R"({"message":"hi ops","agentId":"main","idempotencyKey":"ops-1"})");
  ASSERT_TRUE(turn["res"]["ok"].get<bool>()) << turn.dump();
  Json health = WsCall(gw_, "health");
  ASSERT_TRUE(health["res"]["ok"].get<bool>()) << health.dump();
  EXPECT_EQ(Str(health, "/res/payload/defaultAgentId"), "main");
  EXPECT_EQ(health["res"]["payload"]["sessions"]["count"], 1);
  EXPECT_EQ(Str(health, "/res/payload/sessions/recent/0/key"), "agent:main:main");
  Json status = WsCall(gw_, "status");
  ASSERT_TRUE(status["res"]["ok"].get<bool>());
  EXPECT_EQ(status["res"]["payload"]["sessions"]["count"], 1);
  EXPECT_TRUE(status["res"]["payload"]["heartbeat"].is_object());
  Json list = WsCall(gw_, "sessions.list");
  ASSERT_TRUE(list["res"]["ok"].get<bool>());
  EXPECT_EQ(Str(list, "/res/payload/sessions/0/key"), "agent:main:main");
  Json workers = WsCall(gw_, "workers.list");
  ASSERT_TRUE(workers["res"]["ok"].get<bool>());
  ASSERT_EQ(workers["res"]["payload"]["workers"].size(), 1u);
  const pid_t pid = workers["res"]["payload"]["workers"][0]["pid"].get<int>();
  Json kill = WsCall(gw_, "workers.kill", R"({"session":"agent:main:main"})");
  EXPECT_TRUE(kill["res"]["ok"].get<bool>()) << kill.dump();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(pid); }));
  Json bad_kill = WsCall(gw_, "workers.kill", R"({"session":"agent:main:nobody"})");
  EXPECT_FALSE(bad_kill["res"]["ok"].get<bool>());
  Json not_running = WsCall(gw_, "turns.cancel", R"({"session":"agent:main:main"})");
  EXPECT_FALSE(not_running["res"]["ok"].get<bool>());
  Json got = WsCall(gw_, "turns.get", R"({"runId":"ops-1"})");
  EXPECT_TRUE(got["res"]["ok"].get<bool>()) << got.dump();
  EXPECT_EQ(Str(got, "/res/payload/reply"), "reply:hi ops") << got.dump();
  ExpectEveryTurnSettled(home_);
}

}  // namespace
}  // namespace laneway::testing
