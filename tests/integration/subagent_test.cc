// Subagents with real binaries (docs/subagents.md): parents that wait on their
// children at max_workers = 2 finish; depth and children limits are refused with
// clear errors; a child that times out is announced as timed out; a kill -9 of
// the supervisor while a child runs still announces its outcome exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Occurrences of `needle` (the supervisors of one home share one log file).
size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

int64_t TurnIdOf(const std::string& json) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"turn_id\":([0-9]+)"))) return std::stoll(m[1]);
  return -1;
}

// A parent agent: "parent*" spawns two children with --wait at once and prints
// both replies; anything else goes to the harness's test agent.
std::string ParentScript(const TempHome& home) {
  const std::string laneway = BinDir() + "/laneway";
  const std::string out = "\"$LANEWAY_HOME/out-$LANEWAY_TURN_ID";
  home.Write("parent.sh",
             "#!/bin/sh\n"
             "msg=$(cat)\n"
             "case \"$msg\" in\n"
             "  parent*)\n"
             "    " + laneway + " spawn --message child-a --wait > " + out + "-a\" &\n"
             "    " + laneway + " spawn --message child-b --wait > " + out + "-b\" &\n"
             "    wait\n"
             "    printf 'parent done: %s + %s' \"$(cat " + out + "-a\")\" \"$(cat " + out +
                 "-b\")\" ;;\n"
             "  *) printf '%s' \"$msg\" | exec " + home.AgentScript() + " ;;\n"
             "esac\n",
             0755);
  return home.path() + "/parent.sh";
}

std::string SpawnConfig(const TempHome& home, const std::string& supervisor_extra,
                        const std::string& subagents = "") {
  return ExecConfig(home, supervisor_extra) + "\n[subagents]\n" + subagents + "\n";
}

// A pending turn on `session`, held at the gate; returns its id.
int64_t HeldTurn(const TempHome& home, const std::string& session, const std::string& msg) {
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--session", session, "--message", msg,
                              "--timeout", "150ms", "--json"});
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  return TurnIdOf(r.out);
}

Value TurnByKey(const TempHome& home, const std::string& key) {
  Value f = Value::MakeMap();
  f.Set("idempotency_key", key);
  return Call(home, "turn", f);
}

TEST(SubagentTest, ParentsWaitingOnChildrenFinishAtTwoWorkers) {
  TempHome home;
  SupervisorProcess sup(home);
  const std::string script = ParentScript(home);
  std::string config = "[supervisor]\nmax_workers = 2\nheartbeat_interval = \"200ms\"\n"
                       "heartbeat_timeout = \"5s\"\n\n[agents.main]\nrunner = \"exec\"\n"
                       "command = [\"" + script + "\"]\nrun_timeout = \"60s\"\n"
                       "kill_grace = \"500ms\"\n";
  ASSERT_TRUE(sup.Start(config)) << sup.Log();
  home.OpenGate();
  // Two parents hold both of max_workers' slots while each waits on its children.
  auto p1 = RunCliAsync(home, {"agent", "--agent", "main", "--session", "p1", "--message",
                               "parent-1", "--json"});
  auto p2 = RunCliAsync(home, {"agent", "--agent", "main", "--session", "p2", "--message",
                               "parent-2", "--json"});
  CliResult r1 = p1.get();
  CliResult r2 = p2.get();
  EXPECT_EQ(r1.code, 0) << r1.out << r1.err << sup.Log();
  EXPECT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_TRUE(Contains(r1.out, "parent done: reply:child-a + reply:child-b")) << r1.out;
  EXPECT_TRUE(Contains(r2.out, "parent done: reply:child-a + reply:child-b")) << r2.out;
  // Four children ran, each on a session of its own, none on a parent's.
  int children = 0;
  for (const Value& s : Call(home, "sessions").as_array()) {
    if (!Contains(StrField(s, "session"), ":subagent:")) continue;
    ++children;
    EXPECT_TRUE(StrField(s, "parent") == "agent:main:p1" || StrField(s, "parent") == "agent:main:p2")
        << common::ToJson(s);
  }
  EXPECT_EQ(children, 4);
  EXPECT_TRUE(Contains(sup.Log(), "event=subagent_spawned")) << sup.Log();
  ExpectEveryTurnSettled(home);
}

