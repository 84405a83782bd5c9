// What an agent command leaves behind never outlives its turn or its worker, and a
// reply is complete when the command exits (issue "What a new operator hit", items
// 4, 5, 10 and 13).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

std::string AgentConfig(const TempHome& home, const std::string& script,
                        const std::string& extra = "") {
  home.Write("agent.sh", "#!/bin/sh\n" + script, 0755);
  return "[supervisor]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"5s\"\n" + extra +
         "\n[agents.main]\nrunner = \"exec\"\ncommand = [\"" + home.path() +
         "/agent.sh\"]\nrun_timeout = \"60s\"\nkill_grace = \"300ms\"\n";
}

TEST(ContainmentTest, ABackgroundChildHoldingStdoutDoesNotDelayTheReply) {
  TempHome home;
  SupervisorProcess sup(home);
  // The old behaviour read stdout until every holder closed it: 60 s, a timeout.
  ASSERT_TRUE(sup.Start(AgentConfig(
      home, "cat >/dev/null\nprintf quick\nsleep 1000 &\necho $! > \"$LANEWAY_HOME/bg.pid\"\n")))
      << sup.Log();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "x"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "quick\n");
  const pid_t bg = ReadPid(home.path() + "/bg.pid");
  ASSERT_GT(bg, 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(bg); })) << "the background child outlived its turn";
  ExpectEveryTurnSettled(home);
}

TEST(ContainmentTest, ASetsidDaemonOfAnAgentIsKilled) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(AgentConfig(home,
                                    "cat >/dev/null\n"
                                    "setsid sh -c 'echo $$ > \"$LANEWAY_HOME/daemon.pid\"; "
                                    "exec sleep 1000' </dev/null >/dev/null 2>&1 &\n"
                                    "printf started\n")))
      << sup.Log();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "x"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return ReadPid(home.path() + "/daemon.pid") > 0; }));
  const pid_t daemon = ReadPid(home.path() + "/daemon.pid");
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(daemon); })) << "the setsid daemon escaped";
  EXPECT_TRUE(Contains(sup.Log(), "event=orphan_killed")) << sup.Log();
  EXPECT_EQ(StrField(Status(home), "containment"), "process_group+subreaper_sweep");
}

TEST(ContainmentTest, TurnsAreLoggedWhenAcceptedStartedAndEndedAndAStuckSessionIsReported) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "stuck_after = \"1s\"\n"))) << sup.Log();
  auto turn = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate"});
  ASSERT_TRUE(WaitFor([&] { return Contains(sup.Log(), "event=session_stuck"); })) << sup.Log();
  home.OpenGate();
  EXPECT_EQ(turn.get().code, 0);
  ASSERT_TRUE(WaitFor([&] { return Contains(sup.Log(), "event=session_unstuck"); }));
  const std::string log = sup.Log();
  EXPECT_TRUE(Contains(log, "event=turn_accepted session=agent:main:main turn=1")) << log;
  EXPECT_TRUE(Contains(log, "event=turn_started session=agent:main:main turn=1 pid=")) << log;
  EXPECT_TRUE(Contains(log, "event=turn_ended session=agent:main:main turn=1 status=replied"))
      << log;
  EXPECT_TRUE(Contains(log, "duration_ms=")) << log;
}

TEST(ContainmentTest, UpAndReloadRefuseAnExecAgentWhoseCommandIsMissing) {
  TempHome home;
  home.Write("laneway.toml",
             "[agents.main]\nrunner = \"exec\"\ncommand = [\"/nonexistent/agent\"]\n");
  SupervisorProcess bad(home);
  EXPECT_EQ(bad.RunToExit(), 3);
  EXPECT_TRUE(Contains(bad.Log(), "agents.main.command[0]: /nonexistent/agent is not executable"))
      << bad.Log();
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  home.Write("laneway.toml",
             "[agents.main]\nrunner = \"exec\"\ncommand = [\"no-such-agent-binary\"]\n");
  common::Value r = Call(home, "reload");
  EXPECT_EQ(StrField(r, "code"), "bad_config");
  EXPECT_TRUE(Contains(StrField(r, "error"), "no-such-agent-binary was not found on PATH"))
      << StrField(r, "error");
}

TEST(ContainmentTest, ACleanStopRemovesTheSocketFiles) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  ASSERT_EQ(::access(home.paths().control_socket.c_str(), F_OK), 0);
  CliResult r = RunCli(home, {"down"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sup.WaitExit(), 0);
  EXPECT_NE(::access(home.paths().control_socket.c_str(), F_OK), 0) << "control.sock left behind";
  EXPECT_NE(::access(home.paths().worker_socket.c_str(), F_OK), 0) << "workers.sock left behind";
}

}  // namespace
}  // namespace laneway::testing
