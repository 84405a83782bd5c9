// The core's time-based behaviour with a fake clock, a fake launcher and a
// recording transport: a ten-minute run_timeout, restart back-off and parking,
// drain, idle expiry and a failed journal sync, each in microseconds of real time.
// No process is started; the "workers" are this test speaking the worker protocol.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "supervisor/core.h"
#include "supervisor/session_table.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"
#include "tests/unit/supervisor/core_harness.h"
#include "tests/unit/supervisor/fake_core_io.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using common::Value;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

using core_test::CoreHarness;
using core_test::kCli;
using fakes::kFirstFakePid;
using Sent = fakes::RecordingTransport::Sent;

constexpr const char* kTenMinutes = R"(
[agents.main]
runner = "exec"
command = ["/bin/true"]
run_timeout = "10m"
kill_grace = "5s"
)";

TEST(CoreLogicTest, TenMinuteRunTimeoutEndsTheTurnTimedOutAndTheNextTurnGetsAFreshWorker) {
  CoreHarness h(kTenMinutes);
  const int64_t first = h.Submit("think");
  const int64_t second = h.Submit("next");
  ASSERT_EQ(h.spawner_.specs.size(), 1u);
  h.Hello(1);
  // The agent's settings go first, then the run.
  ASSERT_EQ(h.SentOf(Door::kWorkers, "configure").size(), 1u);
  ASSERT_EQ(h.SentOf(Door::kWorkers, "run").size(), 1u);
  h.Advance(minutes(10) - seconds(1), /*beating_worker=*/1);
  EXPECT_TRUE(h.OutcomeFor(first).is_null()) << "killed before its run_timeout";
  h.Advance(seconds(1), 1);
  Value out = h.OutcomeFor(first);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "timed_out");
  EXPECT_NE(out.GetStringOr("error", "").value().find("after 600000ms (run_timeout)"),
            std::string::npos);
  h.Advance(seconds(5));  // kill_grace: SIGKILL of the group
  h.Exit(1, 9);
  ASSERT_EQ(h.spawner_.specs.size(), 2u) << "the queued turn needs a new worker";
  h.Hello(2);
  h.Done(2, h.TurnOf(second), "answer");
  EXPECT_EQ(h.OutcomeFor(second).GetStringOr("reply", "").value(), "answer");
  EXPECT_EQ(h.CounterValue("turns_timed_out"), 1);
  EXPECT_EQ(h.CounterValue("turns_replied"), 1);
}

constexpr const char* kCrashy = R"(
[supervisor]
restart_limit = 3
restart_window = "30s"
restart_backoff = "100ms"
restart_backoff_max = "5s"
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, RestartsBackOffAndTheSessionParksAfterRestartLimitDeaths) {
  CoreHarness h(kCrashy);
  const int64_t req = h.Submit("x");
  ASSERT_EQ(h.spawner_.specs.size(), 1u);
  h.Exit(1, 1 << 8);  // died before hello: a fault
  // The first death in the window restarts at once.
  ASSERT_EQ(h.spawner_.specs.size(), 2u);
  h.Exit(2, 1 << 8);
  h.Advance(milliseconds(99), 0, milliseconds(99));
  EXPECT_EQ(h.spawner_.specs.size(), 2u) << "restarted before its back-off";
  h.Advance(milliseconds(1), 0, milliseconds(1));
  ASSERT_EQ(h.spawner_.specs.size(), 3u);
  h.Exit(3, 1 << 8);  // third death within the window: parked
  h.Advance(seconds(10));
  EXPECT_EQ(h.spawner_.specs.size(), 3u) << "a parked session must not restart";
  Value out = h.OutcomeFor(req);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "rejected");
  EXPECT_NE(out.GetStringOr("error", "").value().find("parked"), std::string::npos);
  // New turns are refused at once, naming the cure.
  const int64_t later = h.Submit("y");
  EXPECT_NE(h.OutcomeFor(later).GetStringOr("error", "").value().find("laneway restart"),
            std::string::npos);
}

constexpr const char* kDrain = R"(
[supervisor]
drain_timeout = "30s"
[agents.main]
runner = "exec"
command = ["/bin/true"]
run_timeout = "1h"
)";

