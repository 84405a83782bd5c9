// Metrics: the core's state as Prometheus text exposition format 0.0.4, for the
// `metrics` control method (GET /metrics on the gateway port), and the one-line
// summary the loop sends systemd as STATUS=.
//
// Contract: every counter of the counters table (counters.h) appears, each under
// its one family (turn outcomes as laneway_turns_total{outcome}, worker kills by
// reason, model tokens by kind, the rest as laneway_<name>_total); gauges come from
// the pool, the session table and the ledger; histograms from OpsStats; and the
// standard process_* metrics from /proc/self. No label carries a session key or
// anything else per-session (cardinality): per-worker detail is `workers --json`.
// Rendering reads a few small /proc files and walks workers and sessions once;
// it allocates but never blocks.
//
// Thread-safety: loop thread only (it reads the core).
#ifndef LANEWAY_SUPERVISOR_METRICS_H_
#define LANEWAY_SUPERVISOR_METRICS_H_

#include <string>

namespace laneway::supervisor {

class Core;

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string RenderMetrics(const Core& core);

// "2 busy, 1 idle, 0 starting of max 64 workers; 3 queued; healthy" (or the reason
// it is not: "unhealthy: 1 stuck, 0 parked, journal failing").
std::string StatusSummary(const Core& core);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_METRICS_H_
