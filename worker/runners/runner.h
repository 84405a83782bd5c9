// Runner: how a worker turns one inbound message into a reply.
//
// Run() is blocking and is called on the worker's runner thread, one turn at a
// time; the worker's main thread keeps the supervisor connection (heartbeats)
// meanwhile. A runner reports failure in its TurnOutput, never by throwing.
#ifndef LANEWAY_WORKER_RUNNERS_RUNNER_H_
#define LANEWAY_WORKER_RUNNERS_RUNNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace laneway::worker {

struct TurnInput {
  uint64_t turn_id = 0;
  std::string agent;
  std::string session;
  std::string message;
  std::string transcript_path;
};

struct TurnOutput {
  bool ok = false;
  std::string text;  // the reply when ok, else the error
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual TurnOutput Run(const TurnInput& input) = 0;
  // False for runners that return at once without I/O (echo): the worker then runs
  // them on its main thread instead of handing them to its runner thread.
  virtual bool Blocks() const { return true; }
};

struct RunnerOptions {
  common::RunnerKind kind = common::RunnerKind::kEcho;
  std::vector<std::string> command;  // exec
  size_t max_reply_bytes = 1 << 20;
};

common::Result<std::unique_ptr<Runner>> MakeRunner(const RunnerOptions& options);

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_RUNNER_H_
