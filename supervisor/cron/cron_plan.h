// PlanDue: what a job's schedule asks for at a given wall-clock instant — the one
// decision behind every firing, catch-up and skip (docs/cron.md). Pure: the
// caller passes the instants, so tests drive downtime, DST and clock jumps with
// numbers.
//
// Rules:
//  - Only firings strictly after `last` (the latest firing already decided) and at
//    or before `now` are due: nothing fires early, and nothing fires twice
//    whichever way the clock moves (after a backward jump `now` < `last` and
//    nothing is due until the clock passes `last` again).
//  - At most one run per call: the latest due firing. Earlier due firings (the
//    supervisor was down, the clock jumped forward, the loop was late) are
//    recorded as one skip.
//  - The latest due firing is "missed" when it is more than `missed_after` late;
//    a missed firing runs only with catch_up = once.
#ifndef LANEWAY_SUPERVISOR_CRON_CRON_PLAN_H_
#define LANEWAY_SUPERVISOR_CRON_CRON_PLAN_H_

#include <cstdint>
#include <optional>

#include "supervisor/cron/cron_expr.h"
#include "supervisor/cron/cron_job.h"

namespace laneway::supervisor::cron {

struct Plan {
  std::optional<int64_t> run;    // scheduled instant to run now
  bool catch_up = false;         // `run` is a missed firing run late (catch_up = once)
  uint64_t skipped = 0;          // due firings recorded as skipped
  int64_t skipped_latest = 0;    // the latest of them
  int64_t last = 0;              // the job's `last` after this decision
  bool more = false;             // the search stopped at its bound: plan again at once
};

Plan PlanDue(const Schedule& schedule, int64_t last, int64_t now, CatchUp catch_up,
             int64_t missed_after_ms);

}  // namespace laneway::supervisor::cron

#endif  // LANEWAY_SUPERVISOR_CRON_CRON_PLAN_H_
