// [supervisor] loop_scheduling (common/loop_scheduling.h, docs/scaling.md "CPU
// priority"): the supervisor's loop thread and libzmq's I/O thread get the mode
// asked for, read back from the kernel; no other thread of the supervisor and no
// worker inherits it; where the kernel refuses, the supervisor runs on and says why.
#include "common/loop_scheduling.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::LoopScheduling;

struct Thread {
  pid_t tid;
  std::string name;
};

std::vector<Thread> ThreadsOf(pid_t pid) {
  std::vector<Thread> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(dir + "/" + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    out.push_back({static_cast<pid_t>(std::stol(e->d_name)), name});
  }
  ::closedir(d);
  return out;
}

// What this kernel and these privileges give a thread that asks for `mode`,
// tried on a thread of the test's own.
LoopScheduling WhatTheKernelGives(LoopScheduling mode) {
  LoopScheduling got = LoopScheduling::kNormal;
  std::thread t([&] {
    common::ApplyLoopScheduling(mode);
    got = common::ThreadScheduling(static_cast<pid_t>(::gettid()));
  });
  t.join();
  return got;
}

// Starts a supervisor with `mode`, gives it a worker, and checks each thread.
void ExpectLoopScheduling(const std::string& mode_line, LoopScheduling expected) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start("[supervisor]\n" + mode_line + "[agents.main]\nrunner = \"echo\"\n"))
      << sup.Log();
  ASSERT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "hi"}).out, "hi\n");
  const pid_t worker = static_cast<pid_t>(IntField(WorkerOf(home, "agent:main:main"), "pid"));

  int io_threads = 0;
  const auto threads = ThreadsOf(sup.pid());
  ASSERT_GE(threads.size(), 3u);
  for (const Thread& t : threads) {
    const bool loop = t.tid == sup.pid();
    const bool io = t.name.rfind("ZMQbg/IO/", 0) == 0;
    io_threads += io;
    EXPECT_EQ(common::ThreadScheduling(t.tid), loop || io ? expected : LoopScheduling::kNormal)
        << "thread " << t.tid << " (" << t.name << ")";
  }
  EXPECT_EQ(io_threads, 1) << "libzmq's I/O thread, found by its name";
  for (const Thread& t : ThreadsOf(worker)) {
    EXPECT_EQ(common::ThreadScheduling(t.tid), LoopScheduling::kNormal)
        << "worker thread " << t.tid << " (" << t.name << ")";
  }
  // The supervisor logs what it applied, except when asked for nothing.
  const bool asked_normal = mode_line.find("\"normal\"") != std::string::npos;
  const std::string logged =
      std::string("event=loop_scheduling applied=") + common::LoopSchedulingName(expected);
  EXPECT_EQ(sup.Log().find(logged) != std::string::npos, !asked_normal) << sup.Log();
}

// "Max realtime timeout" of /proc/PID/limits: the soft limit, in µs.
std::string RealtimeTimeoutOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("Max realtime timeout", 0) == 0) {
      std::istringstream fields(line.substr(std::strlen("Max realtime timeout")));
      std::string soft;
      fields >> soft;
      return soft;
    }
  }
  return "";
}

TEST(LoopSchedulingTest, RealtimeGoesToTheLoopAndTheIoThreadOnlyOrSaysWhyNot) {
  const LoopScheduling given = WhatTheKernelGives(LoopScheduling::kRealtime);
  ExpectLoopScheduling("loop_scheduling = \"realtime\"\n", given);
  if (given == LoopScheduling::kRealtime) {
    // The guard: 200 ms of CPU without sleeping, then SIGXCPU. The probe above set
    // this process's own limit, which a child inherits: lift it first, so that
    // what the supervisor shows is what it set itself.
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    ASSERT_EQ(::setrlimit(RLIMIT_RTTIME, &unlimited), 0);
    TempHome home;
    SupervisorProcess sup(home);
    ASSERT_TRUE(
        sup.Start("[supervisor]\nloop_scheduling = \"realtime\"\n[agents.main]\n"
                  "runner = \"echo\"\n"))
        << sup.Log();
    EXPECT_EQ(RealtimeTimeoutOf(sup.pid()), "200000");
  }
  if (given != LoopScheduling::kRealtime) {
    // Not permitted here (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): the log says so.
    TempHome home;
    SupervisorProcess sup(home);
    ASSERT_TRUE(sup.Start(
        "[supervisor]\nloop_scheduling = \"realtime\"\n[agents.main]\nrunner = \"echo\"\n"))
        << sup.Log();
    EXPECT_NE(sup.Log().find("sched_setscheduler(SCHED_RR)"), std::string::npos) << sup.Log();
  }
}

