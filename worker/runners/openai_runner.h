// OpenAiRunner: runner = "openai". Each turn is one chat-completions request to an
// OpenAI-compatible server (OpenAI, Ollama, llama.cpp's server, vLLM), streamed:
//
//   messages = system prompt + the session's history (chat_history.h, from the
//              transcript, within history_turns / history_bytes) + the new message
//   POST {base_url}/chat/completions, stream: true, stream_options.include_usage
//
// Each content delta goes to RunContext::Emit as it arrives; TurnOutput.text is
// the whole reply, TurnOutput.meta holds model, usage {prompt_tokens,
// completion_tokens} (when the server said), latency_ms and first_token_ms (from
// the start of the turn), attempts, and on failure http_status and partial (the
// text that arrived before a stream broke). A server that answers with one JSON
// body instead of a stream is handled too.
//
// Failures and retries follow RetryPolicy (retry_policy.h); fallback_models are
// tried in order after a 404 or a non-retryable 5xx. Errors name the server's
// own message. Nothing here outlives the process: laneway cancels a turn by
// killing the worker, and the connection dies with it.
//
// The API key is read per turn from api_key_env (the worker's environment) or
// api_key_file, sent only in the Authorization header, and never logged or put in
// an error. The system prompt file is read per turn too, so an edit takes effect
// on the next turn and a missing file is that turn's clear error.
//
// Thread-safety: Run is called on the worker's runner thread, one turn at a time.
#ifndef LANEWAY_WORKER_RUNNERS_OPENAI_RUNNER_H_
#define LANEWAY_WORKER_RUNNERS_OPENAI_RUNNER_H_

#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "worker/runners/chat_history.h"
#include "worker/runners/http_client.h"
#include "worker/runners/retry_policy.h"
#include "worker/runners/runner.h"

namespace laneway::worker {

// Time as the runner sees it, so a test runs a minute of back-off in no time.
class RunnerClock {
 public:
  virtual ~RunnerClock() = default;
  virtual std::chrono::steady_clock::time_point Now() = 0;
  // Waits `d` or until the context is cancelled.
  virtual void Sleep(std::chrono::milliseconds d, RunContext& context) = 0;
  virtual int64_t UnixSeconds() = 0;
  // Uniform in [0, 1): the back-off's jitter.
  virtual double Random() = 0;
};

// The real clock: steady_clock, sleeping in slices that watch for cancellation.
std::shared_ptr<RunnerClock> RealRunnerClock();

class OpenAiRunner : public Runner {
 public:
  // `clock` null means RealRunnerClock().
  static common::Result<std::unique_ptr<OpenAiRunner>> Create(
      const common::AgentConfig& agent, size_t max_reply_bytes,
      std::shared_ptr<RunnerClock> clock = nullptr, RetryPolicy policy = RetryPolicy());

  TurnOutput Run(const TurnInput& input, RunContext& context) override;

 private:
  struct Attempt;
  OpenAiRunner(const common::AgentConfig& agent, size_t max_reply_bytes,
               std::shared_ptr<RunnerClock> clock, RetryPolicy policy,
               std::unique_ptr<HttpClient> http);

  common::Result<std::string> ReadApiKey() const;
  common::Result<std::string> ReadSystemPrompt() const;
  HttpRequest MakeRequest(const std::string& body, const std::string& key,
                          std::chrono::steady_clock::time_point deadline) const;

  common::AgentConfig agent_;
  std::string url_;
  size_t max_reply_bytes_;
  std::shared_ptr<RunnerClock> clock_;
  RetryPolicy policy_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<TranscriptHistory> history_;  // follows the session's transcript
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_OPENAI_RUNNER_H_
