// OpsStats: what the operations views (GET /metrics, the control page) need beyond
// the counters table (counters.h): the latency histograms, kills by reason and a
// short ring of recently ended turns. The core parts record into it with one call
// where a turn starts or ends, a worker is killed, a journal sync completes or a
// runner reports its model usage; metrics.cc and the `recent_turns` view read it.
//
// Contract: no per-session label ever comes out of here as a metric (cardinality):
// kill reasons are the worker state table's static reason strings, a bounded set.
// The recent ring holds at most kRecentTurns entries, newest last.
//
// Thread-safety: none; loop thread only.
#ifndef LANEWAY_SUPERVISOR_OPS_STATS_H_
#define LANEWAY_SUPERVISOR_OPS_STATS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/value.h"
#include "supervisor/counters.h"
#include "supervisor/histogram.h"

namespace laneway::supervisor {

struct Turn;

class OpsStats {
 public:
  static constexpr size_t kRecentTurns = 50;

  struct RecentTurn {
    uint64_t turn_id = 0;
    std::string session;
    std::string status;
    int64_t ended_unix_ms = 0;
    int64_t duration_ms = -1;  // start to end; -1: never started (rejected, interrupted)
  };

  // A turn is handed to a worker (every attempt). Records the queue wait (accept to
  // first start) once, and stamps t.started_at for the duration.
  void NoteTurnStarted(Turn& t, common::SteadyTime now, int64_t now_unix_ms);
  // A turn got its one outcome.
  void NoteTurnEnded(const Turn& t, common::SteadyTime now, int64_t now_unix_ms);
  void NoteKill(const char* reason);
  void NoteJournalSync(double seconds) { journal_sync_.Observe(seconds); }
  // A runner's `meta` of a finished batch: model requests (attempts) and token usage
  // (openai runner), into `c`.
  static void NoteRunnerMeta(const common::Value& meta, Counters& c);

  const Histogram& turn_duration() const { return turn_duration_; }
  const Histogram& queue_wait() const { return queue_wait_; }
  const Histogram& journal_sync() const { return journal_sync_; }
  const std::map<std::string, uint64_t>& kills_by_reason() const { return kills_; }
  const std::deque<RecentTurn>& recent() const { return recent_; }
  // [{turn_id, session, status, ended_unix_ms, duration_ms}], newest first.
  common::Value RecentView() const;

 private:
  // Seconds; turns run from milliseconds (echo) to many minutes (agents).
  Histogram turn_duration_{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                           5,     10,   30,    60,   120, 300,  600, 1800};
  Histogram queue_wait_{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  // fdatasync: sub-millisecond on an idle SSD, seconds on a struggling disk.
  Histogram journal_sync_{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  std::map<std::string, uint64_t> kills_;
  std::deque<RecentTurn> recent_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_OPS_STATS_H_
