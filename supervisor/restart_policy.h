// Restart intensity (OTP) with back-off (s6): a session whose worker dies of a
// fault `limit` times within `window` is parked: its turns are rejected until
// an operator restarts it. The first death in a window restarts at once; from the
// second on, the next start waits a back-off that doubles from `backoff` up to
// `backoff_max`.
//
// Pure logic over an injected time; unit-tested without sleeping.
#ifndef LANEWAY_SUPERVISOR_RESTART_POLICY_H_
#define LANEWAY_SUPERVISOR_RESTART_POLICY_H_

#include <chrono>
#include <cstdint>
#include <deque>

#include "common/clock.h"

namespace laneway::supervisor {

class RestartPolicy {
 public:
  struct Limits {
    uint32_t limit = 5;
    std::chrono::milliseconds window{30000};
    std::chrono::milliseconds backoff{100};
    std::chrono::milliseconds backoff_max{5000};
  };
  struct Decision {
    bool parked = false;
    std::chrono::milliseconds delay{0};  // wait this long before the next start
  };

  explicit RestartPolicy(Limits limits) : limits_(limits) {}

  // A worker of this session died of a fault at `now`.
  Decision OnFault(common::SteadyTime now);
  // Operator restart: un-park and forget past deaths.
  void Reset();
  void set_limits(Limits limits) { limits_ = limits; }

  bool parked() const { return parked_; }
  uint32_t total_faults() const { return total_faults_; }
  // Deaths still inside the window as of `now`.
  size_t RecentFaults(common::SteadyTime now) const;

 private:
  Limits limits_;
  std::deque<common::SteadyTime> deaths_;
  bool parked_ = false;
  uint32_t total_faults_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_RESTART_POLICY_H_
