// Turns in the core loop: acceptance (journaled before it is acknowledged),
// ending with exactly one outcome, parking, recovery after a restart, the
// session index and journal compaction.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "supervisor/journal_syncer.h"
#include "supervisor/origin.h"
#include "supervisor/recovery.h"
#include "supervisor/supervisor.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::TurnStatus;
using common::Value;

namespace {

// Finished turns kept in memory (and across compaction) for `laneway wait`: at most
// this many, and at most this many bytes of reply or error text between them.
constexpr size_t kKeepDoneTurns = 10000;
constexpr uint64_t kKeepDoneBytes = 64ull << 20;
constexpr uint64_t kCompactAboveBytes = 64ull << 20;  // journal size that triggers compaction

}  // namespace

Session& Supervisor::GetOrCreateSession(const std::string& key, const std::string& agent) {
  auto it = sessions_.find(key);
  if (it != sessions_.end()) return *it->second;
  const common::AgentConfig* a = opt_.config.FindAgent(agent);
  const uint64_t serial = next_session_serial_++;
  auto s = std::make_unique<Session>(key, agent, serial, a ? a->max_queue : 100, Limits());
  session_by_serial_[serial] = key;
  index_dirty_ = true;
  return *sessions_.emplace(key, std::move(s)).first->second;
}

void Supervisor::Reject(const Peer& peer, int64_t req, const std::string& session,
                        const std::string& reason) {
  ++counters_.submits_rejected;
  Value m = common::NewMessage(common::msg::kOutcome);
  m.Set("id", req);
  m.Set("turn_id", nullptr);
  m.Set("session", session);
  m.Set("status", common::TurnStatusName(TurnStatus::kRejected));
  m.Set("error", reason);
  SendNow(peer, common::EncodeMessage(m));  // nothing was journaled for it
  LogLine(LogLevel::kInfo, "turn_rejected").Kv("session", session).Kv("reason", reason);
}

void Supervisor::WriteBatch() {
  // A turn that an idle worker will take as soon as it is queued gets its start
  // record in this same batch: one fdatasync covers both, instead of one for the
  // accept and another for the run. (If the batch fails, both are dropped with it.)
  // Only the session's first turn in line qualifies: none queued, none of this
  // iteration before it, none from an earlier batch still waiting for its sync.
  std::unordered_map<std::string, size_t> in_this_batch;
  for (uint64_t id : pending_accepts_) ++in_this_batch[turns_[id].session];
  std::unordered_set<std::string> claimed;
  for (uint64_t id : pending_accepts_) {
    Turn& t = turns_[id];
    Session* s = FindSession(t.session);
    Worker* w = s && s->worker_id ? FindWorker(s->worker_id) : nullptr;
    if (!w || w->state != WorkerState::kIdle || !s->queue.empty() || shutting_down_ ||
        s->pending_accepts != in_this_batch[t.session] || !claimed.insert(t.session).second) {
      continue;
    }
    JournalRecord r;
    r.type = JournalRecord::Type::kStart;
    r.turn_id = id;
    r.attempt = t.attempts + 1;
    journal_->Append(r);
    t.start_journaled = true;
  }
  Status st = Status::Ok();
  if (journal_->pending() > 0) {
    // To the page cache only; the sync thread makes it durable. ENOSPC, EFBIG and
    // the like show up here, at once, and the batch is cut off the file again.
    st = journal_->Write();
    if (st.ok()) {
      ++written_batch_;
    } else {
      NoteJournalFailure(st);
    }
  }
  if (!pending_accepts_.empty()) {
    std::vector<uint64_t> ids = std::move(pending_accepts_);
    std::vector<PendingAck> acks = std::move(pending_acks_);
    pending_accepts_.clear();
    pending_acks_.clear();
    if (st.ok()) {
      awaiting_sync_.push_back({written_batch_, std::move(ids), std::move(acks)});
    } else {
      for (uint64_t id : ids) RefuseUnjournaled(id, st);
    }
  }
  // What this iteration queued to send depends on records up to this batch.
  for (auto it = outbox_.rbegin(); it != outbox_.rend() && it->after_batch == kUntagged; ++it) {
    it->after_batch = written_batch_;
  }
  if (syncer_->idle() && synced_batch_ < written_batch_) syncer_->Submit(written_batch_);
}