TEST(CoreLogicTest, ShutdownWaitsForTheBusyWorkerUntilDrainTimeout) {
  CoreHarness h(kDrain);
  const int64_t req = h.Submit("long");
  h.Hello(1);
  h.core_->OnShutdownSignal("SIGTERM");
  h.Pass();
  h.Advance(seconds(29), 1);
  EXPECT_EQ(h.CounterValue("worker_kills"), 0) << "killed before drain_timeout";
  EXPECT_FALSE(h.core_->exit_requested());
  h.Advance(seconds(1), 1);
  EXPECT_EQ(h.CounterValue("worker_kills"), 1);
  h.Exit(1, 15);
  EXPECT_TRUE(h.core_->exit_requested());
  h.core_->Finish();
  // Its turn stays in the journal, and its sender is told what will happen to it.
  Value out = h.OutcomeFor(req);
  EXPECT_EQ(out.GetStringOr("status", "").value(), "pending");
  EXPECT_NE(out.GetStringOr("error", "").value().find("will end interrupted"), std::string::npos);
}

TEST(CoreLogicTest, ASecondShutdownSignalForcesTheStopAtOnce) {
  CoreHarness h(kDrain);
  h.Submit("long");
  h.Hello(1);
  h.core_->OnShutdownSignal("SIGTERM");
  h.Pass();
  EXPECT_EQ(h.CounterValue("worker_kills"), 0);
  h.core_->OnShutdownSignal("SIGINT");
  h.Pass();
  EXPECT_EQ(h.CounterValue("worker_kills"), 1) << "the second signal must not wait 30s";
  h.Exit(1, 15);
  EXPECT_TRUE(h.core_->exit_requested());
}

constexpr const char* kIdle = R"(
[supervisor]
idle_timeout = "5m"
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, AnIdleWorkerIsAskedToStopAfterIdleTimeout) {
  CoreHarness h(kIdle);
  const int64_t req = h.Submit("x");
  h.Hello(1);
  h.Done(1, h.TurnOf(req), "ok");
  h.Advance(minutes(5) - seconds(1), 1);
  EXPECT_TRUE(h.SentOf(Door::kWorkers, "stop").empty()) << "stopped before idle_timeout";
  h.Advance(seconds(1), 1);
  EXPECT_EQ(h.SentOf(Door::kWorkers, "stop").size(), 1u);
}

TEST(CoreLogicTest, AFailedSyncRefusesItsTurnsAndTheRewrittenJournalDoesNotResurrectThem) {
  std::atomic<int> fail_syncs{1};
  CoreHarness h(kIdle, [&fail_syncs]() {
    if (fail_syncs.fetch_sub(1) > 0) return common::Status::IoError("journal sync: EIO (test)");
    return common::Status::Ok();
  });
  const int64_t refused = h.Submit("lost?");
  Value out = h.OutcomeFor(refused);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "rejected");
  EXPECT_NE(out.GetStringOr("error", "").value().find("journal cannot be written"),
            std::string::npos);
  EXPECT_EQ(h.TurnOf(refused), 0) << "never acknowledged";
  EXPECT_TRUE(h.spawner_.specs.empty()) << "a refused turn must not run";
  // The journal was rewritten from memory; acceptance resumes.
  const int64_t kept = h.Submit("kept");
  ASSERT_GT(h.TurnOf(kept), 0);
  EXPECT_EQ(h.CounterValue("journal_rewrites"), 1);
  // A new supervisor on this journal re-queues only the acknowledged turn.
  h.Reopen();
  EXPECT_EQ(h.CounterValue("recovered_turns"), 1);
}

// A journal on a disk that fills up: while `full`, every write fails as ENOSPC would
// (journal.h's write hook), and the Journal cuts the batch off the file again.
struct FullDisk {
  std::shared_ptr<std::atomic<bool>> full = std::make_shared<std::atomic<bool>>(false);
  JournalWriteHook Hook() const {
    return [f = full](size_t) {
      if (f->load()) return common::Status::Unavailable("journal write: No space left on device");
      return common::Status::Ok();
    };
  }
};

const Peer kChannel{Door::kControl, "telegram-channel"};

void FromChannel(CoreHarness& h, const Value& m) {
  std::string b = common::EncodeMessage(m);
  h.core_->OnControlMessage(kChannel, b.data(), b.size());
  h.Pass();
}

// Messages of `type` the channel was sent.
std::vector<Value> ToChannel(const CoreHarness& h, const std::string& type) {
  std::vector<Value> out;
  for (const Sent& s : h.transport_.sent) {
    if (s.to == kChannel && common::MessageType(s.msg) == type) out.push_back(s.msg);
  }
  return out;
}

