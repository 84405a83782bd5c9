// EchoRunner: replies with the message. The built-in default agent uses it, and
// so do tests and benchmarks that measure laneway without an agent's cost.
#ifndef LANEWAY_WORKER_RUNNERS_ECHO_RUNNER_H_
#define LANEWAY_WORKER_RUNNERS_ECHO_RUNNER_H_

#include "worker/runners/runner.h"

namespace laneway::worker {

class EchoRunner : public Runner {
 public:
  TurnOutput Run(const TurnInput& input, RunContext&) override { return {true, input.message, {}}; }
  bool Blocks() const override { return false; }
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_ECHO_RUNNER_H_
