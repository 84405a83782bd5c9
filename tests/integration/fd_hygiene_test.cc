// Every descriptor the supervisor holds is close-on-exec, including those a library
// opened for it: a worker holds its own socket, lock and transcript, and nothing of
// the supervisor's (STYLE.md; issue "One core, many front doors").
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

std::vector<std::string> FdTargets(pid_t pid) {
  std::vector<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char buf[PATH_MAX];
    ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
    if (n > 0) out.emplace_back(buf, static_cast<size_t>(n));
  }
  ::closedir(d);
  return out;
}

TEST(FdHygieneTest, AWorkerInheritsNoDescriptorOfTheSupervisor) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  auto turn = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  const pid_t worker = static_cast<pid_t>(IntField(WorkerOf(home, "agent:main:main"), "pid"));
  const std::vector<std::string> fds = FdTargets(worker);
  ASSERT_FALSE(fds.empty());
  bool has_session_lock = false;
  for (const std::string& target : fds) {
    EXPECT_EQ(target.find("supervisor.lock"), std::string::npos) << target;
    EXPECT_EQ(target.find("journal"), std::string::npos) << target;
    EXPECT_EQ(target.find("sessions.json"), std::string::npos) << target;
    has_session_lock |= target.find(".lock") != std::string::npos;
  }
  EXPECT_TRUE(has_session_lock) << "the worker holds its own session lock";
  home.OpenGate();
  EXPECT_EQ(turn.get().code, 0);
}

}  // namespace
}  // namespace laneway::testing