TEST(CoreLogicTest, AnOutcomeTheFullJournalCannotTakeIsToldOnlyOnceItIsWrittenAndSurvivesARestart) {
  FullDisk disk;
  CoreHarness h(kIdle, nullptr, disk.Hook());
  const int64_t req = h.Submit("a");
  const int64_t turn = h.TurnOf(req);
  ASSERT_GT(turn, 0);
  h.Hello(1);
  ASSERT_EQ(h.RunsOf(1, turn), 1u);
  disk.full->store(true);
  h.Done(1, turn, "the reply");
  // The outcome record did not reach the journal: telling it now could be
  // contradicted by a restart, which would find the turn unfinished.
  EXPECT_FALSE(h.OutcomeFor(req).is_map()) << "told before the journal holds it";
  // Meanwhile a new submit is refused, naming the cause, and nothing runs for it.
  const int64_t refused = h.Submit("b");
  Value r = h.OutcomeFor(refused);
  ASSERT_TRUE(r.is_map());
  EXPECT_EQ(r.GetStringOr("status", "").value(), "rejected");
  EXPECT_NE(r.GetStringOr("error", "").value().find("No space left on device"), std::string::npos)
      << r.GetStringOr("error", "").value();
  EXPECT_EQ(h.TurnOf(refused), 0);
  // Housekeeping retries; once space is back, the rewrite holds the outcome and it
  // is told, once.
  h.Advance(seconds(3));
  EXPECT_FALSE(h.OutcomeFor(req).is_map()) << "told while the disk is still full";
  disk.full->store(false);
  h.Advance(seconds(2));
  Value out = h.OutcomeFor(req);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "replied");
  EXPECT_EQ(out.GetStringOr("reply", "").value(), "the reply");
  EXPECT_GE(h.CounterValue("journal_rewrites"), 1);
  const int64_t after = h.Submit("c");
  EXPECT_GT(h.TurnOf(after), 0) << "acceptance resumes";
  // A new supervisor on this journal finds the first turn replied, not unfinished:
  // only "c" is left to run.
  h.Reopen();
  EXPECT_EQ(h.CounterValue("recovered_unfinished"), 1);
  const Turn* t = h.core_->ledger().Find(static_cast<uint64_t>(turn));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->status, common::TurnStatus::kReplied);
  EXPECT_EQ(t->text, "the reply");
}

