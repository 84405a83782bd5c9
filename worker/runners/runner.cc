#include "worker/runners/runner.h"

#include "worker/runners/echo_runner.h"
#include "worker/runners/exec_runner.h"

namespace laneway::worker {

common::Result<std::unique_ptr<Runner>> MakeRunner(const RunnerOptions& options) {
  switch (options.agent.runner) {
    case common::RunnerKind::kEcho:
      return std::unique_ptr<Runner>(new EchoRunner());
    case common::RunnerKind::kExec:
      if (options.agent.command.empty())
        return common::Status::InvalidArgument("exec runner needs a command");
      return std::unique_ptr<Runner>(new ExecRunner(options.agent.command, options.max_reply_bytes));
    case common::RunnerKind::kOpenAi:
      return common::Status::InvalidArgument("the openai runner is not part of this build yet");
  }
  return common::Status::InvalidArgument("unknown runner");
}

}  // namespace laneway::worker
