// The control plane of the core loop: requests from the CLI (and, later, channel
// adapters over inproc), the status/workers/sessions views, operator commands,
// reload and graceful shutdown. Every handler answers at once; none waits.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/log.h"
#include "supervisor/origin.h"
#include "supervisor/supervisor.h"

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

}  // namespace

void Supervisor::HandleControlFrame(const Peer& peer, const void* data, size_t size) {
  if (data == nullptr) {
    ++counters_.bad_control_messages;
    ReplyError(peer, 0, "bad_request", "a request is exactly one frame after the routing id");
    return;
  }
  auto m = common::DecodeMessage(data, size, opt_.config.supervisor.max_message_bytes);
  if (!m.ok()) {
    ++counters_.bad_control_messages;
    LogLine(LogLevel::kDebug, "bad_control_message").Kv("error", m.status().message());
    ReplyError(peer, RequestIdOf(data, size),
               size > opt_.config.supervisor.max_message_bytes ? "too_large" : "bad_request",
               m.status().message());
    return;
  }
  auto req = m->GetIntOr("id", 0);
  if (!req.ok()) {
    ++counters_.bad_control_messages;
    ReplyError(peer, 0, "bad_request", req.status().message());
    return;
  }
  const std::string& type = common::MessageType(*m);
  const Method* method = FindMethod(type);
  if (method == nullptr) {
    ++counters_.bad_control_messages;
    ReplyError(peer, *req, "unknown_type", "unknown request type '" + type + "'");
    return;
  }
  if (method->permission > DoorPermission(peer.door)) {
    ReplyError(peer, *req, "forbidden",
               "'" + type + "' is not allowed through this front door (only on the control socket)");
    return;
  }
  (this->*(method->handler))(peer, *req, *m);
}

