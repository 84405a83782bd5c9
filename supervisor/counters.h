// The core's counters: one table of name, help text and field, so that `status`
// and GET /metrics (metrics.cc) list exactly the same counters with the same words.
#ifndef LANEWAY_SUPERVISOR_COUNTERS_H_
#define LANEWAY_SUPERVISOR_COUNTERS_H_

#include <cstdint>

#include "common/value.h"

namespace laneway::supervisor {

struct Counters {
  uint64_t turns_accepted = 0;
  uint64_t turns_replied = 0;
  uint64_t turns_failed = 0;
  uint64_t turns_timed_out = 0;
  uint64_t turns_cancelled = 0;
  uint64_t turns_rejected = 0;
  uint64_t turns_interrupted = 0;
  uint64_t submits_rejected = 0;
  uint64_t recovered_turns = 0;
  uint64_t recovered_unfinished = 0;
  uint64_t bad_control_messages = 0;
  uint64_t worker_protocol_errors = 0;
  uint64_t stale_worker_messages = 0;
  uint64_t undeliverable = 0;
  uint64_t worker_spawns = 0;
  uint64_t worker_spawn_failures = 0;
  uint64_t worker_kills = 0;
  uint64_t journal_errors = 0;
  uint64_t journal_corrupt_records = 0;
  uint64_t journal_truncated_bytes = 0;
  uint64_t idempotent_attaches = 0;
  uint64_t progress_messages = 0;
  uint64_t deliveries_confirmed = 0;
  uint64_t journal_rewrites = 0;
  uint64_t turns_forgotten = 0;
  uint64_t worker_restarts = 0;
  uint64_t max_workers_reached = 0;
  uint64_t model_requests = 0;
  uint64_t model_prompt_tokens = 0;
  uint64_t model_completion_tokens = 0;
  uint64_t peers_refused = 0;
  uint64_t submits_over_bytes = 0;
};

struct CounterDef {
  const char* name;
  const char* help;
  uint64_t Counters::*field;
  bool in_status_counters;  // listed under status.counters (journal ones sit in status.journal)
};

// Every counter, in the order status lists them.
const CounterDef* CounterTable(size_t* count);

// {"turns_accepted": N, ...} for status.counters.
common::Value CountersView(const Counters& c);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_COUNTERS_H_