TEST(CoreLogicTest, ADeliveryConfirmedWhileTheJournalIsFullIsNotOfferedAgainAfterARestart) {
  FullDisk disk;
  CoreHarness h(kIdle, nullptr, disk.Hook());
  Value sub = common::NewMessage(common::msg::kSubscribe);
  sub.Set("id", 1);
  sub.Set("channel", "telegram");
  FromChannel(h, sub);
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("id", 2);
  m.Set("agent", "main");
  m.Set("session", "telegram:42");
  m.Set("message", "hi");
  m.Set("wait", false);
  Value origin = Value::MakeMap();
  origin.Set("kind", "channel");
  origin.Set("channel", "telegram");
  origin.Set("chat_id", "42");
  m.Set("origin", origin);
  FromChannel(h, m);
  std::vector<Value> acks = ToChannel(h, "accepted");
  ASSERT_EQ(acks.size(), 1u);
  const int64_t turn = acks[0].GetInt("turn_id").value();
  h.Hello(1, acks[0].GetStringOr("session", "").value());
  h.Done(1, turn, "hello back");
  ASSERT_EQ(ToChannel(h, "outcome").size(), 1u) << "offered to the channel";
  // The channel delivered it and says so while the disk is full.
  disk.full->store(true);
  Value d = common::NewMessage(common::msg::kDelivered);
  d.Set("id", 3);
  d.Set("turn_id", turn);
  FromChannel(h, d);
  disk.full->store(false);
  h.Advance(seconds(2));
  bool confirmed = false;
  for (const Value& r : ToChannel(h, "result")) confirmed |= r.GetIntOr("id", -1).value() == 3;
  EXPECT_TRUE(confirmed) << "the confirmation is answered once the journal holds it";
  // After a restart the channel is owed nothing: the reply is not sent twice.
  h.Reopen();
  h.transport_.sent.clear();
  sub.Set("id", 4);
  FromChannel(h, sub);
  std::vector<Value> results = ToChannel(h, "result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].Find("data")->GetIntOr("pending", -1).value(), 0);
  h.Advance(seconds(1));
  EXPECT_TRUE(ToChannel(h, "outcome").empty()) << "offered again after a restart";
}

TEST(CoreLogicTest, TurnsSubmittedInTheBatchTheFullDiskRefusesAreRefusedNotLost) {
  FullDisk disk;
  CoreHarness h(kIdle, nullptr, disk.Hook());
  disk.full->store(true);
  const int64_t a = h.Submit("a", "one");
  const int64_t b = h.Submit("b", "two");
  // A submit that does not wait for the outcome (as the channels send) is answered
  // too: it has no waiter, only its acknowledgement, which will never come.
  Value nowait = common::NewMessage(common::msg::kSubmit);
  nowait.Set("id", 77);
  nowait.Set("agent", "main");
  nowait.Set("session", "three");
  nowait.Set("message", "c");
  nowait.Set("wait", false);
  h.Control(nowait);
  for (int64_t req : {a, b, int64_t{77}}) {
    std::vector<Value> told;
    for (const Value& m : h.SentOf(Door::kControl, "outcome")) {
      if (m.GetIntOr("id", -1).value() == req) told.push_back(m);
    }
    ASSERT_EQ(told.size(), 1u) << "request " << req << ": each sender is told once";
    EXPECT_EQ(told[0].GetStringOr("status", "").value(), "rejected");
    EXPECT_TRUE(told[0].GetBoolOr("retryable", false).value()) << "request " << req;
    EXPECT_EQ(h.TurnOf(req), 0);
  }
  EXPECT_TRUE(h.spawner_.specs.empty()) << "a refused turn must not run";
  EXPECT_GE(h.CounterValue("journal_errors"), 1);
  disk.full->store(false);
  h.Advance(seconds(2));
  const int64_t c = h.Submit("c", "one");
  EXPECT_GT(h.TurnOf(c), 0);
  h.Reopen();
  EXPECT_EQ(h.CounterValue("recovered_unfinished"), 1) << "only the acknowledged turn";
}

// --- Issue 9: liveness, launches, spares, timers. ---

constexpr const char* kPlain = R"(
[supervisor]
idle_timeout = "2h"
heartbeat_timeout = "10s"
[agents.main]
runner = "exec"
command = ["/bin/true"]
kill_grace = "5s"
run_timeout = "10m"
)";

TEST(CoreLogicTest, KillRestartCyclesLeaveNoTimersBehind) {
  // Regression: every cycle used to leave its idle, grace and silence timers in the
  // heap until they came due (about 4,000 after 5,000 cycles, RSS growing); the
  // bound below failed at the first cycle. bench/ runs 10,000 real cycles.
  CoreHarness h(kPlain);
  const size_t before = h.core_->timers().size();
  for (uint64_t n = 1; n <= 500; ++n) {
    const int64_t req = h.Submit("x");
    h.Hello(n);
    h.Done(n, h.TurnOf(req), "ok");
    Value kill = common::NewMessage(common::msg::kKill);
    kill.Set("id", 1'000'000 + static_cast<int64_t>(n));
    kill.Set("session", "agent:main:main");
    h.Control(kill);
    h.Exit(n, 9);
    ASSERT_LE(h.core_->timers().size(), before + 2) << "after cycle " << n;
  }
  EXPECT_EQ(h.core_->pool().live(), 0u);
  EXPECT_EQ(h.CounterValue("turns_replied"), 500);
}

TEST(CoreLogicTest, ATurnSentToAWorkerThatWasAlreadyDeadRunsOnTheNextWorker) {
  // Regression: a turn dispatched to an idle worker that had just been SIGKILLed
  // (not reaped yet) failed with "died during turn" although it never ran.
  CoreHarness h(kPlain);
  const int64_t first = h.Submit("a");
  h.Hello(1);
  h.Done(1, h.TurnOf(first), "ok");
  const int64_t second = h.Submit("b");  // dispatched to worker 1, which is dead
  const int64_t turn = h.TurnOf(second);
  ASSERT_EQ(h.RunsOf(1, turn), 1u);
  h.Exit(1, 9);                              // reaped: SIGKILL, it never acknowledged
  h.Advance(milliseconds(50), 0, milliseconds(50));  // its last messages are read first
  EXPECT_TRUE(h.OutcomeFor(second).is_null()) << "a turn that never ran must not fail";
  ASSERT_EQ(h.spawner_.specs.size(), 2u) << "the session needs a new worker";
  h.Hello(2);
  ASSERT_EQ(h.RunsOf(2, turn), 1u) << "the requeued turn goes to the new worker";
  h.Done(2, turn, "answer");
  EXPECT_EQ(h.OutcomeFor(second).GetStringOr("reply", "").value(), "answer");
  EXPECT_EQ(h.CounterValue("turns_failed"), 0);
}

