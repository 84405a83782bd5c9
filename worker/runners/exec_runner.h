// ExecRunner: runs the agent's command for each turn. The message goes to its
// stdin, its stdout is the reply; a non-zero exit (or a signal) is a failed turn
// carrying the tail of its stderr. Stdout is streamed (RunContext::Emit) as it is read.
// The reply is complete when the command exits (then the pipes are drained for
// kDrainAfterExit): a background child holding stdout does not delay it. The child stays in the
// worker's process group, so the supervisor's kill of the group reaches it and everything it forks.
//
// Environment added for the child: LANEWAY_AGENT, LANEWAY_SESSION,
// LANEWAY_TURN_ID, LANEWAY_TRANSCRIPT.
#ifndef LANEWAY_WORKER_RUNNERS_EXEC_RUNNER_H_
#define LANEWAY_WORKER_RUNNERS_EXEC_RUNNER_H_

#include <chrono>
#include <string>
#include <vector>

#include "worker/runners/runner.h"

namespace laneway::worker {

class ExecRunner : public Runner {
 public:
  static constexpr size_t kStderrTailBytes = 2048;
  // How long the pipes are still read after the command exited.
  static constexpr std::chrono::milliseconds kDrainAfterExit{200};

  ExecRunner(std::vector<std::string> command, size_t max_reply_bytes)
      : command_(std::move(command)), max_reply_bytes_(max_reply_bytes) {}
  TurnOutput Run(const TurnInput& input, RunContext& context) override;

 private:
  std::vector<std::string> command_;
  size_t max_reply_bytes_;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_EXEC_RUNNER_H_