void Supervisor::OnSyncDone() {
  SyncDone done = syncer_->Take();
  if (!done.status.ok()) {
    // The records are in the file but may not be on disk. Turns not yet
    // acknowledged are refused; outcomes and runs already decided go out.
    NoteJournalFailure(done.status);
  } else if (journal_failing_) {
    journal_failing_ = false;
    LogLine(LogLevel::kInfo, "journal_recovered");
  }
  synced_batch_ = std::max(synced_batch_, done.batch);
  while (!awaiting_sync_.empty() && awaiting_sync_.front().batch <= synced_batch_) {
    AwaitingSync batch = std::move(awaiting_sync_.front());
    awaiting_sync_.pop_front();
    if (done.status.ok()) {
      AcceptDurable(batch);
    } else {
      for (uint64_t id : batch.turn_ids) RefuseUnjournaled(id, done.status);
    }
  }
  if (syncer_->idle() && synced_batch_ < written_batch_) syncer_->Submit(written_batch_);
}

void Supervisor::NoteJournalFailure(const Status& st) {
  ++counters_.journal_errors;
  if (!journal_failing_) {
    LogLine(LogLevel::kError, "journal_write_failed").Kv("error", st.message());
  }
  journal_failing_ = true;
  journal_error_ = st.message();
}

void Supervisor::RefuseUnjournaled(uint64_t id, const Status& st) {
  auto it = turns_.find(id);
  if (it == turns_.end()) return;
  Turn& t = it->second;
  if (Session* s = FindSession(t.session)) --s->pending_accepts;
  // Never acknowledged, so nothing is lost: the sender is told to retry.
  for (const Waiter& w : t.waiters) {
    Reject(w.peer, w.request_id, t.session,
           "not accepted: the journal cannot be written (" + st.message() +
               "); nothing was queued, retry later");
  }
  waiting_clients_ -= t.waiters.size();
  // Retries that attached to it while it was being written are refused with it.
  for (auto a = pending_acks_.begin(); a != pending_acks_.end();) {
    if (a->turn_id == id && a->attached) {
      Reject(a->peer, a->req, t.session, "not accepted: the journal cannot be written (" +
                                             st.message() + "); nothing was queued, retry later");
      a = pending_acks_.erase(a);
    } else {
      ++a;
    }
  }
  if (!t.idempotency_key.empty()) turn_by_key_.erase(t.idempotency_key);
  turns_.erase(it);
}

void Supervisor::AcceptDurable(const AwaitingSync& batch) {
  std::vector<Session*> touched;
  for (uint64_t id : batch.turn_ids) {
    Turn& t = turns_[id];
    Session& s = GetOrCreateSession(t.session, t.agent);
    --s.pending_accepts;
    ++counters_.turns_accepted;
    ++unfinished_turns_;
    ++s.turns_total;
    s.last_activity_unix_ms = t.accepted_unix_ms;
    const common::AgentConfig* agent = AgentOf(s);
    Worker* w = s.worker_id ? FindWorker(s.worker_id) : nullptr;
    const bool busy = w && w->state == WorkerState::kBusy;
    const bool merge = busy && agent && agent->queue_mode == common::QueueMode::kCollect;
    s.queue.Push(id, merge, /*force=*/true);  // capacity was checked at submit
    if (busy && agent && agent->queue_mode == common::QueueMode::kInterrupt) {
      ApplyEvent(
          *w, WorkerEvent::kCancel,
          "cancelled: interrupted by turn " + std::to_string(id) + " (queue_mode = interrupt)",
          nullptr, "interrupt");
    }
    touched.push_back(&s);
  }
  for (const PendingAck& a : batch.acks) {
    auto it = turns_.find(a.turn_id);
    if (it == turns_.end()) continue;
    // Durable already: this one need not wait for what the loop writes next.
    outbox_.push_back({a.peer, AcceptedMessage(a.req, it->second, a.attached), batch.batch});
  }
  index_dirty_ = true;
  // Acknowledge before spawning workers (a fork takes milliseconds), not after.
  FlushOutbox();
  for (Session* s : touched) Schedule(*s);
}

void Supervisor::EndBatch(const Batch& batch, TurnStatus status, const std::string& text) {
  for (uint64_t id : batch.turn_ids) EndTurn(id, status, text);
}

