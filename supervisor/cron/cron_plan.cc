#include "supervisor/cron/cron_plan.h"

namespace laneway::supervisor::cron {

namespace {

// Firings walked per call for cron expressions (an every-minute job down for two
// months); `every` schedules are counted by arithmetic.
constexpr uint64_t kMaxWalk = 100'000;

}  // namespace

Plan PlanDue(const Schedule& schedule, int64_t last, int64_t now, CatchUp catch_up,
             int64_t missed_after_ms) {
  Plan p;
  p.last = last;
  uint64_t due = 0;
  int64_t latest = 0;
  int64_t previous = 0;  // the due firing before `latest`
  if (schedule.kind() == ScheduleKind::kEvery) {
    const int64_t anchor = schedule.anchor_unix_ms();
    const int64_t period = schedule.every_ms();
    auto index = [&](int64_t t) { return t < anchor ? int64_t{0} : (t - anchor) / period; };
    const int64_t first = index(last) + 1;  // the first firing after `last`
    const int64_t upto = index(now);
    if (now >= anchor + period && upto >= first) {
      due = static_cast<uint64_t>(upto - first + 1);
      latest = anchor + upto * period;
      previous = latest - period;
    }
  } else {
    for (std::optional<int64_t> s = schedule.NextAfter(last); s && *s <= now;
         s = schedule.NextAfter(*s)) {
      previous = latest;
      latest = *s;
      if (++due >= kMaxWalk) {
        p.more = true;
        break;
      }
    }
  }
  if (due == 0) return p;
  p.last = latest;
  const bool missed = now - latest > missed_after_ms;
  if (missed && catch_up == CatchUp::kNone) {
    p.skipped = due;
    p.skipped_latest = latest;
    return p;
  }
  p.run = latest;
  p.catch_up = missed;
  p.skipped = due - 1;
  p.skipped_latest = due > 1 ? previous : 0;
  return p;
}

}  // namespace laneway::supervisor::cron
