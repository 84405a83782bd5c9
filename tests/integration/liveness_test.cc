// Liveness and launches with real binaries (issue 9): a turn submitted right after
// an idle worker was SIGKILLed runs on the next worker instead of failing; spare
// workers are started ahead and bound on a session's first turn; idle workers
// send nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "cli/client.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

const char* kMain = "agent:main:main";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Submits `message` to session main and waits for its outcome.
Value SubmitAndWait(cli::Client& c, const std::string& message) {
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("agent", "main");
  m.Set("session", "main");
  m.Set("message", message);
  auto id = c.Send(m);
  if (!id.ok()) return Value();
  for (;;) {
    auto r = c.Receive(std::chrono::seconds(30));
    if (!r.ok()) return Value();
    if (common::MessageType(*r) == common::msg::kOutcome && cli::Client::Answers(*r, *id)) return *r;
  }
}

TEST(LivenessTest, TurnsSubmittedRightAfterTheIdleWorkerIsKilledAllRun) {
  // Regression: 12 of 30 such turns failed "died during turn" without having run.
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "restart_limit = 100\nrestart_backoff = \"1ms\"")))
      << sup.Log();
  auto client = cli::Client::Connect(home.paths());
  ASSERT_TRUE(client.ok()) << client.status().message();
  ASSERT_EQ(SubmitAndWait(**client, "warm").GetStringOr("status", "").value(), "replied");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(WaitForWorker(home, kMain, "idle"));
    const pid_t pid = static_cast<pid_t>(IntField(WorkerOf(home, kMain), "pid"));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    // At once, before the supervisor can have reaped it (a connected client).
    Value out = SubmitAndWait(**client, "after-kill-" + std::to_string(i));
    EXPECT_EQ(out.GetStringOr("status", "").value(), "replied")
        << i << ": " << out.GetStringOr("error", "").value();
  }
  ExpectEveryTurnSettled(home);
  EXPECT_EQ(Counter(Status(home), "turns_failed"), 0);
}

TEST(LivenessTest, SpareWorkersAreStartedAheadAndBoundOnAFirstTurn) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "spare_workers = 2"))) << sup.Log();
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "spare") == 2; }))
      << common::ToJson(Status(home));
  EXPECT_EQ(Counter(Status(home), "worker_spawns"), 2);
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "hi"});
  EXPECT_EQ(r.code, 0) << r.err;
  // The first turn took a spare (no spawn of its own); a new spare replaced it.
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "spare") == 2; }));
  EXPECT_EQ(Counter(Status(home), "worker_spawns"), 3);
  EXPECT_EQ(StrField(WorkerOf(home, kMain), "state"), "idle");
  ExpectEveryTurnSettled(home);
}

TEST(LivenessTest, AnIdleWorkerOwesTheSupervisorNoTrafficAndAStoppedOneLosesNoTurn) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "heartbeat_interval = \"50ms\"\nheartbeat_timeout = \"1s\"")))
      << sup.Log();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "hi"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(WaitForWorker(home, kMain, "idle"));
  const int64_t pid = IntField(WorkerOf(home, kMain), "pid");
  // Frozen, it can send nothing: before, silence while idle killed it after 1 s.
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  // Wait well past heartbeat_timeout, by the supervisor's own uptime clock.
  const int64_t t0 = IntField(Status(home), "uptime_ms");
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "uptime_ms") > t0 + 2500; },
                      std::chrono::seconds(20)));
  const Value w = WorkerOf(home, kMain);
  EXPECT_EQ(IntField(w, "pid"), pid) << "an idle worker must not be killed as silent";
  EXPECT_EQ(StrField(w, "state"), "idle");
  EXPECT_EQ(Counter(Status(home), "worker_kills"), 0);
  // A turn sent to it now is never acknowledged: after heartbeat_timeout the worker
  // is killed and the turn runs on a new one, once.
  CliResult next = RunCli(home, {"agent", "--agent", "main", "--message", "after"});
  EXPECT_EQ(next.code, 0) << next.err;
  EXPECT_NE(IntField(WorkerOf(home, kMain), "pid"), pid);
  EXPECT_TRUE(Contains(sup.Log(), "reason=unresponsive")) << sup.Log();
  ExpectEveryTurnSettled(home);
  EXPECT_EQ(Counter(Status(home), "turns_failed"), 0);
}

}  // namespace
}  // namespace laneway::testing