void Supervisor::EndTurn(uint64_t turn_id, TurnStatus status, const std::string& text) {
  auto it = turns_.find(turn_id);
  if (it == turns_.end()) return;
  Turn& t = it->second;
  if (t.status != TurnStatus::kPending) return;  // exactly one outcome
  --unfinished_turns_;
  t.status = status;
  t.text = text;
  switch (status) {
    case TurnStatus::kReplied:
      ++counters_.turns_replied;
      break;
    case TurnStatus::kFailed:
      ++counters_.turns_failed;
      break;
    case TurnStatus::kTimedOut:
      ++counters_.turns_timed_out;
      break;
    case TurnStatus::kCancelled:
      ++counters_.turns_cancelled;
      break;
    case TurnStatus::kRejected:
      ++counters_.turns_rejected;
      break;
    case TurnStatus::kInterrupted:
      ++counters_.turns_interrupted;
      break;
    case TurnStatus::kPending:
      break;
  }
  if (journal_) {
    JournalRecord r;
    r.type = JournalRecord::Type::kOutcome;
    r.turn_id = turn_id;
    r.status = common::TurnStatusName(status);
    r.text = text;
    journal_->Append(r);
  }
  if (status != TurnStatus::kReplied) {
    LogLine(LogLevel::kInfo, "turn_ended")
        .Kv("session", t.session)
        .Kv("turn", turn_id)
        .Kv("status", common::TurnStatusName(status))
        .Kv("error", text);
  }
  for (const Waiter& w : t.waiters) SendOutcome(w, t);
  waiting_clients_ -= t.waiters.size();
  t.waiters.clear();
  OfferDelivery(t);
  if (Session* s = FindSession(t.session)) {
    s->last_activity_unix_ms = clock_.UnixMillis();
    if (status != TurnStatus::kReplied && status != TurnStatus::kRejected) {
      // The worker that ran it could not record this; the next one will.
      s->unrecorded.push_back({turn_id, common::TurnStatusName(status), text});
      if (s->unrecorded.size() > 100) s->unrecorded.erase(s->unrecorded.begin());
    }
  }
  RememberDone(turn_id);
}

void Supervisor::RememberDone(uint64_t turn_id) {
  Turn& t = turns_[turn_id];
  std::string().swap(t.message);  // a finished turn's message is no longer needed
  done_bytes_ += t.text.size();
  done_order_.push_back(turn_id);
  while (done_order_.size() > 1 &&
         (done_order_.size() > kKeepDoneTurns || done_bytes_ > kKeepDoneBytes)) {
    auto it = turns_.find(done_order_.front());
    if (it != turns_.end()) {
      done_bytes_ -= it->second.text.size();
      if (!it->second.idempotency_key.empty()) turn_by_key_.erase(it->second.idempotency_key);
      turns_.erase(it);
    }
    done_order_.pop_front();
  }
}

void Supervisor::ParkSession(Session& s, const std::string& why) {
  admission_.Remove(s.key);
  LogLine(LogLevel::kWarn, "session_parked").Kv("session", s.key).Kv("reason", why);
  for (uint64_t id : s.queue.Clear()) {
    EndTurn(id, TurnStatus::kRejected,
            "session " + s.key + " is parked: " + why + "; run `laneway restart " + s.key + "`");
  }
}