// The guard itself, on threads of the test: a real-time thread that never sleeps is
// put back on the fair scheduler by the SIGXCPU that RLIMIT_RTTIME brings.
TEST(LoopSchedulingTest, ARealtimeThreadThatNeverSleepsIsPutBackOnTheFairScheduler) {
  if (WhatTheKernelGives(LoopScheduling::kRealtime) != LoopScheduling::kRealtime) {
    GTEST_SKIP() << "SCHED_RR is not permitted here (no CAP_SYS_NICE, RLIMIT_RTPRIO 0)";
  }
  std::atomic<pid_t> tid{0};
  std::atomic<bool> guarded{false};
  std::atomic<bool> was_realtime{false};
  std::atomic<bool> stop{false};
  std::thread spinner([&] {
    tid = static_cast<pid_t>(::gettid());
    while (!guarded) std::this_thread::yield();
    sched_param p{};
    p.sched_priority = 1;
    if (::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &p) != 0) return;
    was_realtime = true;
    // Busy, never sleeping, until the guard has demoted this thread.
    while (!stop &&
           common::ThreadScheduling(static_cast<pid_t>(::gettid())) == LoopScheduling::kRealtime) {
    }
  });
  while (tid == 0) std::this_thread::yield();
  ASSERT_TRUE(common::GuardRealtimeForTest({tid.load()}, 50'000));
  guarded = true;
  const bool demoted =
      WaitFor([] { return common::TakeRealtimeDemotion(); }, std::chrono::seconds(20));
  stop = true;
  spinner.join();
  EXPECT_TRUE(was_realtime);
  EXPECT_TRUE(demoted) << "no SIGXCPU within 20 s of a 50 ms budget";
}

TEST(LoopSchedulingTest, ShortSliceGoesToTheLoopAndTheIoThreadOnlyWhereTheKernelHasIt) {
  ExpectLoopScheduling("loop_scheduling = \"short-slice\"\n",
                       WhatTheKernelGives(LoopScheduling::kShortSlice));
}

TEST(LoopSchedulingTest, NormalLeavesEveryThreadAsStarted) {
  ExpectLoopScheduling("loop_scheduling = \"normal\"\n", LoopScheduling::kNormal);
}

TEST(LoopSchedulingTest, AnUnknownModeIsRefusedWithTheChoicesNamed) {
  TempHome home;
  SupervisorProcess sup(home);
  EXPECT_FALSE(sup.Start("[supervisor]\nloop_scheduling = \"fast\"\n[agents.main]\n"));
  EXPECT_NE(sup.Log().find("supervisor.loop_scheduling: unknown loop_scheduling \"fast\" "
                           "(expected realtime, short-slice or normal)"),
            std::string::npos)
      << sup.Log();
}

TEST(LoopSchedulingTest, AReloadThatChangesItSaysItNeedsARestart) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start("[supervisor]\nloop_scheduling = \"normal\"\n[agents.main]\nrunner = \"echo\"\n"))
      << sup.Log();
  home.Write("laneway.toml",
             "[supervisor]\nloop_scheduling = \"short-slice\"\n[agents.main]\nrunner = \"echo\"\n");
  CliResult reload = RunCli(home, {"reload", "--json"});
  EXPECT_EQ(reload.code, 0) << reload.err;
  EXPECT_NE(reload.out.find("\"needs_restart\":[\"supervisor.loop_scheduling\"]"),
            std::string::npos)
      << reload.out;
}

}  // namespace
}  // namespace laneway::testing
