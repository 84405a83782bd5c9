#include "supervisor/counters.h"

#include <iterator>

namespace laneway::supervisor {

namespace {

using C = Counters;
constexpr CounterDef kCounters[] = {
    {"turns_accepted", "Turns accepted (journaled and acknowledged).", &C::turns_accepted, true},
    {"turns_replied", "Turns that ended with a reply.", &C::turns_replied, true},
    {"turns_failed", "Turns that ended failed (runner error, crash, protocol error, poison).",
     &C::turns_failed, true},
    {"turns_timed_out", "Turns that passed run_timeout; their worker was killed.",
     &C::turns_timed_out, true},
    {"turns_cancelled", "Turns cancelled by an operator or an interrupt-mode turn.",
     &C::turns_cancelled, true},
    {"turns_rejected", "Accepted turns ended rejected (session parked, agent removed).",
     &C::turns_rejected, true},
    {"turns_interrupted", "Turns that were running when a supervisor stopped and are not re-run.",
     &C::turns_interrupted, true},
    {"submits_rejected", "Submits refused before acceptance (no turn id).", &C::submits_rejected,
     true},
    {"turns_forgotten",
     "Finished turns that fell out of the remembered window (remember_turns, remember_for).",
     &C::turns_forgotten, true},
    {"recovered_turns", "Unfinished turns found in the journal at start and re-queued.",
     &C::recovered_turns, true},
    {"recovered_unfinished", "Unfinished turns found in the journal at start.",
     &C::recovered_unfinished, true},
    {"bad_control_messages", "Control requests that could not be decoded or were malformed.",
     &C::bad_control_messages, true},
    {"worker_protocol_errors", "Workers killed for breaking the worker protocol.",
     &C::worker_protocol_errors, true},
    {"stale_worker_messages", "Messages from workers already given up on, dropped.",
     &C::stale_worker_messages, true},
    {"undeliverable", "Messages that could not be handed to their peer.", &C::undeliverable, true},
    {"worker_spawns", "Workers started.", &C::worker_spawns, true},
    {"worker_spawn_failures", "Workers that could not be started.", &C::worker_spawn_failures,
     true},
    {"worker_kills", "Workers signalled by the supervisor.", &C::worker_kills, true},
    {"journal_errors", "Journal write or sync failures.", &C::journal_errors, true},
    {"idempotent_attaches", "Submits that attached to an earlier turn by idempotency key.",
     &C::idempotent_attaches, true},
    {"progress_messages", "Partial-output messages received from workers.", &C::progress_messages,
     true},
    {"deliveries_confirmed", "Channel deliveries confirmed and journaled.",
     &C::deliveries_confirmed, true},
    {"journal_rewrites", "Journal rewritten from memory after a failed sync.", &C::journal_rewrites,
     true},
    {"worker_restarts", "Workers started again after their worker died (restart policy).",
     &C::worker_restarts, true},
    {"max_workers_reached", "Sessions that had to wait for a worker slot (max_workers).",
     &C::max_workers_reached, true},
    {"model_requests", "Model requests made by openai runners (attempts, with fallbacks).",
     &C::model_requests, true},
    {"model_prompt_tokens", "Prompt tokens the model servers reported.", &C::model_prompt_tokens,
     true},
    {"model_completion_tokens", "Completion tokens the model servers reported.",
     &C::model_completion_tokens, true},
    {"peers_refused",
     "IPC connections refused by peer credentials (uid not allowed, or not a worker's pid).",
     &C::peers_refused, true},
    {"submits_over_bytes",
     "Submits refused because the session's or all sessions' queued bytes were at their bound.",
     &C::submits_over_bytes, true},
    {"journal_corrupt_records", "Corrupt journal records skipped at start.",
     &C::journal_corrupt_records, false},
    {"journal_truncated_bytes", "Bytes of torn journal tail cut at start.",
     &C::journal_truncated_bytes, false},
};

}  // namespace

const CounterDef* CounterTable(size_t* count) {
  *count = std::size(kCounters);
  return kCounters;
}

common::Value CountersView(const Counters& c) {
  common::Value v = common::Value::MakeMap();
  for (const CounterDef& d : kCounters) {
    if (d.in_status_counters) v.Set(d.name, c.*(d.field));
  }
  return v;
}

}  // namespace laneway::supervisor
