// LocalLauncher: workers as local processes, started by a thread of their own so
// that the loop never waits for a fork or an exec.
//
// The thread starts each worker with posix_spawn (glibc: clone(CLONE_VM |
// CLONE_VFORK), so nothing of the supervisor's memory is copied, however large it
// grows) in a new session and process group (so one kill(-pgid) reaches every
// descendant), with an empty signal mask and default dispositions (the supervisor
// blocks signals for its signalfd; a mask survives exec), and with every
// descriptor above stderr closed. The worker asks for PR_SET_PDEATHSIG itself; its
// "parent" is this thread, which lives as long as the supervisor's loop.
//
// The thread runs at the supervisor's nice value plus [supervisor] worker_nice,
// which each child inherits from it.
//
// The processes are children of the supervisor: their exits arrive as SIGCHLD on
// the loop's signalfd, which reaps them with waitpid(-1), as before.
#ifndef LANEWAY_SUPERVISOR_LOCAL_LAUNCHER_H_
#define LANEWAY_SUPERVISOR_LOCAL_LAUNCHER_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "supervisor/launcher.h"

namespace laneway::supervisor {

class LocalLauncher : public Launcher {
 public:
  static common::Result<std::unique_ptr<LocalLauncher>> Start();
  ~LocalLauncher() override;  // finishes the launch in progress, drops the rest, joins

  void Launch(uint64_t worker_id, SpawnSpec spec) override;
  int result_fd() const override { return event_fd_; }
  std::vector<LaunchResult> TakeResults(size_t max) override;
  size_t in_flight() const override { return in_flight_; }
  void SignalGroup(pid_t pid, int sig) override;
  // The launcher thread's id once it runs (0 before): the parent of every worker,
  // so /proc/self/task/<it>/children lists workers and workers being launched only.
  pid_t thread_id() const { return tid_.load(std::memory_order_acquire); }

 private:
  explicit LocalLauncher(int event_fd);
  void Run();
  // This thread's nice value, the supervisor's own plus `more` (at most 19), which
  // its children inherit.
  void ApplyNice(int more);

  const int event_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, SpawnSpec>> requests_;  // guarded by mu_
  std::deque<LaunchResult> results_;                     // guarded by mu_
  bool quit_ = false;                                    // guarded by mu_
  size_t in_flight_ = 0;                                 // loop thread only
  int base_nice_ = 0;    // launcher thread only: the supervisor's nice value
  int thread_nice_ = 0;  // launcher thread only
  bool nice_warned_ = false;
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

// Starts one process the way LocalLauncher does, on the calling thread (the
// benchmarks' spawn floor uses it too). Returns its pid.
common::Result<pid_t> SpawnProcess(const SpawnSpec& spec);

// The directory holding the running executable (from /proc/self/exe).
std::string SelfExeDir();

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_LOCAL_LAUNCHER_H_
