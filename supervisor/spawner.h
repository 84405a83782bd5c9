// Spawner: starts a worker process (fork+exec through Boost.Process). The seam
// lets unit tests of the core logic run without real processes.
//
// The child, between fork and exec: becomes the leader of a new session and
// process group (so one kill(-pgid) reaches every descendant), gets an empty
// signal mask and default dispositions (the supervisor blocks signals for its
// signalfd; a mask survives exec), and asks for SIGTERM when the supervisor dies.
#ifndef LANEWAY_SUPERVISOR_SPAWNER_H_
#define LANEWAY_SUPERVISOR_SPAWNER_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace laneway::supervisor {

struct SpawnSpec {
  std::string program;                                         // absolute path of laneway-worker
  std::vector<std::string> args;                               // argv[1..]
  std::vector<std::pair<std::string, std::string>> extra_env;  // added to the inherited env
};

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Returns the child's pid (= its process group id). Never throws.
  virtual common::Result<pid_t> Spawn(const SpawnSpec& spec) = 0;
};

class ProcessSpawner : public Spawner {
 public:
  common::Result<pid_t> Spawn(const SpawnSpec& spec) override;
};

// The directory holding the running executable (from /proc/self/exe).
std::string SelfExeDir();

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SPAWNER_H_