TEST(CoreLogicTest, AnAcknowledgedTurnFailsWhenItsWorkerDies) {
  CoreHarness h(kPlain);
  const int64_t req = h.Submit("a");
  h.Hello(1);
  h.Heartbeat(1, h.TurnOf(req));  // the worker's acknowledgement of the run
  h.Pass();
  h.Exit(1, 9);
  h.Advance(milliseconds(50), 0, milliseconds(50));
  Value out = h.OutcomeFor(req);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "failed");
  EXPECT_NE(out.GetStringOr("error", "").value().find("died during turn"), std::string::npos);
}

TEST(CoreLogicTest, AnAcknowledgementReadBeforeTheExitSettlesDecidesForFailure) {
  // The exit of a worker whose turn was sent but not acknowledged waits a moment:
  // an acknowledgement it sent before dying, read meanwhile, means the turn started.
  CoreHarness h(kPlain);
  const int64_t req = h.Submit("a");
  h.Hello(1);
  h.Exit(1, 9);
  h.Heartbeat(1, h.TurnOf(req));
  h.Advance(milliseconds(50), 0, milliseconds(50));
  EXPECT_EQ(h.OutcomeFor(req).GetStringOr("status", "").value(), "failed");
}

TEST(CoreLogicTest, ATurnSentToAStoppedWorkerIsRequeuedAfterHeartbeatTimeout) {
  CoreHarness h(kPlain);
  const int64_t req = h.Submit("a");
  h.Hello(1);  // run sent; the worker is SIGSTOPped and says nothing
  h.Advance(seconds(10));
  EXPECT_EQ(h.CounterValue("worker_kills"), 1);
  EXPECT_TRUE(h.OutcomeFor(req).is_null());
  h.Advance(seconds(5));  // kill_grace, then SIGKILL
  h.Exit(1, 9);
  ASSERT_EQ(h.spawner_.specs.size(), 2u);
  h.Hello(2);
  h.Done(2, h.TurnOf(req), "late but once");
  EXPECT_EQ(h.OutcomeFor(req).GetStringOr("reply", "").value(), "late but once");
}

TEST(CoreLogicTest, AnIdleWorkerSendsNothingForAnHourAndIsNotKilled) {
  CoreHarness h(kPlain);
  const int64_t first = h.Submit("a");
  h.Hello(1);
  h.Done(1, h.TurnOf(first), "ok");
  h.Advance(minutes(60), /*beating_worker=*/0, seconds(30));
  EXPECT_EQ(h.CounterValue("worker_kills"), 0);
  const int64_t second = h.Submit("b");
  EXPECT_EQ(h.RunsOf(1, h.TurnOf(second)), 1u) << "the same worker takes the next turn";
  EXPECT_EQ(h.spawner_.specs.size(), 1u);
}

TEST(CoreLogicTest, ABusyWorkerThatFallsSilentIsStillKilled) {
  CoreHarness h(kPlain);
  const int64_t req = h.Submit("a");
  h.Hello(1);
  h.Heartbeat(1, h.TurnOf(req));
  h.Pass();
  h.Advance(seconds(9), 0);
  EXPECT_EQ(h.CounterValue("worker_kills"), 0);
  h.Advance(seconds(1), 0);
  EXPECT_EQ(h.CounterValue("worker_kills"), 1);
  EXPECT_EQ(h.OutcomeFor(req).GetStringOr("status", "").value(), "failed");
}

