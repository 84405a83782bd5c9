// The core's front-door contract with real binaries (docs/protocol.md, "Front
// doors, origins, idempotency, streaming"): progress streamed while a turn runs,
// idempotency keys that attach retries (also across a supervisor crash), origins
// journaled with the turn, and channel delivery confirmed exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>

#include "cli/client.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

constexpr auto kWait = std::chrono::seconds(30);

// Prints a line, waits for the gate, prints another: a turn whose first output
// exists while it is still running.
constexpr const char* kStreamingAgent = R"(#!/bin/sh
msg=$(cat)
printf 'first:%s\n' "$msg"
flock -s "$LANEWAY_HOME/gate.lock" true
printf 'second:%s\n' "$msg"
)";

std::string StreamingConfig(const TempHome& home) {
  home.Write("stream.sh", kStreamingAgent, 0755);
  return "[supervisor]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"5s\"\n"
         "[agents.main]\nrunner = \"exec\"\ncommand = [\"" +
         home.path() + "/stream.sh\"]\nkill_grace = \"300ms\"\n";
}

std::unique_ptr<cli::Client> Connect(const TempHome& home) {
  auto c = cli::Client::Connect(home.paths());
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : nullptr;
}

// The next message answering request `req`, skipping others; null on timeout.
Value NextFor(cli::Client& c, int64_t req, std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = c.Receive(std::chrono::milliseconds(200));
    if (!m.ok()) continue;
    if (m->GetIntOr("id", -1).value() == req) return std::move(m).value();
  }
  return Value();
}

Value Submit(const std::string& message, const std::string& key = "", bool stream = false,
             bool wait = true) {
  Value r = common::NewMessage(common::msg::kSubmit);
  r.Set("agent", "main");
  r.Set("message", message);
  r.Set("wait", wait);
  if (stream) r.Set("stream", true);
  if (!key.empty()) r.Set("idempotency_key", key);
  return r;
}

TEST(FrontDoorTest, ProgressArrivesWhileTheTurnRunsAndBeforeItsOutcome) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(StreamingConfig(home))) << sup.Log();
  auto c = Connect(home);
  ASSERT_TRUE(c);
  auto req = c->Send(Submit("hi", "", /*stream=*/true));
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(common::MessageType(NextFor(*c, *req)), "accepted");
  // The gate is closed: the agent cannot finish, yet its first line arrives.
  Value p1 = NextFor(*c, *req);
  ASSERT_TRUE(p1.is_map()) << sup.Log();
  EXPECT_EQ(common::MessageType(p1), "progress");
  EXPECT_EQ(StrField(p1, "delta"), "first:hi\n");
  EXPECT_EQ(IntField(p1, "seq"), 1);
  EXPECT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  home.OpenGate();
  std::string streamed = StrField(p1, "delta");
  Value m;
  for (;;) {
    m = NextFor(*c, *req);
    ASSERT_TRUE(m.is_map());
    if (common::MessageType(m) != "progress") break;
    streamed += StrField(m, "delta");
  }
  EXPECT_EQ(common::MessageType(m), "outcome");
  EXPECT_EQ(StrField(m, "status"), "replied");
  EXPECT_EQ(StrField(m, "reply"), "first:hi\nsecond:hi\n");
  EXPECT_EQ(streamed, StrField(m, "reply"));  // nothing lost, nothing twice, in order
  ExpectEveryTurnSettled(home);
}

TEST(FrontDoorTest, CliStreamPrintsTheExecAgentsOutputAsItComes) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(StreamingConfig(home))) << sup.Log();
  home.OpenGate();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--stream"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "first:x\nsecond:x\n");  // printed once, not again at the end
}

TEST(FrontDoorTest, ARetryWithTheSameIdempotencyKeyAttachesAndStartsNoSecondRun) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  auto c = Connect(home);
  ASSERT_TRUE(c);
  auto first = c->Send(Submit("gate one", "key-1"));
  ASSERT_TRUE(first.ok());
  Value a1 = NextFor(*c, *first);
  ASSERT_EQ(common::MessageType(a1), "accepted");
  EXPECT_EQ(a1.Find("attached"), nullptr);
  auto second = c->Send(Submit("gate one", "key-1"));
  ASSERT_TRUE(second.ok());
  Value a2 = NextFor(*c, *second);
  ASSERT_EQ(common::MessageType(a2), "accepted");
  EXPECT_EQ(IntField(a2, "turn_id"), IntField(a1, "turn_id"));
  EXPECT_TRUE(a2.GetBoolOr("attached", false).value());
  home.OpenGate();
  Value o1 = NextFor(*c, *first);
  Value o2 = NextFor(*c, *second);
  EXPECT_EQ(StrField(o1, "reply"), "reply:gate one");
  EXPECT_EQ(StrField(o2, "reply"), "reply:gate one");
  Value status = Status(home);
  EXPECT_EQ(Counter(status, "turns_accepted"), 1);
  EXPECT_EQ(Counter(status, "turns_replied"), 1);
  ExpectEveryTurnSettled(home);
}

