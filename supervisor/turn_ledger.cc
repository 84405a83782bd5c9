// Turns: acceptance (journaled before it is acknowledged), the one way a turn ends,
// recovery after a restart, the outbox, and the window of finished turns that
// `laneway wait` can still answer. The journal side (the job thread: batches, sync,
// rewrite after a failed write or sync, compaction, and the stop) is in
// turn_ledger_journal.cc.
#include "supervisor/turn_ledger.h"

#include <algorithm>

#include "common/duration.h"
#include "common/log.h"
#include "supervisor/control_service.h"
#include "supervisor/core.h"
#include "supervisor/origin.h"
#include "supervisor/recovery.h"
#include "supervisor/session_table.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::TurnStatus;
using common::Value;

namespace {

// Finished turns are kept in memory (and across compaction) for `laneway wait`
// within [supervisor] remember_turns / remember_for, and at most this many bytes of
// reply or error text between them.
constexpr uint64_t kKeepDoneBytes = 64ull << 20;

}  // namespace

void TurnLedger::Recover(const JournalRecovery& rec) {
  Counters& c = core_.counters();
  c.journal_corrupt_records = rec.corrupt_records;
  c.journal_truncated_bytes = rec.truncated_bytes;
  if (rec.corrupt_records > 0 || rec.truncated_bytes > 0) {
    LogLine(LogLevel::kWarn, "journal_repaired")
        .Kv("corrupt_records", rec.corrupt_records)
        .Kv("truncated_bytes", rec.truncated_bytes);
  }
  RecoveredState state = supervisor::Recover(rec.records);
  next_turn_id_ = state.max_turn_id + 1;
  uint64_t requeued = 0, ended = 0;
  std::vector<std::string> touched;
  for (const RecoveredTurn& rt : state.turns) {
    Turn t;
    t.id = rt.turn_id;
    t.session = rt.session;
    t.agent = rt.agent;
    t.message = rt.message;
    t.accepted_unix_ms = rt.accepted_unix_ms;
    t.attempts = rt.attempts;
    t.origin = Value::MakeMap();
    if (!rt.origin.empty()) {
      auto o = common::DecodeMsgpack(rt.origin.data(), rt.origin.size());
      if (o.ok() && o->is_map()) t.origin = std::move(o).value();
    }
    if (t.origin.Find("kind") == nullptr) t.origin.Set("kind", "control");
    t.idempotency_key = rt.idempotency_key;
    t.delivered = rt.delivered;
    if (!t.idempotency_key.empty()) by_key_[t.idempotency_key] = t.id;
    if (rt.done) {
      t.status = common::ParseTurnStatus(rt.status).value_or(TurnStatus::kFailed);
      t.text = rt.text;
      // Journals written before end times were recorded: age it from its acceptance.
      t.ended_unix_ms = rt.ended_unix_ms != 0 ? rt.ended_unix_ms : rt.accepted_unix_ms;
      turns_.emplace(t.id, std::move(t));
      RememberDone(rt.turn_id);
      continue;
    }
    queued_bytes_.Add(t.session, t.message.size());
    turns_.emplace(t.id, std::move(t));
    ++unfinished_;
    const common::AgentConfig* agent = core_.config().FindAgent(rt.agent);
    ++ended;
    if (agent == nullptr) {
      End(rt.turn_id, TurnStatus::kRejected,
          "agent '" + rt.agent + "' is no longer configured (found in the journal at start-up)");
    } else if (rt.was_running && rt.attempts >= agent->max_attempts) {
      End(rt.turn_id, TurnStatus::kFailed,
          "poison: turn " + std::to_string(rt.turn_id) + " was running when its supervisor died " +
              std::to_string(rt.attempts) +
              " times (max_attempts = " + std::to_string(agent->max_attempts) + ")");
    } else if (rt.was_running && !agent->retry_on_restart) {
      End(rt.turn_id, TurnStatus::kInterrupted,
          "interrupted: turn " + std::to_string(rt.turn_id) +
              " was running when the supervisor stopped; agent '" + rt.agent +
              "' does not re-run turns (retry_on_restart = false)");
    } else {
      --ended;
      ++requeued;
      core_.sessions().Requeue(rt.session, rt.agent, rt.turn_id);
      touched.push_back(rt.session);
    }
  }
  c.recovered_turns = requeued;
  c.recovered_unfinished = requeued + ended;
  // The window holds across the restart: what aged out while we were down goes now
  // (all of it, before the loop runs).
  while (remembered_.size() > 0 && remembered_.oldest_ended_unix_ms() <
                                       core_.clock().UnixMillis() - RememberLimits().age.count()) {
    ForgetExpired();
  }
  // Start-up, before the loop runs: committing here is not the loop waiting.
  if (journal_->pending() > 0) {
    Status st = journal_->Commit();
    if (!st.ok()) LogLine(LogLevel::kError, "journal_write_failed").Kv("error", st.message());
  }
  if (!state.turns.empty()) {
    LogLine(LogLevel::kInfo, "journal_recovered_turns")
        .Kv("turns", static_cast<uint64_t>(state.turns.size()))
        .Kv("requeued", requeued)
        .Kv("ended", ended)
        .Kv("journal_bytes", journal_->size_bytes());
  }
  for (const std::string& key : touched) {
    if (Session* s = core_.sessions().Find(key)) core_.sessions().Schedule(*s);
  }
}

