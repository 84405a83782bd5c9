// A SIGKILLed supervisor leaves nothing running for long: what outlived it (a
// stopped worker, which cannot act on PR_SET_PDEATHSIG, and its agent's
// SIGTERM-ignoring grandchild) is ended by the next supervisor of that home at
// start (supervisor/leftovers.h). Found by the chaos soak (docs/soak.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

pid_t ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

TEST(LeftoversTest, TheNextSupervisorEndsAStoppedWorkerAndItsGrandchildThatOutlivedAKill) {
  TempHome home;
  pid_t worker = 0, grandchild = 0;
  {
    SupervisorProcess first(home);
    ASSERT_TRUE(first.Start(ExecConfig(home))) << first.Log();
    // Sent, and stopped waiting for at once (exit 4: pending).
    CliResult sent = RunCli(home, {"agent", "--agent", "main", "--message", "hang", "--timeout",
                                   "150ms", "--json"});
    ASSERT_EQ(sent.code, 4) << sent.out << sent.err;
    ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
    worker = static_cast<pid_t>(IntField(WorkerOf(home, "agent:main:main"), "pid"));
    ASSERT_TRUE(WaitFor([&] { return ReadPidFile(home.path() + "/grandchild.pid") > 0; }));
    grandchild = ReadPidFile(home.path() + "/grandchild.pid");
    ASSERT_EQ(::kill(worker, SIGSTOP), 0);
    first.Signal(SIGKILL);
    EXPECT_EQ(first.WaitExit(), 128 + SIGKILL);
  }
  // Without the sweep both would live on: the worker stopped, the grandchild
  // ignoring SIGTERM and re-parented away from the dead supervisor.
  ASSERT_FALSE(ProcessGone(worker)) << "the stopped worker died with its supervisor";
  ASSERT_FALSE(ProcessGone(grandchild));

  SupervisorProcess second(home);
  ASSERT_TRUE(second.Start(ExecConfig(home))) << second.Log();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(worker) && ProcessGone(grandchild); }))
      << second.Log();
  EXPECT_NE(second.Log().find("leftover_killed"), std::string::npos) << second.Log();
  // The new supervisor serves the session as usual.
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "after"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "reply:after\n");
}

}  // namespace
}  // namespace laneway::testing
