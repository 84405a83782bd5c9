#include "supervisor/spawner.h"

#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <climits>

namespace laneway::supervisor {

namespace bp = boost::process;

namespace {

// Runs in the child after fork, before exec: async-signal-safe calls only.
struct ChildSetup : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // Nothing of the supervisor's survives exec but stdio: whatever a library
    // opened without O_CLOEXEC is closed at exec. (Marking, not closing: Boost's
    // own error pipe must live until exec to report a failed exec.)
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  }
};

}  // namespace

common::Result<pid_t> ProcessSpawner::Spawn(const SpawnSpec& spec) {
  try {
    bp::environment env = boost::this_process::environment();
    for (const auto& [k, v] : spec.extra_env) env[k] = v;
    bp::child child(bp::exe = spec.program, bp::args = spec.args, bp::env = env, ChildSetup{});
    pid_t pid = child.id();
    // The core loop reaps with waitpid(-1); the child object must not wait or kill.
    child.detach();
    return pid;
  } catch (const std::exception& e) {
    return common::Status::IoError("spawn " + spec.program + ": " + e.what());
  }
}

std::string SelfExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace laneway::supervisor
