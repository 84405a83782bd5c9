#include "supervisor/control_service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "common/paths.h"
#include "supervisor/core.h"
#include "supervisor/cron/cron_service.h"
#include "supervisor/metrics.h"
#include "supervisor/origin.h"
#include "supervisor/session_table.h"
#include "supervisor/subagents.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::TurnStatus;
using common::Value;

namespace {

int64_t MillisBetween(common::SteadyTime from, common::SteadyTime to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// Resident set size in KiB from /proc/<pid>/statm, 0 if unreadable.
int64_t RssKb(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// The "id" of a request that could not be decoded whole (too large, say), so that
// its sender still gets the refusal as the answer to its request: 0 if unreadable.
int64_t RequestIdOf(const void* data, size_t size) {
  auto v = common::DecodeMessage(data, size, size + 1);
  if (!v.ok()) return 0;
  auto id = v->GetIntOr("id", 0);
  return id.ok() ? *id : 0;
}

using P = ControlService::Permission;
using CS = ControlService;

}  // namespace

const ControlService::Method* ControlService::FindMethod(std::string_view name) {
  // The one method table of every front door: name, permission, handler.
  static const Method kMethods[] = {
      {common::msg::kSubmit, P::kSubmit, &CS::Submit},
      {common::msg::kWait, P::kRead, &CS::Wait},
      {common::msg::kTurn, P::kRead, &CS::GetTurn},
      {common::msg::kStatus, P::kRead, &CS::View},
      {common::msg::kWorkers, P::kRead, &CS::View},
      {common::msg::kSessions, P::kRead, &CS::View},
      {common::msg::kKill, P::kOperate, &CS::Operate},
      {common::msg::kRestart, P::kOperate, &CS::Operate},
      {common::msg::kCancel, P::kOperate, &CS::Operate},
      {common::msg::kSubscribe, P::kOperate, &CS::Subscribe},
      {common::msg::kDelivered, P::kOperate, &CS::Delivered},
      {common::msg::kShutdown, P::kAdmin, &CS::Shutdown},
      {common::msg::kReload, P::kAdmin, &CS::Reload},
      {common::msg::kPing, P::kRead, &CS::Ping},
      // Cron (docs/cron.md) and subagents (docs/subagents.md).
      {"cron.list", P::kRead, &CS::Cron},
      {"cron.status", P::kRead, &CS::Cron},
      {"cron.runs", P::kRead, &CS::Cron},
      {"cron.add", P::kOperate, &CS::Cron},
      {"cron.update", P::kOperate, &CS::Cron},
      {"cron.remove", P::kOperate, &CS::Cron},
      {"cron.run", P::kOperate, &CS::Cron},
      {"spawn", P::kSubmit, &CS::Spawn},
      {common::msg::kMetrics, P::kRead, &CS::Metrics},
      {common::msg::kRecentTurns, P::kRead, &CS::RecentTurns},
  };
  for (const Method& m : kMethods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

ControlService::Permission ControlService::DoorPermission(Door door) {
  return door == Door::kControl ? P::kAdmin : P::kOperate;
}

void ControlService::OnMessage(const Peer& peer, const void* data, size_t size) {
  Counters& c = core_.counters();
  const uint32_t max = core_.config().supervisor.max_message_bytes;
  if (data == nullptr) {
    ++c.bad_control_messages;
    ReplyError(peer, 0, "bad_request", "a request is exactly one frame after the routing id");
    return;
  }
  auto m = common::DecodeMessage(data, size, max);
  if (!m.ok()) {
    ++c.bad_control_messages;
    LogLine(LogLevel::kDebug, "bad_control_message").Kv("error", m.status().message());
    if (size > max) {
      ReplyError(peer, RequestIdOf(data, size), "too_large",
                 "message too large (" + std::to_string(size) + " bytes > max_message_bytes " +
                     std::to_string(max) + "): " + m.status().message());
    } else {
      ReplyError(peer, RequestIdOf(data, size), "bad_request", m.status().message());
    }
    return;
  }
  auto req = m->GetIntOr("id", 0);
  if (!req.ok()) {
    ++c.bad_control_messages;
    ReplyError(peer, 0, "bad_request", req.status().message());
    return;
  }
  const std::string& type = common::MessageType(*m);
  const Method* method = FindMethod(type);
  if (method == nullptr) {
    ++c.bad_control_messages;
    ReplyError(peer, *req, "unknown_type", "unknown request type '" + type + "'");
    return;
  }
  if (method->permission > DoorPermission(peer.door)) {
    ReplyError(
        peer, *req, "forbidden",
        "'" + type + "' is not allowed through this front door (only on the control socket)");
    return;
  }
  (this->*(method->handler))(peer, *req, *m);
}

void ControlService::Submit(const Peer& peer, int64_t req, const Value& m) {
  auto agent_id = m.GetString("agent");
  auto message = m.GetString("message");
  auto session_arg = m.GetStringOr("session", "main");
  auto wait = m.GetBoolOr("wait", true);
  auto stream = m.GetBoolOr("stream", false);
  auto key = m.GetStringOr("idempotency_key", "");
  if (!agent_id.ok() || !message.ok() || !session_arg.ok() || !wait.ok() || !stream.ok() ||
      !key.ok()) {
    ++core_.counters().bad_control_messages;
    for (const auto& st : {agent_id.status(), message.status(), session_arg.status(), wait.status(),
                           stream.status(), key.status()}) {
      if (!st.ok()) return Reject(peer, req, "", "bad request: " + st.message());
    }
  }
  auto origin = ParseOrigin(m.Find("origin"));
  if (!origin.ok()) {
    ++core_.counters().bad_control_messages;
    return Reject(peer, req, "", "bad request: " + origin.status().message());
  }
  TurnRequest r;
  r.agent = std::move(agent_id).value();
  r.message = std::move(message).value();
  r.session = std::move(session_arg).value();
  r.idempotency_key = std::move(key).value();
  r.origin = std::move(origin).value();
  r.waiter = Waiter{peer, req, *stream};
  r.wait = *wait;
  AcceptResult a = core_.AcceptTurn(std::move(r));
  if (!a.accepted) Reject(peer, req, a.session, a.reject_text, a.retryable);
}

Turn* ControlService::FindTurnFor(const Peer& peer, int64_t req, const Value& m) {
  auto key = m.GetStringOr("idempotency_key", "");
  if (!key.ok()) {
    ReplyError(peer, req, "bad_request", key.status().message());
    return nullptr;
  }
  if (!key->empty()) {
    Turn* t = core_.ledger().FindByKey(*key);
    if (t == nullptr) {
      // A key leaves memory with its turn: whether it ever existed is not known.
      ReplyError(peer, req, "unknown_turn",
                 "no turn with idempotency_key '" + *key +
                     "' (never accepted, or its turn is forgotten: it finished outside the "
                     "retained window)");
    }
    return t;
  }
  auto id = m.GetInt("turn_id");
  if (!id.ok()) {
    ReplyError(peer, req, "bad_request", id.status().message());
    return nullptr;
  }
  Turn* t = *id > 0 ? core_.ledger().Find(static_cast<uint64_t>(*id)) : nullptr;
  if (t == nullptr && *id > 0 && core_.ledger().Forgotten(static_cast<uint64_t>(*id))) {
    ReplyError(peer, req, "forgotten", core_.ledger().ForgottenText(static_cast<uint64_t>(*id)));
  } else if (t == nullptr) {
    ReplyError(peer, req, "unknown_turn",
               "unknown turn " + std::to_string(*id) + ": no turn with this id was ever accepted");
  }
  return t;
}

void ControlService::Wait(const Peer& peer, int64_t req, const Value& m) {
  auto stream = m.GetBoolOr("stream", false);
  if (!stream.ok()) return ReplyError(peer, req, "bad_request", stream.status().message());
  Turn* t = FindTurnFor(peer, req, m);
  if (t == nullptr) return;
  if (t->status != TurnStatus::kPending) return core_.ledger().SendOutcome({peer, req, false}, *t);
  core_.ledger().AddWaiter(*t, {peer, req, *stream});
}

void ControlService::GetTurn(const Peer& peer, int64_t req, const Value& m) {
  if (Turn* t = FindTurnFor(peer, req, m)) ReplyResult(peer, req, TurnView(*t));
}

void ControlService::View(const Peer& peer, int64_t req, const Value& m) {
  const std::string& type = common::MessageType(m);
  if (type == common::msg::kStatus) return ReplyResult(peer, req, StatusView());
  if (type == common::msg::kWorkers) return ReplyResult(peer, req, WorkersView());
  ReplyResult(peer, req, SessionsView());
}

void ControlService::Operate(const Peer& peer, int64_t req, const Value& m) {
  const std::string& type = common::MessageType(m);
  auto key = m.GetString("session");
  if (!key.ok()) return ReplyError(peer, req, "bad_request", key.status().message());
  Session* s = core_.sessions().Find(*key);
  if (s == nullptr) {
    return ReplyError(peer, req, "unknown_session",
                      "unknown session '" + *key + "' (see `laneway sessions`)");
  }
  const Worker* w = core_.pool().Find(s->worker_id);
  Value r = Value::MakeMap();
  r.Set("session", s->key);
  if (type == common::msg::kCancel) {
    if (w == nullptr || !HasTurn(w->state) || !w->running) {
      return ReplyError(peer, req, "not_running", "session " + s->key + " has no running turn");
    }
    r.Set("cancelled_turn", w->running->turn_ids.front());
    core_.pool().Apply(w->id, WorkerEvent::kCancel, "cancelled by an operator (laneway cancel)",
                       nullptr, "operator");
    return ReplyResult(peer, req, std::move(r));
  }
  LogLine(LogLevel::kInfo, "operator_command").Kv("command", type).Kv("session", s->key);
  r.Set("killed_pid", w ? Value(static_cast<int64_t>(w->pid)) : Value());
  if (w) core_.pool().Apply(w->id, WorkerEvent::kOperatorKill);
  if (type == common::msg::kKill) core_.subagents().OnParentKilled(s->key);
  if (type == common::msg::kRestart) {
    r.Set("was_parked", s->policy.parked());
    core_.sessions().Restart(*s);
  }
  ReplyResult(peer, req, std::move(r));
}

void ControlService::Subscribe(const Peer& peer, int64_t req, const Value& m) {
  auto channel = m.GetString("channel");
  if (!channel.ok()) return ReplyError(peer, req, "bad_request", channel.status().message());
  // What is owed goes through the outbox, so this reply (sent now) comes first.
  const int64_t pending = core_.ledger().Subscribe(*channel, peer);
  Value r = Value::MakeMap();
  r.Set("channel", *channel);
  r.Set("pending", pending);
  ReplyResult(peer, req, std::move(r));
}

void ControlService::Delivered(const Peer& peer, int64_t req, const Value& m) {
  auto id = m.GetInt("turn_id");
  if (!id.ok()) return ReplyError(peer, req, "bad_request", id.status().message());
  common::Status st = core_.ledger().MarkDelivered(static_cast<uint64_t>(*id));
  if (!st.ok()) {
    return ReplyError(peer, req,
                      st.code() == common::Status::Code::kNotFound ? "unknown_turn" : "not_ended",
                      st.message());
  }
  Value v = Value::MakeMap();
  v.Set("turn_id", *id);
  Value msg = common::NewMessage(common::msg::kResult);
  msg.Set("id", req);
  msg.Set("data", std::move(v));
  // The confirmation is durable when the channel hears of it.
  core_.ledger().SendAfterCommit(peer, common::EncodeMessage(msg));
}

void ControlService::Shutdown(const Peer& peer, int64_t req, const Value&) {
  core_.BeginShutdown("laneway down");
  Value r = Value::MakeMap();
  r.Set("draining", true);
  r.Set("pid", static_cast<int64_t>(::getpid()));
  ReplyResult(peer, req, std::move(r));
}

void ControlService::Reload(const Peer& peer, int64_t req, const Value&) {
  auto r = core_.Reload();
  if (!r.ok()) return ReplyError(peer, req, "bad_config", r.status().message());
  ReplyResult(peer, req, std::move(r).value());
}

void ControlService::Ping(const Peer& peer, int64_t req, const Value&) {
  Value r = Value::MakeMap();
  r.Set("pong", true);
  ReplyResult(peer, req, std::move(r));
}

void ControlService::Cron(const Peer& peer, int64_t req, const Value& m) {
  core_.cron().Handle(peer, req, m);
}

void ControlService::Spawn(const Peer& peer, int64_t req, const Value& m) {
  core_.subagents().Spawn(peer, req, m);
}

void ControlService::Metrics(const Peer& peer, int64_t req, const Value&) {
  Value r = Value::MakeMap();
  r.Set("text", RenderMetrics(core_));
  r.Set("content_type", kMetricsContentType);
  ReplyResult(peer, req, std::move(r));
}

void ControlService::RecentTurns(const Peer& peer, int64_t req, const Value&) {
  ReplyResult(peer, req, core_.ops().RecentView());
}

void ControlService::Reject(const Peer& peer, int64_t req, const std::string& session,
                            const std::string& reason, bool retryable) {
  ++core_.counters().submits_rejected;
  Value m = common::NewMessage(common::msg::kOutcome);
  m.Set("id", req);
  m.Set("turn_id", nullptr);
  m.Set("session", session);
  m.Set("status", common::TurnStatusName(TurnStatus::kRejected));
  m.Set("error", reason);
  if (retryable) m.Set("retryable", true);
  core_.ledger().SendNow(peer, common::EncodeMessage(m));  // nothing was journaled for it
  LogLine(LogLevel::kInfo, "turn_rejected")
      .Kv("session", session.empty() ? "-" : session)
      .Kv("reason", reason);
}

void ControlService::ReplyError(const Peer& peer, int64_t req, const std::string& code,
                                const std::string& error) {
  Value m = common::NewMessage(common::msg::kError);
  m.Set("id", req);
  m.Set("code", code);
  m.Set("error", error);
  core_.ledger().SendNow(peer, common::EncodeMessage(m));
}

void ControlService::ReplyResult(const Peer& peer, int64_t req, Value data) {
  Value m = common::NewMessage(common::msg::kResult);
  m.Set("id", req);
  m.Set("data", std::move(data));
  core_.ledger().SendNow(peer, common::EncodeMessage(m));
}

Value ControlService::TurnView(const Turn& t) const {
  Value v = Value::MakeMap();
  v.Set("turn_id", t.id);
  v.Set("session", t.session);
  v.Set("agent", t.agent);
  v.Set("status", common::TurnStatusName(t.status));
  if (t.status == TurnStatus::kReplied) {
    v.Set("reply", t.text);
  } else if (t.status != TurnStatus::kPending) {
    v.Set("error", t.text);
  }
  v.Set("origin", t.origin);
  v.Set("accepted_unix_ms", t.accepted_unix_ms);
  if (t.ended_unix_ms != 0) v.Set("ended_unix_ms", t.ended_unix_ms);
  v.Set("idempotency_key", t.idempotency_key.empty() ? Value() : Value(t.idempotency_key));
  v.Set("attempts", t.attempts);
  v.Set("delivered", t.delivered);
  if (!t.meta.is_null()) v.Set("meta", t.meta);
  return v;
}

Value ControlService::StatusView() const {
  const auto now = core_.clock().Now();
  const common::Config& cfg = core_.config();
  const TurnLedger& ledger = core_.ledger();
  Value v = Value::MakeMap();
  // O(turns running): the pool and the session table keep the counts (a walk of
  // 10,000 workers on every call took most of the loop's time in the scale bench).
  const WorkerPool& pool = core_.pool();
  const auto count = [&](WorkerState st) { return static_cast<int64_t>(pool.count(st)); };
  const int64_t busy = count(WorkerState::kBusy), dispatched = count(WorkerState::kDispatched);
  const int64_t idle = count(WorkerState::kIdle), stopping = count(WorkerState::kStopping);
  const int64_t spare = static_cast<int64_t>(pool.starting_spares_ready());
  const int64_t starting = count(WorkerState::kStarting) - spare;
  int64_t running = 0;
  Value stuck = Value::MakeArray();
  pool.ForEachWithTurn([&](const Worker& w) {
    running += w.running ? static_cast<int64_t>(w.running->turn_ids.size()) : 0;
    int64_t age = MillisBetween(w.turn_started, now);
    if (age >= cfg.supervisor.stuck_after.count() && w.running) {
      Value e = Value::MakeMap();
      e.Set("session", w.session);
      e.Set("turn_id", w.running->turn_ids.front());
      e.Set("turn_age_ms", age);
      e.Set("pid", static_cast<int64_t>(w.pid));
      stuck.Push(std::move(e));
    }
  });
  Value parked = Value::MakeArray();
  for (const std::string& key : core_.sessions().parked()) parked.Push(key);
  const int64_t queued = static_cast<int64_t>(core_.sessions().queued_turns());
  const bool journal_ok = ledger.journal_ok();
  const bool healthy = stuck.as_array().empty() && parked.as_array().empty() && journal_ok;
  const Counters& c = core_.counters();
  v.Set("pid", static_cast<int64_t>(::getpid()));
  v.Set("uptime_ms", MillisBetween(core_.started_at(), now));
  v.Set("healthy", healthy);
  v.Set("shutting_down", core_.shutting_down());
  v.Set("home", core_.options().paths.home);
  v.Set("config", cfg.source);
  v.Set("workers", static_cast<int64_t>(core_.pool().live()));
  v.Set("busy", busy);
  v.Set("dispatched", dispatched);
  v.Set("idle", idle);
  v.Set("starting", starting);
  v.Set("spare", spare);
  v.Set("launch_queue", static_cast<int64_t>(core_.pool().launch_queue()));
  v.Set("stopping", stopping);
  v.Set("max_workers", cfg.supervisor.max_workers);
  v.Set("queued", queued);
  v.Set("running", running);
  v.Set("waiting_for_worker", static_cast<int64_t>(core_.sessions().waiting_for_worker()));
  v.Set("sessions", static_cast<int64_t>(core_.sessions().size()));
  v.Set("waiting_clients", ledger.waiting_clients());
  v.Set("timers_pending", static_cast<uint64_t>(core_.timers().size()));
  v.Set("stuck_after_ms", static_cast<int64_t>(cfg.supervisor.stuck_after.count()));
  v.Set("stuck", std::move(stuck));
  v.Set("parked", std::move(parked));
  Value j = Value::MakeMap();
  j.Set("ok", journal_ok);
  j.Set("error", journal_ok ? Value() : Value(ledger.journal_error()));
  j.Set("refusing_submits", ledger.refusing());
  j.Set("bytes", ledger.journal_bytes());
  j.Set("corrupt_records", c.journal_corrupt_records);
  j.Set("truncated_bytes", c.journal_truncated_bytes);
  v.Set("journal", std::move(j));
  v.Set("counters", CountersView(c));
  // How a worker's descendants are made to end with it (docs/operations.md).
  v.Set("containment", "process_group+subreaper_sweep");
  if (core_.options().channel_states) v.Set("channels", core_.options().channel_states());
  return v;
}

Value ControlService::WorkersView() const {
  const auto now = core_.clock().Now();
  Value rows = Value::MakeArray();
  core_.sessions().ForEach([&](const Session& s) {
    const Worker* w = core_.pool().Find(s.worker_id);
    if (w == nullptr && !s.policy.parked()) return;
    Value r = Value::MakeMap();
    r.Set("session", s.key);
    if (w != nullptr) {
      r.Set("worker_id", w->id);
      r.Set("pid", static_cast<int64_t>(w->pid));
      // "dispatched": its turn was sent and not yet acknowledged (a moment, normally).
      r.Set("state", w->spare_ready ? "spare" : WorkerStateName(w->state));
      r.Set("turn_id", w->running ? Value(w->running->turn_ids.front()) : Value());
      r.Set("turn_age_ms",
            HasTurn(w->state) ? Value(MillisBetween(w->turn_started, now)) : Value());
      r.Set("uptime_ms", MillisBetween(w->spawned_at, now));
      r.Set("rss_kb", RssKb(w->pid));
    } else {
      r.Set("worker_id", Value());
      r.Set("pid", Value());
      r.Set("state", "parked");
      r.Set("turn_id", Value());
      r.Set("turn_age_ms", Value());
      r.Set("uptime_ms", Value());
      r.Set("rss_kb", Value());
    }
    r.Set("queue_depth", static_cast<int64_t>(s.queue.turns()));
    r.Set("restarts", s.restarts);
    r.Set("parked", s.policy.parked());
    r.Set("subagent", IsSubagentSession(s.key));
    rows.Push(std::move(r));
  });
  return rows;
}

Value ControlService::SessionsView() const {
  Value rows = Value::MakeArray();
  core_.sessions().ForEach([&](const Session& s) {
    const Worker* w = core_.pool().Find(s.worker_id);
    std::string state = s.policy.parked()                   ? "parked"
                        : w != nullptr                      ? WorkerStateName(w->state)
                        : s.in_backoff                      ? "backoff"
                        : core_.sessions().IsWaiting(s.key) ? "waiting"
                        : s.queue.empty()                   ? "no_worker"
                                                            : "queued";
    Value r = Value::MakeMap();
    r.Set("session", s.key);
    r.Set("agent", s.agent);
    r.Set("state", state);
    r.Set("pid", w != nullptr ? Value(static_cast<int64_t>(w->pid)) : Value());
    r.Set("queue_depth", static_cast<int64_t>(s.queue.turns()));
    r.Set("turns_total", s.turns_total);
    r.Set("restarts", s.restarts);
    r.Set("last_activity_unix_ms", s.last_activity_unix_ms);
    core_.subagents().Annotate(s, r);  // parent / children
    rows.Push(std::move(r));
  });
  return rows;
}

}  // namespace laneway::supervisor