constexpr const char* kSpare = R"(
[supervisor]
spare_workers = 1
max_workers = 4
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, ASpareWorkerIsBoundToTheFirstSessionThatNeedsOne) {
  CoreHarness h(kSpare);
  h.Pass();
  ASSERT_EQ(h.spawner_.specs.size(), 1u) << "one spare, started ahead of need";
  const auto& args = h.spawner_.specs[0].args;
  EXPECT_NE(std::find(args.begin(), args.end(), "--spare"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "--session"), args.end());
  h.SpareHello(1);
  const int64_t req = h.Submit("hi");
  auto binds = h.SentOf(Door::kWorkers, "bind");
  ASSERT_EQ(binds.size(), 1u) << "the first turn costs a message, not a spawn";
  EXPECT_EQ(binds[0].GetStringOr("session", "").value(), "agent:main:main");
  EXPECT_EQ(binds[0].GetStringOr("agent", "").value(), "main");
  h.Hello(1);  // for its session now
  EXPECT_EQ(h.RunsOf(1, h.TurnOf(req)), 1u);
  // A new spare replaces the one taken.
  EXPECT_EQ(h.spawner_.specs.size(), 2u);
  h.Done(1, h.TurnOf(req), "ok");
  EXPECT_EQ(h.OutcomeFor(req).GetStringOr("reply", "").value(), "ok");
}

TEST(CoreLogicTest, ASpareThatDiesIsReplacedAndItsDeathHarmsNoSession) {
  CoreHarness h(kSpare);
  h.Pass();
  h.SpareHello(1);
  h.Exit(1, 9);
  h.Pass();
  EXPECT_EQ(h.core_->pool().spares(), 1u);
  EXPECT_EQ(h.spawner_.specs.size(), 2u);
}

constexpr const char* kNarrow = R"(
[supervisor]
spawn_concurrency = 2
max_workers = 100
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, AtMostSpawnConcurrencyWorkersAreLaunchedBeforeTheySayHello) {
  CoreHarness h(kNarrow);
  for (int i = 0; i < 5; ++i) h.Submit("x", "s" + std::to_string(i));
  EXPECT_EQ(h.spawner_.specs.size(), 2u);
  h.Hello(1, "agent:main:s0");
  EXPECT_EQ(h.spawner_.specs.size(), 3u);
  h.Hello(2, "agent:main:s1");
  h.Hello(3, "agent:main:s2");
  EXPECT_EQ(h.spawner_.specs.size(), 5u);
}

constexpr const char* kPaced = R"(
[supervisor]
spawn_rate = 10
max_workers = 100
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, LaunchesFollowSpawnRate) {
  CoreHarness h(kPaced);
  for (int i = 0; i < 5; ++i) h.Submit("x", "s" + std::to_string(i));
  EXPECT_EQ(h.spawner_.specs.size(), 1u);
  h.Advance(milliseconds(99), 0, milliseconds(99));
  EXPECT_EQ(h.spawner_.specs.size(), 1u);
  h.Advance(milliseconds(1), 0, milliseconds(1));
  EXPECT_EQ(h.spawner_.specs.size(), 2u);
  h.Advance(milliseconds(300), 0, milliseconds(100));
  EXPECT_EQ(h.spawner_.specs.size(), 5u);
}

TEST(CoreLogicTest, AWorkerThatCannotBeLaunchedFailsItsTurnClearly) {
  CoreHarness h(kCrashy);
  h.spawner_.fail = true;
  const int64_t req = h.Submit("x");
  h.Advance(seconds(30), 0, milliseconds(100));
  Value out = h.OutcomeFor(req);
  ASSERT_TRUE(out.is_map());
  EXPECT_EQ(out.GetStringOr("status", "").value(), "rejected");
  EXPECT_NE(out.GetStringOr("error", "").value().find("spawn refused by the test"),
            std::string::npos);
  EXPECT_EQ(h.core_->pool().live(), 0u);
}

