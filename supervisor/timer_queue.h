// TimerQueue: a min-heap of deadlines for the core loop. Timers are never
// cancelled; each carries a token and the handler checks, when it fires,
// whether what it was armed for is still the case (a lazily invalidated timer).
#ifndef LANEWAY_SUPERVISOR_TIMER_QUEUE_H_
#define LANEWAY_SUPERVISOR_TIMER_QUEUE_H_

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "common/clock.h"

namespace laneway::supervisor {

enum class TimerKind : uint8_t {
  kRunDeadline,   // target = worker id (one pending per worker)
  kSilence,       // target = worker id
  kGrace,         // target = worker id, token = stop sequence
  kIdle,          // target = worker id (one pending per worker)
  kBackoff,       // target = session serial
  kDrain,         // shutdown's drain_timeout
  kHousekeeping,  // periodic: session index, journal compaction, reclaiming slots
  kCron,          // cron/cron_service.h: token 0 = schedule, 1 = jobs-file write poll
};

struct Timer {
  common::SteadyTime when;
  TimerKind kind;
  uint64_t target = 0;
  uint64_t token = 0;
};

class TimerQueue {
 public:
  void Arm(const Timer& t) { heap_.push(t); }
  // The earliest deadline, if any.
  std::optional<common::SteadyTime> Next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().when;
  }
  // Pops one timer due at `now`.
  std::optional<Timer> PopDue(common::SteadyTime now) {
    if (heap_.empty() || heap_.top().when > now) return std::nullopt;
    Timer t = heap_.top();
    heap_.pop();
    return t;
  }
  size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const { return a.when > b.when; }
  };
  std::priority_queue<Timer, std::vector<Timer>, Later> heap_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_TIMER_QUEUE_H_
