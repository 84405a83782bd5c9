#include "supervisor/restart_policy.h"

#include <algorithm>

namespace laneway::supervisor {

RestartPolicy::Decision RestartPolicy::OnFault(common::SteadyTime now) {
  ++total_faults_;
  deaths_.push_back(now);
  while (!deaths_.empty() && now - deaths_.front() >= limits_.window) deaths_.pop_front();
  Decision d;
  if (deaths_.size() >= limits_.limit) {
    parked_ = true;
    d.parked = true;
    return d;
  }
  // The first death in the window restarts at once: a single timeout or crash
  // should cost the session's next turn nothing but a worker start. From the second
  // on: backoff, 2x, 4x, ... capped; restart_limit parks a crash loop either way.
  if (deaths_.size() == 1) return d;
  auto delay = limits_.backoff;
  for (size_t i = 2; i < deaths_.size() && delay < limits_.backoff_max; ++i) delay *= 2;
  d.delay = std::min(delay, limits_.backoff_max);
  return d;
}

void RestartPolicy::Reset() {
  deaths_.clear();
  parked_ = false;
}

size_t RestartPolicy::RecentFaults(common::SteadyTime now) const {
  return static_cast<size_t>(std::count_if(deaths_.begin(), deaths_.end(),
                                           [&](auto t) { return now - t < limits_.window; }));
}

}  // namespace laneway::supervisor