// `status` reads the pool's and the session table's tallies instead of walking every
// worker and session (issue 9: the walk took most of the loop with 10,000 workers).
// Here each tally is checked against a walk after every step of workers' lives:
// spare, bound, dispatched, busy, idle, killed, reaped, crash-looped and parked.
void ExpectTalliesMatchAWalk(CoreHarness& h, const char* step) {
  SCOPED_TRACE(step);
  std::map<WorkerState, int64_t> walked;
  int64_t spare = 0, running = 0;
  h.core_->pool().ForEach([&](const Worker& w) {
    if (w.state == WorkerState::kStarting && w.spare_ready) {
      ++spare;
    } else {
      ++walked[w.state];
    }
    if (HasTurn(w.state) && w.running) running += static_cast<int64_t>(w.running->turn_ids.size());
  });
  int64_t queued = 0;
  std::vector<std::string> parked;
  h.core_->sessions().ForEach([&](const Session& s) {
    queued += static_cast<int64_t>(s.queue.turns());
    if (s.policy.parked()) parked.push_back(s.key);
  });
  const Value st = h.Status();
  ASSERT_TRUE(st.is_map());
  EXPECT_EQ(st.GetIntOr("starting", -1).value(), walked[WorkerState::kStarting]);
  EXPECT_EQ(st.GetIntOr("idle", -1).value(), walked[WorkerState::kIdle]);
  EXPECT_EQ(st.GetIntOr("dispatched", -1).value(), walked[WorkerState::kDispatched]);
  EXPECT_EQ(st.GetIntOr("busy", -1).value(), walked[WorkerState::kBusy]);
  EXPECT_EQ(st.GetIntOr("stopping", -1).value(), walked[WorkerState::kStopping]);
  EXPECT_EQ(st.GetIntOr("spare", -1).value(), spare);
  EXPECT_EQ(st.GetIntOr("running", -1).value(), running);
  EXPECT_EQ(st.GetIntOr("queued", -1).value(), queued);
  std::vector<std::string> shown;
  for (const Value& k : st.Find("parked")->as_array()) shown.push_back(k.as_string());
  EXPECT_EQ(shown, parked);
}

constexpr const char* kTallied = R"(
[supervisor]
spare_workers = 1
max_workers = 8
restart_limit = 2
restart_window = "30s"
restart_backoff = "100ms"
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

TEST(CoreLogicTest, StatusCountsKeptAsWorkersChangeMatchAWalkOfThemAll) {
  CoreHarness h(kTallied);
  h.Pass();
  ExpectTalliesMatchAWalk(h, "a spare launched");
  h.SpareHello(1);
  ExpectTalliesMatchAWalk(h, "the spare ready");
  const int64_t a = h.Submit("a");
  ExpectTalliesMatchAWalk(h, "the spare bound");
  h.Hello(1);
  ExpectTalliesMatchAWalk(h, "the turn dispatched");
  const int64_t a2 = h.Submit("a2");  // queued behind it
  const int64_t a3 = h.Submit("a3");
  ExpectTalliesMatchAWalk(h, "two turns queued");
  Value ack = common::NewMessage(common::msg::kHeartbeat);
  ack.Set("turn_id", h.TurnOf(a));
  h.FromWorker(1, ack);
  ExpectTalliesMatchAWalk(h, "the turn acknowledged");
  h.Done(1, h.TurnOf(a), "ok");
  ExpectTalliesMatchAWalk(h, "done, the next dispatched");
  h.Done(1, h.TurnOf(a2), "ok");
  h.Done(1, h.TurnOf(a3), "ok");
  ExpectTalliesMatchAWalk(h, "idle");
  // An operator kill: stopping until reaped, then gone.
  Value kill = common::NewMessage(common::msg::kKill);
  kill.Set("id", 77);
  kill.Set("session", "agent:main:main");
  h.Control(kill);
  ExpectTalliesMatchAWalk(h, "killed");
  h.Exit(1, 9);
  ExpectTalliesMatchAWalk(h, "reaped");
  // A second session whose workers die before hello until it is parked.
  const int64_t b = h.Submit("b", "other");
  ExpectTalliesMatchAWalk(h, "a second session starting");
  for (uint64_t w = h.spawner_.specs.size(); h.core_->sessions().parked().empty() && w < 20;
       w = h.spawner_.specs.size()) {
    h.Exit(w, 1 << 8);
    h.Advance(milliseconds(200), 0, milliseconds(100));
    ExpectTalliesMatchAWalk(h, "crash loop");
  }
  ASSERT_EQ(h.core_->sessions().parked().size(), 1u);
  EXPECT_EQ(h.OutcomeFor(b).GetStringOr("status", "").value(), "rejected");
  ExpectTalliesMatchAWalk(h, "parked");
  Value restart = common::NewMessage(common::msg::kRestart);
  restart.Set("id", 78);
  restart.Set("session", "agent:main:other");
  h.Control(restart);
  EXPECT_TRUE(h.core_->sessions().parked().empty());
  ExpectTalliesMatchAWalk(h, "restarted");
}

}  // namespace
}  // namespace laneway::supervisor