Turn* TurnLedger::Find(uint64_t id) {
  auto it = turns_.find(id);
  return it == turns_.end() ? nullptr : &it->second;
}

const Turn* TurnLedger::Find(uint64_t id) const {
  auto it = turns_.find(id);
  return it == turns_.end() ? nullptr : &it->second;
}

Turn* TurnLedger::FindByKey(const std::string& key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : Find(it->second);
}

uint64_t TurnLedger::Add(Turn t, const std::optional<Waiter>& ack, bool wait) {
  const uint64_t id = next_turn_id_++;
  t.id = id;
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
  if (ack && (wait || ack->stream)) {
    t.waiters.push_back(*ack);
    ++waiting_clients_;
  }
  if (!t.idempotency_key.empty()) by_key_[t.idempotency_key] = id;
  queued_bytes_.Add(t.session, t.message.size());
  turns_.emplace(id, std::move(t));
  pending_accepts_.push_back(id);
  if (ack) pending_acks_.push_back({ack->peer, ack->request_id, id});
  return id;
}

void TurnLedger::AddWaiter(Turn& t, const Waiter& w) {
  t.waiters.push_back(w);
  ++waiting_clients_;
}

bool TurnLedger::IsAwaitingSync(uint64_t id) const {
  if (std::find(pending_accepts_.begin(), pending_accepts_.end(), id) != pending_accepts_.end()) {
    return true;
  }
  for (const AwaitingSync& b : awaiting_sync_) {
    if (std::find(b.turn_ids.begin(), b.turn_ids.end(), id) != b.turn_ids.end()) return true;
  }
  return false;
}

void TurnLedger::Attach(Turn& t, const Peer& peer, int64_t req, bool wait, bool stream) {
  ++core_.counters().idempotent_attaches;
  // Not durable yet: the acknowledgement waits for the same batch as the first one.
  if (IsAwaitingSync(t.id)) {
    pending_acks_.push_back({peer, req, t.id, true});
  } else {
    SendAfterCommit(peer, AcceptedMessage(req, t, true));
  }
  LogLine(LogLevel::kInfo, "turn_attached")
      .Kv("session", t.session)
      .Kv("turn", t.id)
      .Kv("idempotency_key", t.idempotency_key);
  if (t.status != TurnStatus::kPending) {
    if (wait) SendOutcome({peer, req, false}, t);
    return;
  }
  if (wait || stream) AddWaiter(t, {peer, req, stream});
}

size_t TurnLedger::in_flight() const {
  size_t n = pending_accepts_.size();
  for (const AwaitingSync& b : awaiting_sync_) n += b.turn_ids.size();
  return n;
}

void TurnLedger::NoteStart(Turn& t) {
  ++t.attempts;
  core_.ops().NoteTurnStarted(t, core_.clock().Now(), core_.clock().UnixMillis());
  if (t.start_journaled) {
    t.start_journaled = false;  // written with its accept record
    return;
  }
  JournalRecord r;
  r.type = JournalRecord::Type::kStart;
  r.turn_id = t.id;
  r.attempt = t.attempts;
  journal_->Append(r);
}

