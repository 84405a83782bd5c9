#include "worker/runners/retry_policy.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace laneway::worker {

namespace {

using std::chrono::milliseconds;

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool IsRetryable5xx(long status) {
  return status == 500 || status == 502 || status == 503 || status == 504 || status == 529;
}

}  // namespace

milliseconds RetryPolicy::Backoff(int attempt, double random) const {
  int64_t d = base_.count();
  for (int i = 1; i < attempt && d < cap_.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, cap_.count());
  random = std::clamp(random, 0.0, 1.0);
  return milliseconds(d / 2 + static_cast<int64_t>(static_cast<double>(d - d / 2) * random));
}

RetryDecision RetryPolicy::Decide(const AttemptFailure& f, int attempt, milliseconds remaining,
                                  double random) const {
  RetryDecision d;
  const long s = f.http_status;
  bool retryable = false;
  if (s == 0) {
    if (attempt >= kMaxTransportAttempts) {
      d.why = "gave up after " + std::to_string(attempt) + " attempts";
      return d;
    }
    retryable = true;
  } else if (s == 401 || s == 403) {
    d.why = "not retried";
    return d;
  } else if (s == 404 || (s >= 500 && s <= 599 && !IsRetryable5xx(s))) {
    d.action = RetryAction::kFallback;
    return d;
  } else if (s == 429) {
    if (IsQuotaExhausted(f.error_code, f.message)) {
      d.why = "quota exhausted, not retried";
      return d;
    }
    retryable = true;
  } else if (IsRetryable5xx(s)) {
    retryable = true;
  }
  if (!retryable) {
    d.why = "not retried";
    return d;
  }
  if (attempt >= kMaxAttempts) {
    d.why = "gave up after " + std::to_string(attempt) + " attempts";
    return d;
  }
  milliseconds delay = f.retry_after ? *f.retry_after : Backoff(attempt, random);
  if (delay >= remaining) {
    d.why = "retry in " + std::to_string(delay.count()) + "ms would pass the turn's run_timeout";
    return d;
  }
  d.action = RetryAction::kRetry;
  d.delay = delay;
  return d;
}

std::optional<milliseconds> ParseRetryAfter(std::string_view value, bool in_ms, int64_t now_unix) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  bool digits =
      std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    if (value.size() > 9) return milliseconds(INT32_MAX);  // absurd: treat as "too long"
    int64_t n = std::stoll(std::string(value));
    return in_ms ? milliseconds(n) : milliseconds(n * 1000);
  }
  if (in_ms) return std::nullopt;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  struct tm tm {};
  const char* end = ::strptime(std::string(value).c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  int64_t when = static_cast<int64_t>(::timegm(&tm));
  return milliseconds(std::max<int64_t>(0, when - now_unix) * 1000);
}

bool IsQuotaExhausted(std::string_view code, std::string_view message) {
  return code == "insufficient_quota" || ContainsNoCase(message, "quota") ||
         ContainsNoCase(message, "billing");
}

}  // namespace laneway::worker
