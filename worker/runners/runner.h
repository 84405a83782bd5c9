// Runner: how a worker turns one inbound message into a reply.
//
// Run() is blocking and is called on the worker's runner thread, one turn at a
// time; the worker's main thread keeps the supervisor connection (heartbeats,
// progress, stop requests) meanwhile. A runner reports failure in its TurnOutput,
// never by throwing.
//
// Streaming: a runner may call RunContext::Emit with each chunk of partial output
// as it is produced; the worker forwards it to the supervisor as a `progress`
// message (docs/protocol.md), which the supervisor hands to whoever subscribed to
// the turn. The final TurnOutput still carries the whole reply: partial output is
// a courtesy to live readers and is never journaled.
//
// Cancellation: a turn is cancelled by killing the worker's process group (laneway's
// one mechanism); RunContext::Cancelled() lets a runner that polls (an HTTP
// transfer, a read loop) stop early when the worker is asked to leave.
#ifndef LANEWAY_WORKER_RUNNERS_RUNNER_H_
#define LANEWAY_WORKER_RUNNERS_RUNNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "common/value.h"

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
  // Optional facts about the run for the transcript line and the turn's outcome
  // (model, usage {prompt_tokens, completion_tokens}, latency_ms, first_token_ms,
  // stderr_tail, partial, ...). Null when the runner has none.
  common::Value meta;
};

// Thread-safety: Emit and Cancelled may be called from the runner thread while the
// worker's main thread runs; implementations synchronise.
class RunContext {
 public:
  virtual ~RunContext() = default;
  // Partial output of the running turn, in order. Empty deltas are ignored.
  virtual void Emit(std::string_view delta) = 0;
  // True once the worker has been asked to stop (the runner should return soon).
  virtual bool Cancelled() const = 0;
};

// A context that drops output: for tests and callers that do not stream.
class NullRunContext : public RunContext {
 public:
  void Emit(std::string_view) override {}
  bool Cancelled() const override { return false; }
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual TurnOutput Run(const TurnInput& input, RunContext& context) = 0;
  // False for runners that return at once without I/O (echo): the worker then runs
  // them on its main thread instead of handing them to its runner thread.
  virtual bool Blocks() const { return true; }
};

// What a runner is built from: the agent's settings as the supervisor sent them in
// `configure` (common/agent_settings.h), plus limits of the worker.
struct RunnerOptions {
  common::AgentConfig agent;
  size_t max_reply_bytes = 1 << 20;
};

common::Result<std::unique_ptr<Runner>> MakeRunner(const RunnerOptions& options);

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_RUNNER_H_
