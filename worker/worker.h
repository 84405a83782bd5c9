// Worker: the process that runs one session's turns, one at a time.
//
// Life: connect a DEALER back to the supervisor (routing id "w<id>"); a spare
// worker (--spare) says hello without a session and waits for `bind` to learn its
// session and agent. Then: take the session's kernel lock, open (and repair) the
// transcript, say hello, build the runner from the supervisor's `configure`
// message (the agent's settings), then loop: acknowledge each `run` at once (a
// heartbeat with its turn id), run the turn on a runner thread while the main
// thread keeps the connection (heartbeats every interval while the turn runs;
// nothing while idle), append each turn and its outcome to the transcript, report
// "done". Exits on "stop", when the supervisor dies (PR_SET_PDEATHSIG, and a
// getppid() check), or when the connection carries garbage.
#ifndef LANEWAY_WORKER_WORKER_H_
#define LANEWAY_WORKER_WORKER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace laneway::worker {

// Exit codes (the supervisor logs them; docs/operations.md).
inline constexpr int kWorkerExitOk = 0;
inline constexpr int kWorkerExitUsage = 2;
inline constexpr int kWorkerExitSupervisorGone = 3;
inline constexpr int kWorkerExitProtocol = 4;
inline constexpr int kWorkerExitSetup = 5;
inline constexpr int kWorkerExitLockHeld = 75;

struct WorkerOptions {
  std::string endpoint;
  uint64_t worker_id = 0;
  std::string session;
  std::string agent;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds lock_wait{5000};
  pid_t supervisor_pid = 0;
  size_t max_message_bytes = 1 << 20;
  bool spare = false;  // no session yet: wait for `bind`
};

// Parses argv; on error returns a message in *error and false.
bool ParseWorkerArgs(int argc, char** argv, WorkerOptions* out, std::string* error);

// Runs the worker; returns the process exit code.
int RunWorker(const WorkerOptions& options);

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_WORKER_H_