void TurnLedger::End(uint64_t id, TurnStatus status, const std::string& text) {
  Turn* tp = Find(id);
  if (tp == nullptr || tp->status != TurnStatus::kPending) return;  // exactly one outcome
  Turn& t = *tp;
  --unfinished_;
  queued_bytes_.Remove(t.session, t.message.size());
  t.status = status;
  t.text = text;
  t.ended_unix_ms = core_.clock().UnixMillis();
  Counters& c = core_.counters();
  switch (status) {
    case TurnStatus::kReplied:
      ++c.turns_replied;
      break;
    case TurnStatus::kFailed:
      ++c.turns_failed;
      break;
    case TurnStatus::kTimedOut:
      ++c.turns_timed_out;
      break;
    case TurnStatus::kCancelled:
      ++c.turns_cancelled;
      break;
    case TurnStatus::kRejected:
      ++c.turns_rejected;
      break;
    case TurnStatus::kInterrupted:
      ++c.turns_interrupted;
      break;
    case TurnStatus::kPending:
      break;
  }
  JournalRecord r;
  r.type = JournalRecord::Type::kOutcome;
  r.turn_id = id;
  r.status = common::TurnStatusName(status);
  r.text = text;
  r.ended_unix_ms = t.ended_unix_ms;
  journal_->Append(r);
  {
    LogLine line(LogLevel::kInfo, "turn_ended");
    line.Kv("session", t.session)
        .Kv("turn", id)
        .Kv("status", common::TurnStatusName(status))
        .Kv("duration_ms", core_.clock().UnixMillis() - t.accepted_unix_ms);
    if (status != TurnStatus::kReplied) line.Kv("error", text);
  }
  core_.ops().NoteTurnEnded(t, core_.clock().Now(), core_.clock().UnixMillis());
  for (const Waiter& w : t.waiters) SendOutcome(w, t);
  waiting_clients_ -= t.waiters.size();
  t.waiters.clear();
  OfferDelivery(t);
  core_.sessions().OnTurnEnded(t);
  core_.OnTurnEnded(t);  // cron history, subagent announcements (may accept turns)
  RememberDone(id);
}

void TurnLedger::SetMeta(uint64_t id, const Value& meta) {
  if (Turn* t = Find(id)) t->meta = meta;
}

void TurnLedger::ForwardProgress(uint64_t id, const std::string& delta) {
  Turn* t = Find(id);
  if (t == nullptr) return;
  ++t->progress_seq;
  for (const Waiter& w : t->waiters) {
    if (!w.stream) continue;
    Value m = common::NewMessage(common::msg::kProgress);
    m.Set("id", w.request_id);
    m.Set("turn_id", t->id);
    m.Set("seq", t->progress_seq);
    m.Set("delta", delta);
    // Behind anything queued for this peer (its acknowledgement first); never journaled.
    SendAfterCommit(w.peer, common::EncodeMessage(m));
  }
}

int64_t TurnLedger::Subscribe(const std::string& channel, const Peer& peer) {
  subscriptions_[channel] = peer;
  LogLine(LogLevel::kInfo, "channel_subscribed").Kv("channel", channel);
  // Everything of this channel that ended unconfirmed (before a restart too) goes
  // out now, oldest first; later outcomes follow as they happen.
  std::vector<const Turn*> owed;
  int64_t pending = 0;
  for (const auto& [id, t] : turns_) {
    if (OriginChannel(t.origin) != channel || t.delivered) continue;
    ++pending;
    if (t.status != TurnStatus::kPending) owed.push_back(&t);
  }
  std::sort(owed.begin(), owed.end(), [](const Turn* a, const Turn* b) { return a->id < b->id; });
  for (const Turn* t : owed) OfferDelivery(*t);
  return pending;
}

Status TurnLedger::MarkDelivered(uint64_t id) {
  Turn* t = Find(id);
  if (t == nullptr) return Status::NotFound("unknown turn " + std::to_string(id));
  if (t->status == TurnStatus::kPending) {
    return Status::InvalidArgument("turn " + std::to_string(id) + " has no outcome to deliver yet");
  }
  if (!t->delivered) {
    t->delivered = true;
    ++core_.counters().deliveries_confirmed;
    JournalRecord r;
    r.type = JournalRecord::Type::kDelivered;
    r.turn_id = id;
    journal_->Append(r);
  }
  return Status::Ok();
}

void TurnLedger::OfferDelivery(const Turn& t) {
  const std::string channel = OriginChannel(t.origin);
  if (channel.empty() || t.delivered) return;
  auto sub = subscriptions_.find(channel);
  if (sub == subscriptions_.end()) return;  // sent when the channel subscribes
  Value m = OutcomeMessage(0, t);
  m.Set("delivery", true);
  m.Set("origin", t.origin);
  SendAfterCommit(sub->second, common::EncodeMessage(m));
}

