// TimerQueue: the core loop's deadlines, ordered by time. Arm returns a handle;
// Cancel removes a timer at once, so the queue holds only timers something still
// waits for (a worker's timers are cancelled when it is released: the queue stays
// a few entries per live worker however many workers came and went).
//
// Handlers still check, when a timer fires, whether what it was armed for is still
// the case (a timer's token says which stop sequence it belongs to, say).
//
// Thread-safety: none; loop thread only.
#ifndef LANEWAY_SUPERVISOR_TIMER_QUEUE_H_
#define LANEWAY_SUPERVISOR_TIMER_QUEUE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/clock.h"

namespace laneway::supervisor {

enum class TimerKind : uint8_t {
  kRunDeadline,   // target = worker id
  kSilence,       // target = worker id: hello deadline, and liveness while a turn runs
  kGrace,         // target = worker id, token = stop sequence
  kIdle,          // target = worker id
  kBackoff,       // target = session serial
  kDrain,         // shutdown's drain_timeout
  kHousekeeping,  // periodic: session index, journal compaction, reclaiming slots
  kExitSettle,    // target = worker id: its exit is decided once its last messages are read
  kSpawnPace,     // the spawn rate allows the next launch
};

struct Timer {
  common::SteadyTime when;
  TimerKind kind;
  uint64_t target = 0;
  uint64_t token = 0;
};

// 0 is never a handle: "no timer".
using TimerHandle = uint64_t;

class TimerQueue {
 public:
  TimerHandle Arm(const Timer& t) {
    const TimerHandle h = next_++;
    by_time_.emplace(Key{t.when, h}, t);
    when_.emplace(h, t.when);
    return h;
  }
  // Removes a pending timer; a handle that already fired or was cancelled (or 0) is
  // ignored.
  void Cancel(TimerHandle h) {
    auto it = when_.find(h);
    if (it == when_.end()) return;
    by_time_.erase(Key{it->second, h});
    when_.erase(it);
  }
  bool Pending(TimerHandle h) const { return when_.count(h) > 0; }
  // The earliest deadline, if any.
  std::optional<common::SteadyTime> Next() const {
    if (by_time_.empty()) return std::nullopt;
    return by_time_.begin()->first.first;
  }
  // Pops one timer due at `now` (the earliest first; equal deadlines in arming order).
  std::optional<Timer> PopDue(common::SteadyTime now) {
    if (by_time_.empty() || by_time_.begin()->first.first > now) return std::nullopt;
    auto it = by_time_.begin();
    Timer t = it->second;
    when_.erase(it->first.second);
    by_time_.erase(it);
    return t;
  }
  size_t size() const { return by_time_.size(); }

 private:
  using Key = std::pair<common::SteadyTime, TimerHandle>;
  std::map<Key, Timer> by_time_;
  std::unordered_map<TimerHandle, common::SteadyTime> when_;
  TimerHandle next_ = 1;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_TIMER_QUEUE_H_