TEST(SubagentTest, DepthAndChildrenLimitsAreRefusedWithClearErrors) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(SpawnConfig(home, "", "max_children = 2"))) << sup.Log();
  const int64_t parent = HeldTurn(home, "par", "gate-parent");
  ASSERT_GT(parent, 0);
  ASSERT_TRUE(WaitForWorker(home, "agent:main:par", "busy"));
  std::vector<int64_t> kids;
  for (int i = 0; i < 2; ++i) {
    CliResult c = RunCli(home, {"spawn", "--parent", std::to_string(parent), "--message",
                                "gate-kid-" + std::to_string(i), "--json"});
    ASSERT_EQ(c.code, 0) << c.out << c.err;
    EXPECT_TRUE(Contains(c.out, "\"status\":\"accepted\"")) << c.out;
    EXPECT_TRUE(Contains(c.out, "agent:main:subagent:" + std::to_string(parent) + "-")) << c.out;
    kids.push_back(TurnIdOf(c.out));
  }
  CliResult third = RunCli(home, {"spawn", "--parent", std::to_string(parent), "--message", "x"});
  EXPECT_EQ(third.code, 1);
  EXPECT_TRUE(Contains(third.err, "children limit: session agent:main:par has 2 unfinished "
                                  "subagents (subagents.max_children = 2)"))
      << third.err;
  // A child (depth 1) cannot spawn at the default max_depth = 1.
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 3; }));
  CliResult deep = RunCli(home, {"spawn", "--parent", std::to_string(kids[0]), "--message", "x"});
  EXPECT_EQ(deep.code, 1);
  EXPECT_TRUE(Contains(deep.err, "depth limit")) << deep.err;
  EXPECT_TRUE(Contains(deep.err, "subagents.max_depth = 1 (a subagent cannot spawn)")) << deep.err;
  // A finished turn cannot be a parent.
  CliResult stale = RunCli(home, {"spawn", "--parent", "999", "--message", "x"});
  EXPECT_EQ(stale.code, 1);
  EXPECT_TRUE(Contains(stale.err, "parent turn 999 is not running")) << stale.err;
  // `laneway workers` marks the children's workers; `sessions` shows the family.
  CliResult workers = RunCli(home, {"workers"});
  EXPECT_TRUE(Contains(workers.out, "subagent")) << workers.out;
  for (const Value& s : Call(home, "sessions").as_array()) {
    if (StrField(s, "session") == "agent:main:par") {
      EXPECT_EQ(IntField(s, "children"), 2);
    }
  }
  home.OpenGate();
  ExpectEveryTurnSettled(home);
}

TEST(SubagentTest, ChildThatTimesOutIsAnnouncedAsTimedOut) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(SpawnConfig(home, ""))) << sup.Log();
  const int64_t parent = HeldTurn(home, "par", "gate-parent");
  ASSERT_TRUE(WaitForWorker(home, "agent:main:par", "busy"));
  CliResult c = RunCli(home, {"spawn", "--parent", std::to_string(parent), "--timeout", "1s",
                              "--message", "hang-child", "--json"});
  ASSERT_EQ(c.code, 0) << c.out << c.err;
  const int64_t child = TurnIdOf(c.out);
  CliResult outcome = RunCli(home, {"wait", std::to_string(child), "--json"});
  EXPECT_TRUE(Contains(outcome.out, "\"status\":\"timed_out\"")) << outcome.out;
  // The announcement queues on the parent's session behind the running parent turn.
  Value ann;
  ASSERT_TRUE(WaitFor([&] {
    ann = TurnByKey(home, "subagent:" + std::to_string(child));
    return IntField(ann, "turn_id") > 0;
  }));
  EXPECT_EQ(StrField(ann, "session"), "agent:main:par");
  home.OpenGate();
  ASSERT_TRUE(WaitFor([&] {
    ann = TurnByKey(home, "subagent:" + std::to_string(child));
    return StrField(ann, "status") == "replied";
  }));
  EXPECT_TRUE(Contains(StrField(ann, "reply"), "timed_out]")) << common::ToJson(ann);
  EXPECT_TRUE(Contains(StrField(ann, "reply"), "run_timeout")) << common::ToJson(ann);
  ExpectEveryTurnSettled(home);
}

TEST(SubagentTest, KillNineWhileAChildRunsStillAnnouncesItOnce) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(SpawnConfig(home, ""))) << sup->Log();
  const int64_t parent = HeldTurn(home, "par", "gate-parent");
  ASSERT_TRUE(WaitForWorker(home, "agent:main:par", "busy"));
  CliResult c = RunCli(home, {"spawn", "--parent", std::to_string(parent), "--message",
                              "gate-child", "--json"});
  ASSERT_EQ(c.code, 0) << c.out << c.err;
  const int64_t child = TurnIdOf(c.out);
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 2; }));
  sup->Signal(SIGKILL);
  sup->WaitExit();
  home.OpenGate();
  auto next = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(next->Start()) << next->Log();
  // The child was running (its agent does not re-run turns): it ended interrupted
  // at start-up, and that outcome reaches the parent's session.
  Value ann;
  ASSERT_TRUE(WaitFor([&] {
    ann = TurnByKey(home, "subagent:" + std::to_string(child));
    return StrField(ann, "status") == "replied";
  })) << common::ToJson(ann) << next->Log();
  EXPECT_TRUE(Contains(StrField(ann, "reply"), "interrupted]")) << common::ToJson(ann);
  EXPECT_EQ(StrField(ann, "session"), "agent:main:par");
  EXPECT_EQ(Count(next->Log(), "event=subagent_announced"), 1u) << next->Log();
  const int64_t ann_id = IntField(ann, "turn_id");
  // Again, after another restart: the same announcement, not a second one.
  next->Signal(SIGKILL);
  next->WaitExit();
  SupervisorProcess third(home);
  ASSERT_TRUE(third.Start()) << third.Log();
  EXPECT_EQ(IntField(TurnByKey(home, "subagent:" + std::to_string(child)), "turn_id"), ann_id);
  EXPECT_EQ(Count(third.Log(), "event=subagent_announced"), 1u) << third.Log();
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
