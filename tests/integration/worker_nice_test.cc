// Workers run below the supervisor's CPU priority ([supervisor] worker_nice,
// docs/scaling.md "CPU priority"): a worker, and the agent command it runs, have
// the supervisor's nice value plus worker_nice; the supervisor and its loop keep
// their own.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"
#include "common/proc_stat.h"

namespace laneway::testing {
namespace {

// Field 19 of /proc/PID/stat (nice); -100 if the process is gone.
int NiceOf(pid_t pid) {
  const auto nice = common::ProcStatField(pid, 19);
  return nice ? std::stoi(*nice) : -100;
}

void ExpectWorkerNice(const std::string& supervisor_extra, int expected_more) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, supervisor_extra))) << sup.Log();
  auto turn = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  const pid_t worker = static_cast<pid_t>(IntField(WorkerOf(home, "agent:main:main"), "pid"));
  const int base = NiceOf(sup.pid());
  EXPECT_EQ(NiceOf(worker), std::min(19, base + expected_more));
  home.OpenGate();
  EXPECT_EQ(turn.get().code, 0);
  EXPECT_EQ(NiceOf(sup.pid()), base) << "the supervisor keeps its own priority";
}

TEST(WorkerNiceTest, WorkersRunFiveBelowTheSupervisorByDefault) { ExpectWorkerNice("", 5); }

TEST(WorkerNiceTest, WorkerNiceZeroKeepsTheSupervisorsPriority) {
  ExpectWorkerNice("worker_nice = 0\n", 0);
}

TEST(WorkerNiceTest, WorkerNiceOutOfRangeIsRefusedWithTheKeyNamed) {
  TempHome home;
  SupervisorProcess sup(home);
  EXPECT_FALSE(sup.Start(ExecConfig(home, "worker_nice = 20\n")));
  EXPECT_NE(sup.Log().find("worker_nice"), std::string::npos) << sup.Log();
}

}  // namespace
}  // namespace laneway::testing