void Supervisor::Recover() {
  JournalRecovery rec;
  Journal::Options jo;
  jo.dir = opt_.paths.journal_dir;
  auto j = Journal::Open(jo, &rec);
  if (!j.ok()) {
    journal_error_ = j.status().message();
    return;
  }
  journal_ = std::move(j).value();
  counters_.journal_corrupt_records = rec.corrupt_records;
  counters_.journal_truncated_bytes = rec.truncated_bytes;
  if (rec.corrupt_records > 0 || rec.truncated_bytes > 0) {
    LogLine(LogLevel::kWarn, "journal_repaired")
        .Kv("corrupt_records", rec.corrupt_records)
        .Kv("truncated_bytes", rec.truncated_bytes);
  }
  RecoveredState state = supervisor::Recover(rec.records);
  next_turn_id_ = state.max_turn_id + 1;
  std::vector<Session*> touched;
  uint64_t requeued = 0, ended = 0;
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
    if (!t.idempotency_key.empty()) turn_by_key_[t.idempotency_key] = t.id;
    if (rt.done) {
      t.status = common::ParseTurnStatus(rt.status).value_or(TurnStatus::kFailed);
      t.text = rt.text;
      turns_.emplace(t.id, std::move(t));
      RememberDone(rt.turn_id);
      continue;
    }
    turns_.emplace(t.id, std::move(t));
    ++unfinished_turns_;
    const common::AgentConfig* agent = opt_.config.FindAgent(rt.agent);
    ++ended;
    if (agent == nullptr) {
      EndTurn(
          rt.turn_id, TurnStatus::kRejected,
          "agent '" + rt.agent + "' is no longer configured (found in the journal at start-up)");
    } else if (rt.was_running && rt.attempts >= agent->max_attempts) {
      EndTurn(rt.turn_id, TurnStatus::kFailed,
              "poison: turn " + std::to_string(rt.turn_id) +
                  " was running when its supervisor died " + std::to_string(rt.attempts) +
                  " times (max_attempts = " + std::to_string(agent->max_attempts) + ")");
    } else if (rt.was_running && !agent->retry_on_restart) {
      EndTurn(rt.turn_id, TurnStatus::kInterrupted,
              "interrupted: turn " + std::to_string(rt.turn_id) +
                  " was running when the supervisor stopped; agent '" + rt.agent +
                  "' does not re-run turns (retry_on_restart = false)");
    } else {
      --ended;
      ++requeued;
      Session& s = GetOrCreateSession(rt.session, rt.agent);
      s.queue.Push(rt.turn_id, false, /*force=*/true);
      touched.push_back(&s);
    }
  }
  counters_.recovered_turns = requeued;
  counters_.recovered_unfinished = requeued + ended;
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
  for (Session* s : touched) Schedule(*s);
}

void Supervisor::MaybeCompactJournal() {
  if (!journal_ || journal_->size_bytes() < kCompactAboveBytes) return;
  RecoveredState state;
  for (const auto& [id, t] : turns_) {
    RecoveredTurn rt;
    rt.turn_id = id;
    rt.session = t.session;
    rt.agent = t.agent;
    rt.message = t.message;
    rt.accepted_unix_ms = t.accepted_unix_ms;
    rt.attempts = t.attempts;
    rt.done = t.status != TurnStatus::kPending;
    rt.was_running = !rt.done && t.attempts > 0;
    rt.status = rt.done ? common::TurnStatusName(t.status) : "";
    rt.text = t.text;
    rt.origin = OriginIsDefault(t.origin) ? "" : common::EncodeMsgpack(t.origin);
    rt.idempotency_key = t.idempotency_key;
    rt.delivered = t.delivered;
    state.turns.push_back(std::move(rt));
    state.max_turn_id = std::max(state.max_turn_id, id);
  }
  std::sort(state.turns.begin(), state.turns.end(),
            [](const RecoveredTurn& a, const RecoveredTurn& b) { return a.turn_id < b.turn_id; });
  // Only with nothing in flight: Compact replaces the file under the sync thread.
  if (!syncer_->idle() || synced_batch_ != written_batch_ || !awaiting_sync_.empty() ||
      journal_->pending() > 0) {
    return;
  }
  const uint64_t before = journal_->size_bytes();
  Status st = journal_->Compact(CompactionSet(state, kKeepDoneTurns));
  LogLine(st.ok() ? LogLevel::kInfo : LogLevel::kError, "journal_compacted")
      .Kv("before_bytes", before)
      .Kv("after_bytes", journal_->size_bytes())
      .Kv("error", st.ok() ? "" : st.message());
}

void Supervisor::WriteSessionIndex() {
  index_dirty_ = false;
  Value index = Value::MakeArray();
  for (const auto& [key, s] : sessions_) {
    Value e = Value::MakeMap();
    e.Set("session", key);
    e.Set("agent", s->agent);
    e.Set("turns_total", s->turns_total);
    e.Set("last_activity_unix_ms", s->last_activity_unix_ms);
    index.Push(std::move(e));
  }
  std::string text = common::ToJson(index, 1) + "\n";
  const std::string tmp = opt_.paths.session_index + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  int err = errno;
  if (fd >= 0) ::close(fd);
  // rename is atomic: readers see the old index or the new one, never half of one.
  if (!ok || ::rename(tmp.c_str(), opt_.paths.session_index.c_str()) != 0) {
    LogLine(LogLevel::kWarn, "session_index_write_failed")
        .Kv("error", std::strerror(ok ? errno : err));
    ::unlink(tmp.c_str());
    index_dirty_ = true;
  }
}

}  // namespace laneway::supervisor
