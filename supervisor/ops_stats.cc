#include "supervisor/ops_stats.h"

#include "supervisor/core_types.h"

namespace laneway::supervisor {

namespace {

double SecondsBetween(common::SteadyTime from, common::SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

void OpsStats::NoteTurnStarted(Turn& t, common::SteadyTime now, int64_t now_unix_ms) {
  // The wait is measured on the wall clock (accepted_unix_ms is all a recovered turn
  // has); a clock step lands in the first bucket instead of going negative.
  if (t.attempts <= 1) queue_wait_.Observe((now_unix_ms - t.accepted_unix_ms) / 1000.0);
  t.started_at = now;
  t.started = true;
}

void OpsStats::NoteTurnEnded(const Turn& t, common::SteadyTime now, int64_t now_unix_ms) {
  RecentTurn r;
  r.turn_id = t.id;
  r.session = t.session;
  r.status = common::TurnStatusName(t.status);
  r.ended_unix_ms = now_unix_ms;
  if (t.started) {
    const double s = SecondsBetween(t.started_at, now);
    turn_duration_.Observe(s);
    r.duration_ms = static_cast<int64_t>(s * 1000);
  }
  recent_.push_back(std::move(r));
  while (recent_.size() > kRecentTurns) recent_.pop_front();
}

void OpsStats::NoteKill(const char* reason) {
  ++kills_[reason != nullptr && *reason ? reason : "unknown"];
}

void OpsStats::NoteRunnerMeta(const common::Value& meta, Counters& c) {
  if (!meta.is_map()) return;
  // Only the openai runner reports a model; exec's stderr_tail says nothing of models.
  if (!meta.Find("model")) return;
  auto attempts = meta.GetIntOr("attempts", 1);
  if (attempts.ok() && *attempts > 0) c.model_requests += static_cast<uint64_t>(*attempts);
  if (const common::Value* usage = meta.Find("usage"); usage && usage->is_map()) {
    auto p = usage->GetIntOr("prompt_tokens", 0);
    auto k = usage->GetIntOr("completion_tokens", 0);
    if (p.ok() && *p > 0) c.model_prompt_tokens += static_cast<uint64_t>(*p);
    if (k.ok() && *k > 0) c.model_completion_tokens += static_cast<uint64_t>(*k);
  }
}

common::Value OpsStats::RecentView() const {
  common::Value rows = common::Value::MakeArray();
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    common::Value r = common::Value::MakeMap();
    r.Set("turn_id", it->turn_id);
    r.Set("session", it->session);
    r.Set("status", it->status);
    r.Set("ended_unix_ms", it->ended_unix_ms);
    r.Set("duration_ms", it->duration_ms >= 0 ? common::Value(it->duration_ms) : common::Value());
    rows.Push(std::move(r));
  }
  return rows;
}

}  // namespace laneway::supervisor
