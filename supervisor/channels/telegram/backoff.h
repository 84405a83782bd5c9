// Backoff: doubling retry delays with jitter, for the poller and for deliveries.
// Delay n (n = failures so far, from 1) is min(max, base * 2^(n-1)) scaled by a
// random factor in [0.5, 1.0], so pollers that failed together do not retry in step.
// Pure apart from the seeded generator; not thread-safe (one owner).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BACKOFF_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace laneway::supervisor::telegram {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max, uint32_t seed)
      : base_(base), max_(std::max(base, max)), rng_(seed) {}

  // The delay before the next try, counting one more failure.
  std::chrono::milliseconds Next() {
    if (failures_ < 62) ++failures_;
    int64_t d = base_.count();
    for (uint32_t i = 1; i < failures_ && d < max_.count(); ++i) d *= 2;
    d = std::min<int64_t>(d, max_.count());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(d * jitter(rng_))));
  }
  void Reset() { failures_ = 0; }
  uint32_t failures() const { return failures_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  std::mt19937 rng_;
  uint32_t failures_ = 0;
};

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BACKOFF_H_
