#include "worker/runners/runner.h"

#include "worker/runners/echo_runner.h"
#include "worker/runners/exec_runner.h"
#include "worker/runners/openai_runner.h"

namespace laneway::worker {

common::Result<std::unique_ptr<Runner>> MakeRunner(const RunnerOptions& options) {
  switch (options.agent.runner) {
    case common::RunnerKind::kEcho:
      return std::unique_ptr<Runner>(new EchoRunner());
    case common::RunnerKind::kExec:
      if (options.agent.command.empty())
        return common::Status::InvalidArgument("exec runner needs a command");
      return std::unique_ptr<Runner>(
          new ExecRunner(options.agent.command, options.max_reply_bytes));
    case common::RunnerKind::kOpenAi: {
      auto r = OpenAiRunner::Create(options.agent, options.max_reply_bytes);
      if (!r.ok()) return r.status();
      return std::unique_ptr<Runner>(std::move(r).value());
    }
  }
  return common::Status::InvalidArgument("unknown runner");
}

}  // namespace laneway::worker