TEST(FrontDoorTest, IdempotencyKeyAndOriginSurviveASupervisorCrash) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(ExecConfig(home))) << sup->Log();
  home.OpenGate();
  int64_t turn = 0;
  {
    auto c = Connect(home);
    ASSERT_TRUE(c);
    Value r = Submit("hello", "retry-after-crash");
    Value origin = Value::MakeMap();
    origin.Set("kind", "ws");
    origin.Set("conn", "c-17");
    r.Set("origin", origin);
    auto req = c->Send(std::move(r));
    ASSERT_TRUE(req.ok());
    Value a = NextFor(*c, *req);
    turn = IntField(a, "turn_id");
    EXPECT_EQ(StrField(NextFor(*c, *req), "reply"), "reply:hello");
  }
  sup->Signal(SIGKILL);
  sup->WaitExit();
  sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start()) << sup->Log();
  auto c = Connect(home);
  ASSERT_TRUE(c);
  auto req = c->Send(Submit("hello", "retry-after-crash"));
  ASSERT_TRUE(req.ok());
  Value a = NextFor(*c, *req);
  EXPECT_EQ(IntField(a, "turn_id"), turn);
  EXPECT_TRUE(a.GetBoolOr("attached", false).value());
  EXPECT_EQ(StrField(NextFor(*c, *req), "reply"), "reply:hello");
  Value query = Value::MakeMap();
  query.Set("idempotency_key", "retry-after-crash");
  Value view = Call(home, "turn", query);
  EXPECT_EQ(IntField(view, "turn_id"), turn);
  const Value* origin = view.Find("origin");
  ASSERT_TRUE(origin && origin->is_map()) << common::ToJson(view);
  EXPECT_EQ(StrField(*origin, "kind"), "ws");
  EXPECT_EQ(StrField(*origin, "conn"), "c-17");
  // The new supervisor ran nothing: the retry attached to the journaled outcome.
  Value status = Status(home);
  EXPECT_EQ(Counter(status, "turns_accepted"), 0);
  EXPECT_EQ(Counter(status, "worker_spawns"), 0);
}

TEST(FrontDoorTest, AChannelOutcomeIsOfferedAfterARestartUntilItIsConfirmedOnce) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(ExecConfig(home))) << sup->Log();
  home.OpenGate();
  int64_t turn = 0;
  {
    auto c = Connect(home);
    ASSERT_TRUE(c);
    Value r = Submit("to chat", "", false, /*wait=*/false);
    Value origin = Value::MakeMap();
    origin.Set("kind", "channel");
    origin.Set("channel", "testchat");
    origin.Set("chat_id", "42");
    r.Set("origin", origin);
    auto req = c->Send(std::move(r));
    ASSERT_TRUE(req.ok());
    turn = IntField(NextFor(*c, *req), "turn_id");
    ASSERT_GT(turn, 0);
    ASSERT_TRUE(WaitFor([&] { return Counter(Status(home), "turns_replied") == 1; }));
  }
  // Nobody subscribed before the crash: the outcome is owed to the channel.
  sup->Signal(SIGKILL);
  sup->WaitExit();
  sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start()) << sup->Log();
  {
    auto c = Connect(home);
    ASSERT_TRUE(c);
    Value sub = common::NewMessage(common::msg::kSubscribe);
    sub.Set("channel", "testchat");
    auto req = c->Send(std::move(sub));
    ASSERT_TRUE(req.ok());
    Value r = NextFor(*c, *req);
    ASSERT_EQ(common::MessageType(r), "result");
    EXPECT_EQ(IntField(*r.Find("data"), "pending"), 1);
    Value offered = NextFor(*c, 0);
    ASSERT_EQ(common::MessageType(offered), "outcome");
    EXPECT_EQ(IntField(offered, "turn_id"), turn);
    EXPECT_EQ(StrField(offered, "reply"), "reply:to chat");
    EXPECT_TRUE(offered.GetBoolOr("delivery", false).value());
    EXPECT_EQ(StrField(*offered.Find("origin"), "chat_id"), "42");
    Value done = common::NewMessage(common::msg::kDelivered);
    done.Set("turn_id", turn);
    auto dreq = c->Send(std::move(done));
    ASSERT_TRUE(dreq.ok());
    EXPECT_EQ(common::MessageType(NextFor(*c, *dreq)), "result");
  }
  sup->Signal(SIGKILL);
  sup->WaitExit();
  sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start()) << sup->Log();
  auto c = Connect(home);
  ASSERT_TRUE(c);
  Value sub = common::NewMessage(common::msg::kSubscribe);
  sub.Set("channel", "testchat");
  auto req = c->Send(std::move(sub));
  ASSERT_TRUE(req.ok());
  Value r = NextFor(*c, *req);
  EXPECT_EQ(IntField(*r.Find("data"), "pending"), 0);  // confirmed: never offered again
  EXPECT_TRUE(NextFor(*c, 0, std::chrono::milliseconds(300)).is_null());
}

TEST(FrontDoorTest, BadOriginsAndKeysAreRefusedWithTheirReason) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  auto c = Connect(home);
  ASSERT_TRUE(c);
  Value bad_kind = Submit("x");
  Value origin = Value::MakeMap();
  origin.Set("kind", "carrier-pigeon");
  bad_kind.Set("origin", origin);
  auto req = c->Send(std::move(bad_kind));
  ASSERT_TRUE(req.ok());
  Value r = NextFor(*c, *req);
  EXPECT_EQ(StrField(r, "status"), "rejected");
  EXPECT_NE(StrField(r, "error").find("unknown kind 'carrier-pigeon'"), std::string::npos);
  auto req2 = c->Send(Submit("x", std::string(300, 'k')));
  ASSERT_TRUE(req2.ok());
  Value r2 = NextFor(*c, *req2);
  EXPECT_EQ(StrField(r2, "status"), "rejected");
  EXPECT_NE(StrField(r2, "error").find("idempotency_key"), std::string::npos);
  Value no_channel = Submit("x");
  Value o2 = Value::MakeMap();
  o2.Set("kind", "channel");
  no_channel.Set("origin", o2);
  auto req3 = c->Send(std::move(no_channel));
  ASSERT_TRUE(req3.ok());
  EXPECT_EQ(StrField(NextFor(*c, *req3), "status"), "rejected");
  EXPECT_EQ(Counter(Status(home), "turns_accepted"), 0);
}

}  // namespace
}  // namespace laneway::testing
