// RetryPolicy: what the openai runner does after an attempt that did not answer.
// Pure logic, no clock of its own and no I/O, so every rule is a unit test.
//
//   401, 403                 fail at once (a wrong key does not get better)
//   404                      next fallback model, else fail
//   429                      retry after Retry-After (or back-off), unless the body
//                            says the quota is exhausted: then fail at once
//   500, 502, 503, 504, 529  retry with back-off
//   other 5xx                next fallback model, else fail
//   other statuses           fail at once
//   no answer at all         (refused, reset, DNS, connect timeout) retry, at most
//                            kMaxTransportAttempts attempts in all
// A retry happens only if its delay ends before the turn's deadline, and at most
// kMaxAttempts attempts are made per model. Back-off is exponential with full
// jitter: attempt n waits a random time in [d/2, d], d = min(base * 2^(n-1), cap).
#ifndef LANEWAY_WORKER_RUNNERS_RETRY_POLICY_H_
#define LANEWAY_WORKER_RUNNERS_RETRY_POLICY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace laneway::worker {

struct AttemptFailure {
  long http_status = 0;    // 0 when no response arrived
  std::string error_code;  // error.code / error.type from the body
  std::string message;     // the server's message (or the transport error)
  std::optional<std::chrono::milliseconds> retry_after;  // from the response headers
};

enum class RetryAction { kFail, kRetry, kFallback };

struct RetryDecision {
  RetryAction action = RetryAction::kFail;
  std::chrono::milliseconds delay{0};  // kRetry only
  std::string why;                     // for the error when failing after all
};

class RetryPolicy {
 public:
  static constexpr int kMaxAttempts = 8;
  static constexpr int kMaxTransportAttempts = 3;

  RetryPolicy(std::chrono::milliseconds base = std::chrono::milliseconds(500),
              std::chrono::milliseconds cap = std::chrono::seconds(20))
      : base_(base), cap_(cap) {}

  // `attempt` is 1 for the first attempt with this model; `remaining` is the time
  // left before the turn's deadline; `random` is uniform in [0, 1).
  RetryDecision Decide(const AttemptFailure& failure, int attempt,
                       std::chrono::milliseconds remaining, double random) const;

  std::chrono::milliseconds Backoff(int attempt, double random) const;

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
};

// Retry-After: delay-seconds or an HTTP-date (RFC 9110), relative to `now_unix`.
// Also accepts OpenAI's "retry-after-ms" when `in_ms`. nullopt if unparsable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, bool in_ms,
                                                         int64_t now_unix);

// True when a 429's code or message says the quota (not a rate) is used up.
bool IsQuotaExhausted(std::string_view code, std::string_view message);

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_RETRY_POLICY_H_