const Supervisor::Method* Supervisor::FindMethod(const std::string& name) {
  // The one method table of every front door: name, permission, handler.
  static const Method kMethods[] = {
      {common::msg::kSubmit, Permission::kSubmit, &Supervisor::HandleSubmit},
      {common::msg::kWait, Permission::kRead, &Supervisor::HandleWait},
      {common::msg::kTurn, Permission::kRead, &Supervisor::HandleTurn},
      {common::msg::kStatus, Permission::kRead, &Supervisor::HandleView},
      {common::msg::kWorkers, Permission::kRead, &Supervisor::HandleView},
      {common::msg::kSessions, Permission::kRead, &Supervisor::HandleView},
      {common::msg::kKill, Permission::kOperate, &Supervisor::HandleOperator},
      {common::msg::kRestart, Permission::kOperate, &Supervisor::HandleOperator},
      {common::msg::kCancel, Permission::kOperate, &Supervisor::HandleOperator},
      {common::msg::kSubscribe, Permission::kOperate, &Supervisor::HandleSubscribe},
      {common::msg::kDelivered, Permission::kOperate, &Supervisor::HandleDelivered},
      {common::msg::kShutdown, Permission::kAdmin, &Supervisor::HandleShutdown},
      {common::msg::kReload, Permission::kAdmin, &Supervisor::HandleReloadRequest},
      {common::msg::kPing, Permission::kRead, &Supervisor::HandlePing},
  };
  for (const Method& m : kMethods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

Supervisor::Permission Supervisor::DoorPermission(Door door) {
  return door == Door::kControl ? Permission::kAdmin : Permission::kOperate;
}

void Supervisor::HandleView(const Peer& peer, int64_t req, const Value& m) {
  const std::string& type = common::MessageType(m);
  if (type == common::msg::kStatus) return ReplyResult(peer, req, StatusView());
  if (type == common::msg::kWorkers) return ReplyResult(peer, req, WorkersView());
  ReplyResult(peer, req, SessionsView());
}

void Supervisor::HandleShutdown(const Peer& peer, int64_t req, const Value&) {
  BeginShutdown("laneway down");
  Value r = Value::MakeMap();
  r.Set("draining", true);
  r.Set("pid", static_cast<int64_t>(::getpid()));
  ReplyResult(peer, req, std::move(r));
}

void Supervisor::HandleReloadRequest(const Peer& peer, int64_t req, const Value&) {
  HandleReload(&peer, req);
}

void Supervisor::HandlePing(const Peer& peer, int64_t req, const Value&) {
  Value r = Value::MakeMap();
  r.Set("pong", true);
  ReplyResult(peer, req, std::move(r));
}

void Supervisor::HandleSubmit(const Peer& peer, int64_t req, const Value& m) {
  auto agent_id = m.GetString("agent");
  auto message = m.GetString("message");
  auto session_arg = m.GetStringOr("session", "main");
  auto wait = m.GetBoolOr("wait", true);
  auto stream = m.GetBoolOr("stream", false);
  auto key = m.GetStringOr("idempotency_key", "");
  if (!agent_id.ok() || !message.ok() || !session_arg.ok() || !wait.ok() || !stream.ok() ||
      !key.ok()) {
    ++counters_.bad_control_messages;
    for (const auto& st : {agent_id.status(), message.status(), session_arg.status(),
                           wait.status(), stream.status(), key.status()}) {
      if (!st.ok()) return Reject(peer, req, "", "bad request: " + st.message());
    }
  }
  auto origin = ParseOrigin(m.Find("origin"));
  if (!origin.ok()) {
    ++counters_.bad_control_messages;
    return Reject(peer, req, "", "bad request: " + origin.status().message());
  }
  if (key->size() > kMaxIdempotencyKeyBytes) {
    ++counters_.bad_control_messages;
    return Reject(peer, req, "",
                  "bad request: idempotency_key is longer than " +
                      std::to_string(kMaxIdempotencyKeyBytes) + " bytes");
  }
  // A retry of a submit that was accepted (or is being journaled): attach to it.
  if (!key->empty()) {
    if (auto it = turn_by_key_.find(*key); it != turn_by_key_.end()) {
      if (auto tit = turns_.find(it->second); tit != turns_.end()) {
        return AttachRetry(peer, req, tit->second, *wait, *stream);
      }
    }
  }
  if (shutting_down_) {
    return Reject(peer, req, "", "the supervisor is shutting down; retry when it is back up");
  }
  const common::AgentConfig* agent = opt_.config.FindAgent(*agent_id);
  if (agent == nullptr) {
    return Reject(peer, req, "", UnknownAgentText(*agent_id));
  }
  auto session = common::NormalizeSessionKey(*agent_id, *session_arg);
  if (!session.ok()) return Reject(peer, req, "", session.status().message());
  if (message->empty()) return Reject(peer, req, *session, "message is empty");
  Session* existing = FindSession(*session);
  if (existing && existing->policy.parked()) {
    return Reject(peer, req, *session,
                  "session " + *session +
                      " is parked after repeated worker deaths; run `laneway restart " +
                      *session + "` to un-park it");
  }
  if (existing && existing->queue.turns() + existing->pending_accepts >= agent->max_queue) {
    return Reject(peer, req, *session,
                  "queue full: session " + *session + " already has " +
                      std::to_string(existing->queue.turns() + existing->pending_accepts) +
                      " turns waiting (max_queue = " + std::to_string(agent->max_queue) + ")");
  }
  size_t in_flight = pending_accepts_.size();  // submitted, not yet acknowledged
  for (const AwaitingSync& b : awaiting_sync_) in_flight += b.turn_ids.size();
  if (unfinished_turns_ + in_flight >= opt_.config.supervisor.max_turns_in_memory) {
    return Reject(peer, req, *session,
                  "the supervisor holds max_turns_in_memory = " +
                      std::to_string(opt_.config.supervisor.max_turns_in_memory) +
                      " unfinished turns; retry later");
  }
  Session& s = GetOrCreateSession(*session, *agent_id);
  const uint64_t id = next_turn_id_++;
  Turn t;
  t.id = id;
  t.session = *session;
  t.agent = *agent_id;
  t.message = std::move(message).value();
  t.accepted_unix_ms = clock_.UnixMillis();
  t.origin = std::move(origin).value();
  t.idempotency_key = *key;
  if (*wait || *stream) {
    t.waiters.push_back({peer, req, *stream});
    ++waiting_clients_;
  }
  if (journal_) {
    JournalRecord r;
    r.type = JournalRecord::Type::kAccept;
    r.turn_id = id;
    r.session = t.session;
    r.agent = t.agent;
    r.message = t.message;
    r.accepted_unix_ms = t.accepted_unix_ms;
    r.origin = OriginIsDefault(t.origin) ? "" : common::EncodeMsgpack(t.origin);
    r.idempotency_key = t.idempotency_key;
    journal_->Append(r);
  }
  if (!t.idempotency_key.empty()) turn_by_key_[t.idempotency_key] = id;
  turns_.emplace(id, std::move(t));
  ++s.pending_accepts;
  pending_accepts_.push_back(id);
  pending_acks_.push_back({peer, req, id});
}

void Supervisor::AttachRetry(const Peer& peer, int64_t req, Turn& t, bool wait, bool stream) {
  // Not durable yet: the acknowledgement waits for the same batch as the first one.
  bool pending = std::find(pending_accepts_.begin(), pending_accepts_.end(), t.id) !=
                 pending_accepts_.end();
  for (const AwaitingSync& b : awaiting_sync_) {
    pending = pending || std::find(b.turn_ids.begin(), b.turn_ids.end(), t.id) != b.turn_ids.end();
  }
  if (pending) {
    pending_acks_.push_back({peer, req, t.id, true});
  } else {
    outbox_.push_back({peer, AcceptedMessage(req, t, true)});
  }
  LogLine(LogLevel::kInfo, "turn_attached")
      .Kv("session", t.session)
      .Kv("turn", t.id)
      .Kv("idempotency_key", t.idempotency_key);
  if (t.status != TurnStatus::kPending) {
    if (wait) SendOutcome({peer, req, false}, t);
    return;
  }
  if (wait || stream) {
    t.waiters.push_back({peer, req, stream});
    ++waiting_clients_;
  }
}

std::string Supervisor::AcceptedMessage(int64_t req, const Turn& t, bool attached) const {
  Value m = common::NewMessage(common::msg::kAccepted);
  m.Set("id", req);
  m.Set("turn_id", t.id);
  m.Set("session", t.session);
  m.Set("accepted_unix_ms", t.accepted_unix_ms);
  if (attached) m.Set("attached", true);
  return common::EncodeMessage(m);
}

std::string Supervisor::UnknownAgentText(const std::string& agent_id) const {
  // Name a few, and how many there are: a config may hold thousands of agents.
  constexpr size_t kNamed = 5;
  std::string known;
  size_t n = 0;
  for (const auto& [id, a] : opt_.config.agents) {
    if (n++ < kNamed) known += (known.empty() ? "" : ", ") + id;
  }
  if (n > kNamed) known += ", ... (" + std::to_string(n) + " in all)";
  return "unknown agent '" + agent_id + "' (configured: " + known + ")";
}

Turn* Supervisor::FindTurnFor(const Peer& peer, int64_t req, const Value& m) {
  auto key = m.GetStringOr("idempotency_key", "");
  if (!key.ok()) {
    ReplyError(peer, req, "bad_request", key.status().message());
    return nullptr;
  }
  if (!key->empty()) {
    auto it = turn_by_key_.find(*key);
    auto tit = it == turn_by_key_.end() ? turns_.end() : turns_.find(it->second);
    if (tit == turns_.end()) {
      ReplyError(peer, req, "unknown_turn",
                 "no turn with idempotency_key '" + *key +
                     "' (never accepted, or finished too long ago to be remembered)");
      return nullptr;
    }
    return &tit->second;
  }
  auto id = m.GetInt("turn_id");
  if (!id.ok()) {
    ReplyError(peer, req, "bad_request", id.status().message());
    return nullptr;
  }
  auto it = turns_.find(static_cast<uint64_t>(*id));
  if (it == turns_.end() || (*id) <= 0) {
    ReplyError(peer, req, "unknown_turn",
               "unknown turn " + std::to_string(*id) +
                   " (never accepted, or finished too long ago to be remembered)");
    return nullptr;
  }
  return &it->second;
}

void Supervisor::HandleWait(const Peer& peer, int64_t req, const Value& m) {
  auto stream = m.GetBoolOr("stream", false);
  if (!stream.ok()) return ReplyError(peer, req, "bad_request", stream.status().message());
  Turn* t = FindTurnFor(peer, req, m);
  if (t == nullptr) return;
  if (t->status != TurnStatus::kPending) {
    SendOutcome({peer, req, false}, *t);
    return;
  }
  t->waiters.push_back({peer, req, *stream});
  ++waiting_clients_;
}

void Supervisor::HandleTurn(const Peer& peer, int64_t req, const Value& m) {
  if (Turn* t = FindTurnFor(peer, req, m)) ReplyResult(peer, req, TurnView(*t));
}

Value Supervisor::TurnView(const Turn& t) const {
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
  v.Set("idempotency_key", t.idempotency_key.empty() ? Value() : Value(t.idempotency_key));
  v.Set("attempts", t.attempts);
  if (!t.meta.is_null()) v.Set("meta", t.meta);
  return v;
}

void Supervisor::HandleSubscribe(const Peer& peer, int64_t req, const Value& m) {
  auto channel = m.GetString("channel");
  if (!channel.ok()) return ReplyError(peer, req, "bad_request", channel.status().message());
  subscriptions_[*channel] = peer;
  LogLine(LogLevel::kInfo, "channel_subscribed").Kv("channel", *channel);
  // Everything of this channel that ended unconfirmed (before a restart too) goes out
  // now, oldest first; later outcomes follow as they happen.
  std::vector<const Turn*> owed;
  int64_t pending = 0;
  for (const auto& [id, t] : turns_) {
    if (OriginChannel(t.origin) != *channel || t.delivered) continue;
    ++pending;
    if (t.status != TurnStatus::kPending) owed.push_back(&t);
  }
  std::sort(owed.begin(), owed.end(), [](const Turn* a, const Turn* b) { return a->id < b->id; });
  Value r = Value::MakeMap();
  r.Set("channel", *channel);
  r.Set("pending", pending);
  ReplyResult(peer, req, std::move(r));
  for (const Turn* t : owed) OfferDelivery(*t);
}

void Supervisor::HandleDelivered(const Peer& peer, int64_t req, const Value& m) {
  auto id = m.GetInt("turn_id");
  if (!id.ok()) return ReplyError(peer, req, "bad_request", id.status().message());
  auto it = turns_.find(static_cast<uint64_t>(*id));
  if (it == turns_.end()) {
    return ReplyError(peer, req, "unknown_turn", "unknown turn " + std::to_string(*id));
  }
  Turn& t = it->second;
  if (t.status == TurnStatus::kPending) {
    return ReplyError(peer, req, "not_ended",
                      "turn " + std::to_string(*id) + " has no outcome to deliver yet");
  }
  if (!t.delivered && journal_) {
    t.delivered = true;
    JournalRecord r;
    r.type = JournalRecord::Type::kDelivered;
    r.turn_id = t.id;
    journal_->Append(r);
  }
  Value v = Value::MakeMap();
  v.Set("turn_id", t.id);
  // The confirmation is durable when the channel hears of it.
  Value msg = common::NewMessage(common::msg::kResult);
  msg.Set("id", req);
  msg.Set("data", std::move(v));
  outbox_.push_back({peer, common::EncodeMessage(msg)});
}

void Supervisor::OfferDelivery(const Turn& t) {
  const std::string channel = OriginChannel(t.origin);
  if (channel.empty() || t.delivered) return;
  auto sub = subscriptions_.find(channel);
  if (sub == subscriptions_.end()) return;  // sent when the channel subscribes
  Value m = OutcomeMessage(0, t);
  m.Set("delivery", true);
  m.Set("origin", t.origin);
  outbox_.push_back({sub->second, common::EncodeMessage(m)});
}

void Supervisor::ForwardProgress(Turn& t, const std::string& delta) {
  ++t.progress_seq;
  for (const Waiter& w : t.waiters) {
    if (!w.stream) continue;
    Value m = common::NewMessage(common::msg::kProgress);
    m.Set("id", w.request_id);
    m.Set("turn_id", t.id);
    m.Set("seq", t.progress_seq);
    m.Set("delta", delta);
    // Through the outbox, behind anything queued for this peer: never ahead of its
    // acknowledgement. Progress itself is never journaled.
    outbox_.push_back({w.peer, common::EncodeMessage(m)});
  }
}

void Supervisor::HandleOperator(const Peer& peer, int64_t req, const Value& m) {
  const std::string& type = common::MessageType(m);
  auto key = m.GetString("session");
  if (!key.ok()) return ReplyError(peer, req, "bad_request", key.status().message());
  Session* s = FindSession(*key);
  if (s == nullptr) {
    return ReplyError(peer, req, "unknown_session",
                      "unknown session '" + *key + "' (see `laneway sessions`)");
  }
  Worker* w = s->worker_id ? FindWorker(s->worker_id) : nullptr;
  Value r = Value::MakeMap();
  r.Set("session", s->key);
  if (type == common::msg::kCancel) {
    if (w == nullptr || w->state != WorkerState::kBusy || !w->running) {
      return ReplyError(peer, req, "not_running", "session " + s->key + " has no running turn");
    }
    r.Set("cancelled_turn", w->running->turn_ids.front());
    ApplyEvent(*w, WorkerEvent::kCancel, "cancelled by an operator (laneway cancel)", nullptr,
               "operator");
    return ReplyResult(peer, req, std::move(r));
  }
  LogLine(LogLevel::kInfo, "operator_command").Kv("command", type).Kv("session", s->key);
  r.Set("killed_pid", w ? Value(static_cast<int64_t>(w->pid)) : Value());
  if (w) ApplyEvent(*w, WorkerEvent::kOperatorKill);
  if (type == common::msg::kRestart) {
    r.Set("was_parked", s->policy.parked());
    s->policy.Reset();
    s->restarts = 0;
    s->in_backoff = false;
    s->want_worker = true;
    Schedule(*s);
  }
  ReplyResult(peer, req, std::move(r));
}

void Supervisor::HandleReload(const Peer* peer, int64_t req) {
  auto loaded = opt_.config_path.empty() ? common::Result<common::Config>(common::DefaultConfig())
                                         : common::LoadConfigFile(opt_.config_path);
  if (loaded.ok()) {
    if (auto st = CheckRunnersAvailable(*loaded); !st.ok()) loaded = st;
  }
  if (!loaded.ok()) {
    LogLine(LogLevel::kError, "reload_refused").Kv("error", loaded.status().message());
    if (peer) ReplyError(*peer, req, "bad_config", loaded.status().message());
    return;
  }
  common::Config next = std::move(loaded).value();
  Value needs_restart = Value::MakeArray();
  if (next.supervisor.max_message_bytes != opt_.config.supervisor.max_message_bytes) {
    needs_restart.Push("supervisor.max_message_bytes");
    next.supervisor.max_message_bytes = opt_.config.supervisor.max_message_bytes;
  }
  if (!(next.channels == opt_.config.channels)) {
    needs_restart.Push("channels");
    next.channels = opt_.config.channels;
  }
  opt_.config = std::move(next);
  for (auto& [key, s] : sessions_) {
    if (const common::AgentConfig* a = AgentOf(*s)) s->queue.set_max_turns(a->max_queue);
    s->policy.set_limits(Limits());
  }
  LogLine(LogLevel::kInfo, "config_reloaded")
      .Kv("source", opt_.config.source)
      .Kv("needs_restart", common::ToJson(needs_restart));
  AdmitWaiting();
  if (!peer) return;
  Value r = Value::MakeMap();
  r.Set("applied", true);
  r.Set("source", opt_.config.source);
  r.Set("needs_restart", std::move(needs_restart));
  ReplyResult(*peer, req, std::move(r));
}

void Supervisor::ReplyError(const Peer& peer, int64_t req, const std::string& code,
                            const std::string& error) {
  Value m = common::NewMessage(common::msg::kError);
  m.Set("id", req);
  m.Set("code", code);
  m.Set("error", error);
  SendNow(peer, common::EncodeMessage(m));
}

void Supervisor::ReplyResult(const Peer& peer, int64_t req, Value data) {
  Value m = common::NewMessage(common::msg::kResult);
  m.Set("id", req);
  m.Set("data", std::move(data));
  SendNow(peer, common::EncodeMessage(m));
}

Value Supervisor::OutcomeMessage(int64_t req, const Turn& t) const {
  Value m = common::NewMessage(common::msg::kOutcome);
  m.Set("id", req);
  m.Set("turn_id", t.id);
  m.Set("session", t.session);
  m.Set("status", common::TurnStatusName(t.status));
  if (t.status == TurnStatus::kReplied) {
    m.Set("reply", t.text);
  } else if (t.status == TurnStatus::kPending) {
    m.Set("error", PendingAtStopText(t));
  } else {
    m.Set("error", t.text);
  }
  if (!t.meta.is_null()) m.Set("meta", t.meta);
  return m;
}

std::string Supervisor::PendingAtStopText(const Turn& t) const {
  // Say what will really happen to it: only queued and retryable turns run again.
  const std::string id = std::to_string(t.id);
  const common::AgentConfig* agent = opt_.config.FindAgent(t.agent);
  const bool running = t.attempts > 0;
  if (!running) {
    return "the supervisor is stopping; turn " + id +
           " is queued in the journal and runs when the supervisor is back (laneway wait " + id +
           ")";
  }
  if (agent && agent->retry_on_restart) {
    return "the supervisor is stopping; turn " + id +
           " was running and will be re-run when the supervisor is back (retry_on_restart; "
           "laneway wait " + id + ")";
  }
  return "the supervisor is stopping; turn " + id +
         " was running and will end interrupted: agent '" + t.agent +
         "' does not re-run turns (retry_on_restart = false)";
}

void Supervisor::SendOutcome(const Waiter& w, const Turn& t) {
  outbox_.push_back({w.peer, common::EncodeMessage(OutcomeMessage(w.request_id, t))});
}

Value Supervisor::StatusView() const {
  const auto now = clock_.Now();
  Value v = Value::MakeMap();
  int64_t busy = 0, idle = 0, starting = 0, stopping = 0, running = 0;
  Value stuck = Value::MakeArray();
  for (const auto& [id, w] : workers_) {
    switch (w.state) {
      case WorkerState::kBusy: {
        ++busy;
        running += w.running ? static_cast<int64_t>(w.running->turn_ids.size()) : 0;
        int64_t age = MillisBetween(w.turn_started, now);
        if (age >= opt_.config.supervisor.stuck_after.count() && w.running) {
          Value e = Value::MakeMap();
          e.Set("session", w.session);
          e.Set("turn_id", w.running->turn_ids.front());
          e.Set("turn_age_ms", age);
          e.Set("pid", static_cast<int64_t>(w.pid));
          stuck.Push(std::move(e));
        }
        break;
      }
      case WorkerState::kIdle:
        ++idle;
        break;
      case WorkerState::kStarting:
        ++starting;
        break;
      case WorkerState::kStopping:
        ++stopping;
        break;
      case WorkerState::kGone:
        break;
    }
  }
  Value parked = Value::MakeArray();
  int64_t queued = 0;
  for (const auto& [key, s] : sessions_) {
    queued += static_cast<int64_t>(s->queue.turns());
    if (s->policy.parked()) parked.Push(key);
  }
  const bool healthy = stuck.as_array().empty() && parked.as_array().empty() && !journal_failing_;
  v.Set("pid", static_cast<int64_t>(::getpid()));
  v.Set("uptime_ms", MillisBetween(started_at_, now));
  v.Set("healthy", healthy);
  v.Set("shutting_down", shutting_down_);
  v.Set("home", opt_.paths.home);
  v.Set("config", opt_.config.source);
  v.Set("workers", static_cast<int64_t>(workers_.size()));
  v.Set("busy", busy);
  v.Set("idle", idle);
  v.Set("starting", starting);
  v.Set("stopping", stopping);
  v.Set("max_workers", opt_.config.supervisor.max_workers);
  v.Set("queued", queued);
  v.Set("running", running);
  v.Set("waiting_for_worker", static_cast<int64_t>(admission_.size()));
  v.Set("sessions", static_cast<int64_t>(sessions_.size()));
  v.Set("waiting_clients", waiting_clients_);
  v.Set("timers_pending", static_cast<uint64_t>(timers_.size()));
  v.Set("stuck_after_ms", static_cast<int64_t>(opt_.config.supervisor.stuck_after.count()));
  v.Set("stuck", std::move(stuck));
  v.Set("parked", std::move(parked));
  Value j = Value::MakeMap();
  j.Set("ok", !journal_failing_);
  j.Set("error", journal_failing_ ? Value(journal_error_) : Value());
  j.Set("bytes", journal_ ? journal_->size_bytes() : 0);
  j.Set("corrupt_records", counters_.journal_corrupt_records);
  j.Set("truncated_bytes", counters_.journal_truncated_bytes);
  v.Set("journal", std::move(j));
  Value c = Value::MakeMap();
  c.Set("turns_accepted", counters_.turns_accepted);
  c.Set("turns_replied", counters_.turns_replied);
  c.Set("turns_failed", counters_.turns_failed);
  c.Set("turns_timed_out", counters_.turns_timed_out);
  c.Set("turns_cancelled", counters_.turns_cancelled);
  c.Set("turns_rejected", counters_.turns_rejected);
  c.Set("turns_interrupted", counters_.turns_interrupted);
  c.Set("submits_rejected", counters_.submits_rejected);
  c.Set("recovered_turns", counters_.recovered_turns);
  c.Set("recovered_unfinished", counters_.recovered_unfinished);
  c.Set("bad_control_messages", counters_.bad_control_messages);
  c.Set("worker_protocol_errors", counters_.worker_protocol_errors);
  c.Set("stale_worker_messages", counters_.stale_worker_messages);
  c.Set("undeliverable", counters_.undeliverable);
  c.Set("worker_spawns", counters_.worker_spawns);
  c.Set("worker_spawn_failures", counters_.worker_spawn_failures);
  c.Set("worker_kills", counters_.worker_kills);
  c.Set("journal_errors", counters_.journal_errors);
  v.Set("counters", std::move(c));
  return v;
}

Value Supervisor::WorkersView() const {
  const auto now = clock_.Now();
  Value rows = Value::MakeArray();
  for (const auto& [key, s] : sessions_) {
    auto wit = s->worker_id ? workers_.find(s->worker_id) : workers_.end();
    if (wit == workers_.end() && !s->policy.parked()) continue;
    Value r = Value::MakeMap();
    r.Set("session", key);
    if (wit != workers_.end()) {
      const Worker& w = wit->second;
      r.Set("worker_id", w.id);
      r.Set("pid", static_cast<int64_t>(w.pid));
      r.Set("state", WorkerStateName(w.state));
      r.Set("turn_id", w.running ? Value(w.running->turn_ids.front()) : Value());
      r.Set("turn_age_ms",
            w.state == WorkerState::kBusy ? Value(MillisBetween(w.turn_started, now)) : Value());
      r.Set("uptime_ms", MillisBetween(w.spawned_at, now));
      r.Set("rss_kb", RssKb(w.pid));
    } else {
      r.Set("worker_id", Value());
      r.Set("pid", Value());
      r.Set("state", "parked");
      r.Set("turn_id", Value());
      r.Set("turn_age_ms", Value());
      r.Set("uptime_ms", Value());
      r.Set("rss_kb", Value());
    }
    r.Set("queue_depth", static_cast<int64_t>(s->queue.turns()));
    r.Set("restarts", s->restarts);
    r.Set("parked", s->policy.parked());
    rows.Push(std::move(r));
  }
  return rows;
}

Value Supervisor::SessionsView() const {
  Value rows = Value::MakeArray();
  for (const auto& [key, s] : sessions_) {
    Value r = Value::MakeMap();
    auto wit = s->worker_id ? workers_.find(s->worker_id) : workers_.end();
    std::string state = s->policy.parked()         ? "parked"
                        : wit != workers_.end()    ? WorkerStateName(wit->second.state)
                        : s->in_backoff            ? "backoff"
                        : admission_.Contains(key) ? "waiting"
                        : s->queue.empty()         ? "no_worker"
                                                   : "queued";
    r.Set("session", key);
    r.Set("agent", s->agent);
    r.Set("state", state);
    r.Set("pid", wit != workers_.end() ? Value(static_cast<int64_t>(wit->second.pid)) : Value());
    r.Set("queue_depth", static_cast<int64_t>(s->queue.turns()));
    r.Set("turns_total", s->turns_total);
    r.Set("restarts", s->restarts);
    r.Set("last_activity_unix_ms", s->last_activity_unix_ms);
    rows.Push(std::move(r));
  }
  return rows;
}

void Supervisor::BeginShutdown(const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  LogLine(LogLevel::kInfo, "shutdown_started")
      .Kv("reason", why)
      .Kv("workers", static_cast<uint64_t>(workers_.size()))
      .Kv("drain_timeout_ms", static_cast<int64_t>(opt_.config.supervisor.drain_timeout.count()));
  timers_.Arm({clock_.Now() + opt_.config.supervisor.drain_timeout, TimerKind::kDrain});
  std::vector<uint64_t> ids;
  for (const auto& [id, w] : workers_) {
    if (w.state == WorkerState::kIdle || w.state == WorkerState::kStarting) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    if (Worker* w = FindWorker(id)) ApplyEvent(*w, WorkerEvent::kDrainKill);
  }
  CheckShutdownDone();
}

void Supervisor::CheckShutdownDone() {
  if (!shutting_down_ || !workers_.empty() || exit_loop_) return;
  if (index_dirty_) WriteSessionIndex();
  exit_loop_ = true;  // Run() sends the last notices once the journal is synced
}

void Supervisor::NotifyPendingWaiters() {
  // Turns still queued stay in the journal as accepted: the next supervisor runs
  // them. Whoever waits on one learns that it is still pending.
  for (auto& [id, t] : turns_) {
    if (t.status != TurnStatus::kPending) continue;
    for (const Waiter& w : t.waiters) SendOutcome(w, t);
    waiting_clients_ -= t.waiters.size();
    t.waiters.clear();
  }
}

}  // namespace laneway::supervisor
