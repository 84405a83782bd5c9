// Launcher: how the core gets worker processes (DESIGN.md "Scaling"). The core asks
// for a worker and goes on; the launcher starts it somewhere else (a thread of the
// supervisor for local processes; a Kubernetes launcher would create a pod) and
// hands the result back on the loop thread. Nothing in the core assumes more of a
// worker than this interface and the worker protocol.
//
// Contract:
//  - Launch() never blocks and never fails by itself: every launch asked for comes
//    back exactly once from TakeResults(), with the worker's pid or the error.
//  - result_fd() turns readable while results wait (the loop polls it); -1 when
//    results are available synchronously (the unit tests' fake).
//  - SignalGroup() reaches the worker and everything it started that stayed in its
//    process group.
//  - Thread-safety: every method is called from the loop thread.
#ifndef LANEWAY_SUPERVISOR_LAUNCHER_H_
#define LANEWAY_SUPERVISOR_LAUNCHER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace laneway::supervisor {

struct SpawnSpec {
  std::string program;                                         // absolute path of laneway-worker
  std::vector<std::string> args;                               // argv[1..]
  std::vector<std::pair<std::string, std::string>> extra_env;  // added to the inherited env
  int nice = 0;  // added to the supervisor's nice value for the child ([supervisor] worker_nice)
};

struct LaunchResult {
  uint64_t worker_id = 0;
  pid_t pid = 0;      // > 0 on success (the worker leads its own process group)
  std::string error;  // when pid == 0
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual void Launch(uint64_t worker_id, SpawnSpec spec) = 0;
  virtual int result_fd() const = 0;
  // Up to `max` finished launches, in the order they finished.
  virtual std::vector<LaunchResult> TakeResults(size_t max) = 0;
  // Launches asked for whose results were not taken yet.
  virtual size_t in_flight() const = 0;
  virtual void SignalGroup(pid_t pid, int sig) = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_LAUNCHER_H_