void TurnLedger::SendNow(const Peer& to, const std::string& bytes) {
  if (!core_.transport().Send(to, bytes)) ++core_.counters().undeliverable;
}

void TurnLedger::SendAfterCommit(const Peer& to, std::string bytes) {
  outbox_.push_back({to, std::move(bytes), kUntagged});
}

void TurnLedger::SendOutcome(const Waiter& w, const Turn& t) {
  SendAfterCommit(w.peer, common::EncodeMessage(OutcomeMessage(w.request_id, t)));
}

std::string TurnLedger::AcceptedMessage(int64_t req, const Turn& t, bool attached) const {
  Value m = common::NewMessage(common::msg::kAccepted);
  m.Set("id", req);
  m.Set("turn_id", t.id);
  m.Set("session", t.session);
  m.Set("accepted_unix_ms", t.accepted_unix_ms);
  if (attached) m.Set("attached", true);
  return common::EncodeMessage(m);
}

Value TurnLedger::OutcomeMessage(int64_t req, const Turn& t) const {
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

std::string TurnLedger::PendingAtStopText(const Turn& t) const {
  // Say what will really happen to it: recovery re-runs a started turn only for an
  // agent with retry_on_restart.
  const std::string id = std::to_string(t.id);
  const common::AgentConfig* agent = core_.config().FindAgent(t.agent);
  if (t.attempts == 0) {
    return "the supervisor is stopping; turn " + id +
           " is queued in the journal and runs when the supervisor is back (laneway wait " + id +
           ")";
  }
  if (agent && agent->retry_on_restart) {
    return "the supervisor is stopping; turn " + id +
           " was started and will run again when the supervisor is back (retry_on_restart; "
           "laneway wait " +
           id + ")";
  }
  return "the supervisor is stopping; turn " + id +
         " was started and will end interrupted: agent '" + t.agent +
         "' does not re-run turns (retry_on_restart = false)";
}

void TurnLedger::RememberDone(uint64_t id) {
  Turn& t = turns_[id];
  std::string().swap(t.message);  // a finished turn's message is no longer needed
  remembered_.Add(id, t.ended_unix_ms, t.text.size());
  ForgetExpired();
}

RememberWindow::Limits TurnLedger::RememberLimits() const {
  // Read live: a reload's new window applies from the next sweep.
  const common::SupervisorConfig& s = core_.config().supervisor;
  RememberWindow::Limits l;
  l.turns = s.remember_turns;
  l.age = s.remember_for;
  l.bytes = kKeepDoneBytes;
  return l;
}

void TurnLedger::ForgetExpired() {
  for (uint64_t id : remembered_.Expire(RememberLimits(), core_.clock().UnixMillis())) {
    auto it = turns_.find(id);
    if (it == turns_.end()) continue;
    const std::string& key = it->second.idempotency_key;
    // A later turn may hold the same key (resubmitted after this one was forgotten
    // by an earlier supervisor): the key is this turn's only while it points here.
    if (!key.empty()) {
      auto k = by_key_.find(key);
      if (k != by_key_.end() && k->second == id) by_key_.erase(k);
    }
    turns_.erase(it);
    ++core_.counters().turns_forgotten;
  }
}

std::string TurnLedger::ForgottenText(uint64_t id) const {
  const common::SupervisorConfig& s = core_.config().supervisor;
  return "turn " + std::to_string(id) +
         " is forgotten: older than the retained window (remember_turns=" +
         std::to_string(s.remember_turns) +
         ", remember_for=" + common::FormatDuration(s.remember_for) + "; at most " +
         std::to_string(kKeepDoneBytes >> 20) + " MiB of outcome text)";
}

void TurnLedger::NotifyPendingWaiters() {
  // Turns still unfinished stay in the journal: the next supervisor runs them (or
  // ends them). Whoever waits on one learns what will happen to it.
  for (auto& [id, t] : turns_) {
    if (t.status != TurnStatus::kPending) continue;
    for (const Waiter& w : t.waiters) SendOutcome(w, t);
    waiting_clients_ -= t.waiters.size();
    t.waiters.clear();
  }
}

}  // namespace laneway::supervisor
