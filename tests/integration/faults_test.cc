// Faults with real binaries: whatever a session's run does, the supervisor ends
// it, frees its lock, tells the sender exactly what happened and runs the next
// queued turn. Every test ends by checking that each accepted turn got exactly
// one outcome.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <zmq.hpp>

#include "common/file_lock.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

const char* kMain = "agent:main:main";

std::vector<std::string> Agent(const std::string& message) {
  return {"agent", "--agent", "main", "--message", message};
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

pid_t ReadPidFile(const std::string& path) {
  std::ifstream f(path);
  long pid = 0;
  f >> pid;
  return static_cast<pid_t>(pid);
}

TEST(FaultsTest, RunTimeoutKillsTheWholeGroupFreesTheLockAndRunsTheNextTurn) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "", "run_timeout = \"1s\"\nkill_grace = \"300ms\"")))
      << sup.Log();
  auto hung = RunCliAsync(home, Agent("hang"));
  const std::string pid_file = home.path() + "/grandchild.pid";
  ASSERT_TRUE(WaitFor([&] { return ReadPidFile(pid_file) > 0; }));
  const pid_t grandchild = ReadPidFile(pid_file);
  const Value before = WorkerOf(home, kMain);
  const pid_t old_worker = static_cast<pid_t>(IntField(before, "pid"));
  EXPECT_EQ(StrField(before, "state"), "busy");
  auto next = RunCliAsync(home, Agent("after the timeout"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 1));

  CliResult r1 = hung.get();
  EXPECT_EQ(r1.code, 1);
  EXPECT_FALSE(Contains(r1.err, "timed_out")) << r1.err;  // prose, not the status name
  EXPECT_TRUE(Contains(r1.err, "turn 1 of session agent:main:main timed out after 1000ms"))
      << r1.err;
  CliResult r2 = next.get();
  EXPECT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(r2.out, "reply:after the timeout\n");

  // No process of the old group survives, not even as a zombie: the worker, the
  // agent command, and the grandchild that ignores SIGTERM.
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(old_worker) && ProcessGone(grandchild); }));
  // The session lock went with the old worker: the new one holds it now.
  const Value after = WorkerOf(home, kMain);
  const pid_t new_worker = static_cast<pid_t>(IntField(after, "pid"));
  EXPECT_NE(new_worker, old_worker);
  auto holder = common::LockHolder(home.paths().SessionLockPath("main", kMain));
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(*holder, new_worker);
  EXPECT_EQ(IntField(after, "restarts"), 1);
  EXPECT_TRUE(Contains(sup.Log(), "event=worker_killed session=agent:main:main")) << sup.Log();
  EXPECT_TRUE(Contains(sup.Log(), "reason=run_timeout")) << sup.Log();
  // The transcript records the outcome the old worker could not write.
  std::ifstream t(home.paths().TranscriptPath("main", kMain));
  std::string all((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Contains(all, "\"role\":\"outcome\",\"status\":\"timed_out\"")) << all;
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, SigkilledWorkerFailsItsTurnWithTheSignalAndTheNextTurnRuns) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  auto turn = RunCliAsync(home, Agent("gate"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  const pid_t worker = static_cast<pid_t>(IntField(WorkerOf(home, kMain), "pid"));
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  CliResult r = turn.get();
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "failed")) << r.err;
  EXPECT_TRUE(Contains(r.err, "killed by signal 9")) << r.err;
  home.OpenGate();
  CliResult next = RunCli(home, Agent("next"));
  EXPECT_EQ(next.code, 0) << next.err;
  EXPECT_EQ(next.out, "reply:next\n");
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, StoppedWorkerIsKilledAsUnresponsive) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start(ExecConfig(home, "heartbeat_interval = \"100ms\"\nheartbeat_timeout = \"700ms\"")))
      << sup.Log();
  auto turn = RunCliAsync(home, Agent("gate"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  const pid_t worker = static_cast<pid_t>(IntField(WorkerOf(home, kMain), "pid"));
  ASSERT_EQ(::kill(worker, SIGSTOP), 0);
  CliResult r = turn.get();
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "unresponsive")) << r.err;
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(worker); }));
  EXPECT_TRUE(Contains(sup.Log(), "reason=unresponsive")) << sup.Log();
  home.OpenGate();
  CliResult next = RunCli(home, Agent("next"));
  EXPECT_EQ(next.code, 0) << next.err;
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, CrashLoopParksTheSessionUntilAnOperatorRestartsIt) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home,
                                   "restart_limit = 3\nrestart_window = \"1m\"\n"
                                   "restart_backoff = \"10ms\"\nrestart_backoff_max = \"50ms\"")))
      << sup.Log();
  // Another session keeps working through all of this.
  CliResult other =
      RunCli(home, {"agent", "--agent", "main", "--session", "other", "--message", "x"});
  EXPECT_EQ(other.code, 0);
  for (int i = 1; i <= 3; ++i) {
    CliResult r = RunCli(home, Agent("crash-" + std::to_string(i)));
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(Contains(r.err, "died during turn")) << r.err;
  }
  CliResult parked = RunCli(home, Agent("hello"));
  EXPECT_EQ(parked.code, 1);
  EXPECT_TRUE(Contains(parked.err, "parked")) << parked.err;
  EXPECT_TRUE(Contains(parked.err, "laneway restart agent:main:main")) << parked.err;
  EXPECT_EQ(StrField(WorkerOf(home, kMain), "state"), "parked");
  CliResult status = RunCli(home, {"status"});
  EXPECT_EQ(status.code, 1);
  EXPECT_TRUE(Contains(status.out, "UNHEALTHY")) << status.out;
  EXPECT_TRUE(Contains(status.out, "parked: agent:main:main")) << status.out;
  CliResult other2 =
      RunCli(home, {"agent", "--agent", "main", "--session", "other", "--message", "y"});
  EXPECT_EQ(other2.code, 0) << other2.err;

  CliResult restart = RunCli(home, {"restart", kMain});
  EXPECT_EQ(restart.code, 0) << restart.err;
  EXPECT_TRUE(Contains(restart.out, "un-parked")) << restart.out;
  CliResult back = RunCli(home, Agent("hello again"));
  EXPECT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(back.out, "reply:hello again\n");
  EXPECT_EQ(RunCli(home, {"status"}).code, 0);
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, LateReplyFromAKilledGenerationIsDroppedNotDelivered) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "", "run_timeout = \"1s\"\nkill_grace = \"200ms\"")))
      << sup.Log();
  auto hung = RunCliAsync(home, Agent("hang"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  const Value old = WorkerOf(home, kMain);
  const int64_t worker_id = IntField(old, "worker_id");
  const int64_t turn_id = IntField(old, "turn_id");
  EXPECT_EQ(hung.get().code, 1);
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "workers") == 0; }));
  const int64_t refused_before = Counter(Status(home), "peers_refused");

  // Speak as the dead generation: same routing id, a reply for its old turn. The
  // test process is no worker the supervisor started, so the worker door's peer
  // check (peer_auth.h) refuses the connection before the message is read; a
  // message of a given-up generation that does get in is dropped by the worker
  // state table (worker_fsm_test: Stopping drops everything but exit).
  zmq::context_t ctx(1);
  zmq::socket_t ghost(ctx, zmq::socket_type::dealer);
  ghost.set(zmq::sockopt::routing_id, "w" + std::to_string(worker_id));
  ghost.set(zmq::sockopt::linger, 0);
  ghost.connect(home.paths().worker_endpoint());
  Value late = common::NewMessage(common::msg::kDone);
  late.Set("turn_id", turn_id);
  late.Set("ok", true);
  late.Set("reply", "LATE");
  ghost.send(zmq::buffer(common::EncodeMessage(late)));
  ASSERT_TRUE(
      WaitFor([&] { return Counter(Status(home), "peers_refused") > refused_before; }));

  CliResult fresh = RunCli(home, Agent("fresh"));
  EXPECT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(fresh.out, "reply:fresh\n");
  CliResult waited = RunCli(home, {"wait", std::to_string(turn_id), "--json"});
  EXPECT_EQ(waited.code, 1);
  EXPECT_TRUE(Contains(waited.out, "\"status\":\"timed_out\"")) << waited.out;
  EXPECT_FALSE(Contains(waited.out, "LATE")) << waited.out;
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, KillRestartAndCancelWhileTurnsAreQueuedAnswerEveryTurnInOrder) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  auto a = RunCliAsync(home, Agent("gate-a"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  auto b = RunCliAsync(home, Agent("gate-b"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 1));
  auto c = RunCliAsync(home, Agent("gate-c"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 2));

  CliResult cancel = RunCli(home, {"cancel", kMain});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_TRUE(Contains(cancel.out, "cancelled turn 1 of agent:main:main")) << cancel.out;
  CliResult ra = a.get();
  EXPECT_EQ(ra.code, 1);
  EXPECT_TRUE(Contains(ra.err, "cancelled")) << ra.err;

  // b runs next on a fresh worker; kill it.
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy", 1));
  CliResult kill = RunCli(home, {"kill", kMain});
  EXPECT_EQ(kill.code, 0) << kill.err;
  EXPECT_TRUE(Contains(sup.Log(), "reason=operator")) << sup.Log();
  CliResult rb = b.get();
  EXPECT_EQ(rb.code, 1);
  EXPECT_TRUE(Contains(rb.err, "killed by an operator")) << rb.err;

  // c runs; queue d and e behind it, then restart: c is cancelled, d and e run.
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy", 0));
  auto d = RunCliAsync(home, Agent("gate-d"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 1));
  auto e = RunCliAsync(home, Agent("gate-e"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 2));
  CliResult restart = RunCli(home, {"restart", kMain});
  EXPECT_EQ(restart.code, 0) << restart.err;
  EXPECT_EQ(c.get().code, 1);
  home.OpenGate();
  CliResult rd = d.get();
  CliResult re = e.get();
  EXPECT_EQ(rd.code, 0) << rd.err;
  EXPECT_EQ(rd.out, "reply:gate-d\n");
  EXPECT_EQ(re.code, 0) << re.err;
  EXPECT_EQ(re.out, "reply:gate-e\n");
  std::ifstream t(home.paths().TranscriptPath("main", kMain));
  std::string all((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
  EXPECT_LT(all.find("reply:gate-d"), all.find("reply:gate-e")) << all;

  // Operator errors are clear and exit 1.
  CliResult unknown = RunCli(home, {"kill", "agent:main:nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown.err, "unknown session")) << unknown.err;
  EXPECT_EQ(RunCli(home, {"restart", "agent:main:nope"}).code, 1);
  CliResult idle = RunCli(home, {"cancel", kMain});
  EXPECT_EQ(idle.code, 1);
  EXPECT_TRUE(Contains(idle.err, "no running turn")) << idle.err;
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, CollectModeMergesTurnsThatArriveWhileBusyIntoOneRun) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "", "queue_mode = \"collect\""))) << sup.Log();
  auto a = RunCliAsync(home, Agent("gate-a"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  auto b = RunCliAsync(home, Agent("gate-b"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 1));
  auto c = RunCliAsync(home, Agent("gate-c"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "", 2));
  home.OpenGate();
  EXPECT_EQ(a.get().out, "reply:gate-a\n");
  CliResult rb = b.get();
  CliResult rc = c.get();
  EXPECT_EQ(rb.code, 0);
  EXPECT_EQ(rb.out, "reply:gate-b\n\ngate-c\n");
  EXPECT_EQ(rc.out, rb.out);  // one run, one reply for both
  ExpectEveryTurnSettled(home);
}

TEST(FaultsTest, InterruptModeCancelsTheRunningTurnForTheNewOne) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "", "queue_mode = \"interrupt\""))) << sup.Log();
  auto a = RunCliAsync(home, Agent("gate-a"));
  ASSERT_TRUE(WaitForWorker(home, kMain, "busy"));
  CliResult b = RunCli(home, Agent("b"));
  EXPECT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(b.out, "reply:b\n");
  CliResult ra = a.get();
  EXPECT_EQ(ra.code, 1);
  EXPECT_TRUE(Contains(ra.err, "cancelled: interrupted by turn 2")) << ra.err;
  EXPECT_TRUE(Contains(sup.Log(), "event=worker_killed session=agent:main:main")) << sup.Log();
  EXPECT_TRUE(Contains(sup.Log(), "reason=interrupt")) << sup.Log();
  ExpectEveryTurnSettled(home);
}

class BadWorkerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BadWorkerTest, WorkerBreakingTheProtocolIsKilledAndItsTurnFails) {
  TempHome home;
  SupervisorProcess sup(
      home, {{"LANEWAY_WORKER_BIN", BinDir() + "/fake_worker"}, {"FAKE_WORKER_MODE", GetParam()}});
  ASSERT_TRUE(sup.Start()) << sup.Log();
  auto turn = RunCliAsync(home, Agent("hi"));
  CliResult r = turn.get();
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "protocol_error")) << r.err;
  const Value s = Status(home);
  EXPECT_GE(Counter(s, "worker_protocol_errors"), 1) << common::ToJson(s);
  EXPECT_TRUE(Contains(sup.Log(), "event=worker_protocol_error")) << sup.Log();
  ExpectEveryTurnSettled(home);
}

INSTANTIATE_TEST_SUITE_P(Modes, BadWorkerTest,
                         ::testing::Values("garbage", "unknown_type", "wrong_turn", "multipart"));

}  // namespace
}  // namespace laneway::testing

namespace laneway::testing {
namespace {

TEST(FaultsTest, StatusReportsAStuckSessionAsUnhealthyWithoutKillingIt) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "stuck_after = \"300ms\""))) << sup.Log();
  auto turn = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate"});
  common::Value s;
  ASSERT_TRUE(WaitFor([&] {
    s = Status(home);
    const common::Value* stuck = s.Find("stuck");
    return stuck && stuck->is_array() && stuck->as_array().size() == 1;
  })) << common::ToJson(s);
  EXPECT_FALSE(s.GetBoolOr("healthy", true).value());
  CliResult status = RunCli(home, {"status"});
  EXPECT_EQ(status.code, 1);
  EXPECT_NE(status.out.find("stuck: agent:main:main turn 1 running for"), std::string::npos)
      << status.out;
  EXPECT_NE(RunCli(home, {"status", "--json"}).out.find("\"healthy\":false"), std::string::npos);
  home.OpenGate();
  CliResult r = turn.get();
  EXPECT_EQ(r.code, 0) << r.err;  // reported, not killed
  EXPECT_EQ(RunCli(home, {"status"}).code, 0);
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
