// CronJob: one durable schedule and its run history, as the cron service keeps it
// in memory and the store writes it (docs/cron.md). Plain data plus validation:
// a job is checked whole (FromValue) before anything uses it, and every error
// names the field at fault.
#ifndef LANEWAY_SUPERVISOR_CRON_CRON_JOB_H_
#define LANEWAY_SUPERVISOR_CRON_CRON_JOB_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/status.h"
#include "common/value.h"
#include "supervisor/cron/cron_expr.h"

namespace laneway::supervisor::cron {

enum class CatchUp { kOnce, kNone };
enum class Overlap { kQueue, kSkip };

// One firing: run, skipped or refused.
struct CronRun {
  int64_t scheduled_unix_ms = 0;  // the firing's scheduled instant (0 for none)
  int64_t fired_unix_ms = 0;      // when the supervisor decided it
  uint64_t turn_id = 0;           // 0: no turn (skipped, rejected)
  std::string status;             // a turn status, or "skipped" / "rejected"
  std::string text;               // reply (shortened), error or skip reason
  bool manual = false;            // `cron run`
  uint64_t missed = 0;            // firings this entry stands for when skipped
};

struct CronJob {
  std::string name;
  std::string agent;
  std::string session;  // as given (a bare name or a full key)
  std::string message;
  ScheduleKind kind = ScheduleKind::kEvery;
  std::string spec;  // "15m", "2026-12-24T09:00", "0 9 * * 1-5"
  std::string tz;    // resolved zone name (at / cron)
  bool enabled = true;
  bool deliver = false;
  std::string channel;  // with deliver: the channel kind ("telegram")
  std::string to;       // with deliver: the chat id
  CatchUp catch_up = CatchUp::kOnce;
  Overlap overlap = Overlap::kQueue;
  int64_t created_unix_ms = 0;         // the `every` anchor
  int64_t last_scheduled_unix_ms = 0;  // latest firing decided (run or skipped)
  uint64_t last_turn = 0;              // turn of the latest run (overlap)
  std::deque<CronRun> runs;            // oldest first, at most cron.runs_kept

  Schedule schedule;  // derived from kind/spec/tz/created
  // The next scheduled firing after last_scheduled, if any.
  std::optional<int64_t> Next() const { return schedule.NextAfter(last_scheduled_unix_ms); }
};

const char* CatchUpName(CatchUp c);
const char* OverlapName(Overlap o);

// Names: 1..64 of [A-Za-z0-9_.-].
common::Status CheckJobName(const std::string& name);

// The job as the store and the `cron.*` methods show it (runs excluded).
common::Value JobToValue(const CronJob& job);
common::Value RunToValue(const CronRun& run);

// A job from a `cron.add` request or a stored record: every field checked, the
// schedule parsed. `now_unix_ms` fills created_unix_ms when absent; `stored`
// relaxes the check that an `at` lies in the future.
common::Result<CronJob> JobFromValue(const common::Value& v, int64_t now_unix_ms, bool stored);
common::Result<CronRun> RunFromValue(const common::Value& v);

}  // namespace laneway::supervisor::cron

#endif  // LANEWAY_SUPERVISOR_CRON_CRON_JOB_H_
