// Turns and the journal: acceptance (journaled before it is acknowledged), the one
// way a turn ends, recovery after a restart, the outbox, and the journal's job
// thread (sync, rewrite after a failed write or sync, compaction), so that the loop never
// waits for the disk.
#include "supervisor/turn_ledger.h"

#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>
#include <unordered_set>

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
constexpr uint64_t kCompactAboveBytes = 64ull << 20;  // journal size that triggers compaction

}  // namespace

struct TurnLedger::Job {
  bool rewrite = false;  // else: sync everything written so far
  uint64_t batch = 0;    // sync: up to this batch; rewrite: covers every batch up to it
  std::vector<JournalRecord> records;
};

struct TurnLedger::JobDone {
  bool rewrite = false;
  uint64_t batch = 0;
  Status status;
  double sync_seconds = 0;  // how long the sync took on the job thread (metrics)
};

TurnLedger::TurnLedger(Core& core) : core_(core) {}

TurnLedger::~TurnLedger() {
  job_.reset();  // joins the job thread before the journal it uses goes
  journal_.reset();
}

Status TurnLedger::Open(Journal::Options options) {
  JournalRecovery rec;
  auto j = Journal::Open(options, &rec);
  if (!j.ok()) {
    error_ = j.status().message();
    return Status::IoError("cannot open the journal in " + options.dir + ": " + error_);
  }
  journal_ = std::move(j).value();
  Recover(rec);
  Journal* journal = journal_.get();
  auto job = common::JobThread<Job, JobDone>::Start([journal](Job& job) {
    if (!job.rewrite) {
      // Real time, not the core's clock: this measures the disk, not the schedule.
      const auto t0 = std::chrono::steady_clock::now();
      Status st = journal->Sync();
      return JobDone{false, job.batch, std::move(st),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    }
    return JobDone{true, job.batch, journal->Compact(job.records)};
  });
  if (!job.ok()) return job.status();
  job_ = std::move(job).value();
  return Status::Ok();
}

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

void TurnLedger::WriteBatch() {
  // A rewrite owns the file, or one is owed: records wait in the journal's buffer,
  // and so do the sends that depend on them (they stay untagged).
  if (rewriting_ || untrusted_) return;
  // A turn that an idle worker will take as soon as it is queued gets its start
  // record in this same batch: one fdatasync covers both. Only the session's first
  // turn in line qualifies.
  std::unordered_map<std::string, size_t> in_this_batch;
  for (uint64_t id : pending_accepts_) ++in_this_batch[turns_[id].session];
  std::unordered_set<std::string> claimed;
  for (uint64_t id : pending_accepts_) {
    Turn& t = turns_[id];
    if (core_.shutting_down() ||
        !core_.sessions().RunsAtOnce(t.session, in_this_batch[t.session]) ||
        !claimed.insert(t.session).second) {
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
    // To the page cache only; the job thread makes it durable. ENOSPC, EFBIG and the
    // like show up here, at once, and the batch is cut off the file again.
    st = journal_->Write();
    if (st.ok()) {
      ++written_batch_;
    } else {
      NoteFailure(st);
    }
  }
  if (!st.ok()) {
    // The batch is gone from the file, and with it records the core has acted on: a
    // turn's start, its outcome, a channel's delivery. Its accept records are
    // answered below (refused, so nothing is lost); everything else is still in
    // memory, so the journal is rewritten from memory, as after a failed sync. Until
    // that is durable, what this iteration queued to send stays held (untagged):
    // an outcome is told only once the journal has it.
    untrusted_ = true;
    untrusted_why_ = "write_failed";
  }
  if (!pending_accepts_.empty()) {
    std::vector<uint64_t> ids = std::move(pending_accepts_);
    std::vector<PendingAck> acks = std::move(pending_acks_);
    pending_accepts_.clear();
    pending_acks_.clear();
    if (st.ok()) {
      awaiting_sync_.push_back({written_batch_, std::move(ids), std::move(acks)});
    } else {
      for (uint64_t id : ids) RefuseUnjournaled(id, st, &acks);
      // Left: attached retries of turns accepted earlier; they ride with a later batch.
      for (const PendingAck& a : acks) pending_acks_.push_back(a);
    }
  } else if (!pending_acks_.empty() && st.ok()) {
    // Only attached retries of turns in earlier batches: they ride with this one.
    awaiting_sync_.push_back({written_batch_, {}, std::move(pending_acks_)});
    pending_acks_.clear();
  }
  if (!st.ok()) {
    StartRewrite(untrusted_why_);
    return;
  }
  // What this iteration queued to send depends on records up to this batch.
  for (auto it = outbox_.rbegin(); it != outbox_.rend() && it->after_batch == kUntagged; ++it) {
    it->after_batch = written_batch_;
  }
  SubmitSyncIfIdle();
}

void TurnLedger::SubmitSyncIfIdle() {
  if (job_->idle() && !rewriting_ && !untrusted_ && synced_batch_ < written_batch_) {
    job_->Submit(Job{false, written_batch_, {}});
  }
}

void TurnLedger::Flush() {
  // Readiness is monotonic in after_batch, so skipping a waiting entry never lets a
  // later message that depends on it overtake it.
  size_t kept = 0;
  for (size_t i = 0; i < outbox_.size(); ++i) {
    Outgoing& out = outbox_[i];
    if (out.after_batch <= synced_batch_) {
      SendNow(out.to, out.bytes);
    } else {
      if (kept != i) outbox_[kept] = std::move(out);
      ++kept;
    }
  }
  outbox_.resize(kept);
}

void TurnLedger::OnJobDone() {
  JobDone done = job_->Take();
  if (done.rewrite) {
    rewriting_ = false;
    // A rewrite builds the whole live journal in memory twice (the records, then
    // their frames). Its big buffers are mapped and unmapped (main.cc sets the mmap
    // threshold); the many small strings it freed go back to the kernel here too.
    ::malloc_trim(0);
    if (!done.status.ok()) {
      NoteFailure(done.status);  // untrusted_ stays set: Housekeeping retries
      return;
    }
    ++core_.counters().journal_rewrites;
    rewritten_bytes_ = journal_->size_bytes();
    uint64_t held_bytes = 0;
    for (const Outgoing& out : outbox_) held_bytes += out.bytes.size();
    LogLine(LogLevel::kInfo, "journal_rewritten")
        .Kv("bytes", journal_->size_bytes())
        .Kv("reason", untrusted_ ? untrusted_why_ : "compaction")
        .Kv("held_sends", static_cast<uint64_t>(outbox_.size()))
        .Kv("held_bytes", held_bytes)
        .Kv("buffered_records", static_cast<uint64_t>(journal_->pending()));
    untrusted_ = false;
    if (failing_) {
      failing_ = false;
      LogLine(LogLevel::kInfo, "journal_recovered");
    }
  } else if (!done.status.ok()) {
    // The records are in the file but may not be on disk, and an error from
    // fdatasync may have dropped them from the page cache: nothing written since
    // the last good sync can be trusted. Refuse the turns still unacknowledged,
    // hold what waited for this batch, and rewrite the file from memory.
    NoteFailure(done.status);
    while (!awaiting_sync_.empty() && awaiting_sync_.front().batch <= done.batch) {
      AwaitingSync batch = std::move(awaiting_sync_.front());
      awaiting_sync_.pop_front();
      for (uint64_t id : batch.turn_ids) RefuseUnjournaled(id, done.status, &batch.acks);
      for (const PendingAck& a : batch.acks) pending_acks_.push_back(a);  // of earlier turns
    }
    untrusted_ = true;
    untrusted_why_ = "sync_failed";
    StartRewrite(untrusted_why_);
    return;
  } else if (failing_ && !untrusted_) {
    failing_ = false;
    LogLine(LogLevel::kInfo, "journal_recovered");
  }
  if (!done.rewrite) core_.ops().NoteJournalSync(done.sync_seconds);
  synced_batch_ = std::max(synced_batch_, done.batch);
  while (!awaiting_sync_.empty() && awaiting_sync_.front().batch <= synced_batch_) {
    AwaitingSync batch = std::move(awaiting_sync_.front());
    awaiting_sync_.pop_front();
    AcceptDurable(std::move(batch));
  }
  SubmitSyncIfIdle();
}

void TurnLedger::StartRewrite(const char* why) {
  if (rewriting_ || !job_->idle()) return;  // the job thread is busy: next housekeeping
  rewriting_ = true;
  LogLine(LogLevel::kWarn, "journal_rewrite_started").Kv("reason", why);
  // The rewrite holds every turn in memory (except those not yet written), so once
  // it is durable so is every batch written so far.
  job_->Submit(Job{true, written_batch_, Snapshot()});
}

std::vector<JournalRecord> TurnLedger::Snapshot() const {
  std::unordered_set<uint64_t> unwritten(pending_accepts_.begin(), pending_accepts_.end());
  RecoveredState state;
  for (const auto& [id, t] : turns_) {
    if (unwritten.count(id)) continue;  // its accept record is still in the buffer
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
    rt.ended_unix_ms = t.ended_unix_ms;
    rt.origin = OriginIsDefault(t.origin) ? "" : common::EncodeMsgpack(t.origin);
    rt.idempotency_key = t.idempotency_key;
    rt.delivered = t.delivered;
    state.turns.push_back(std::move(rt));
  }
  // Every id issued so far, also of turns no longer held: the high-water record.
  state.max_turn_id = next_turn_id_ - 1;
  std::sort(state.turns.begin(), state.turns.end(),
            [](const RecoveredTurn& a, const RecoveredTurn& b) { return a.turn_id < b.turn_id; });
  // Memory holds exactly the window, so the journal keeps what wait can answer.
  return CompactionSet(state, RememberLimits().turns);
}

void TurnLedger::Housekeeping() {
  ForgetExpired();
  if (untrusted_) {
    StartRewrite(untrusted_why_);
    return;
  }
  // Compaction: only with nothing in flight (preconditions first, state after).
  if (rewriting_ || !job_->idle() || synced_batch_ != written_batch_ || !awaiting_sync_.empty() ||
      journal_->pending() > 0 || journal_->size_bytes() < CompactionThreshold()) {
    return;
  }
  LogLine(LogLevel::kInfo, "journal_compaction_started").Kv("bytes", journal_->size_bytes());
  StartRewrite("compaction");
}

uint64_t TurnLedger::CompactionThreshold() const {
  // Also twice what the last rewrite left: a remembered window bigger than
  // kCompactAboveBytes would otherwise be rewritten every second, forever (the
  // 100,000-turn soak's 69 MB window did; Redis's AOF rewrite uses the same rule).
  return std::max(kCompactAboveBytes, 2 * rewritten_bytes_);
}

void TurnLedger::NoteFailure(const Status& st) {
  ++core_.counters().journal_errors;
  if (!failing_) LogLine(LogLevel::kError, "journal_write_failed").Kv("error", st.message());
  failing_ = true;
  error_ = st.message();
}

void TurnLedger::RefuseUnjournaled(uint64_t id, const Status& st, std::vector<PendingAck>* acks) {
  Turn* tp = Find(id);
  if (tp == nullptr) return;
  Turn& t = *tp;
  core_.sessions().OnAcceptRefused(t.session);
  const std::string why = "not accepted: the journal cannot be written (" + st.message() +
                          "); nothing was queued, retry later";
  // Never acknowledged, so nothing is lost: each sender (a waiter, a submit that does
  // not wait, an attached retry) is told once to retry.
  std::set<std::tuple<Door, std::string, int64_t>> told;
  auto tell = [&](const Peer& peer, int64_t req) {
    if (told.emplace(peer.door, peer.id, req).second) {
      core_.control().Reject(peer, req, t.session, why, /*retryable=*/true);
    }
  };
  for (const Waiter& w : t.waiters) tell(w.peer, w.request_id);
  waiting_clients_ -= t.waiters.size();
  for (std::vector<PendingAck>* list : {&pending_acks_, acks}) {
    if (list == nullptr) continue;
    std::erase_if(*list, [&](const PendingAck& a) {
      if (a.turn_id != id) return false;
      tell(a.peer, a.req);
      return true;
    });
  }
  if (!t.idempotency_key.empty()) by_key_.erase(t.idempotency_key);
  queued_bytes_.Remove(t.session, t.message.size());
  core_.OnTurnRefused(t, why);
  turns_.erase(id);
}

void TurnLedger::AcceptDurable(AwaitingSync batch) {
  std::vector<std::string> touched;
  for (uint64_t id : batch.turn_ids) {
    Turn* t = Find(id);
    if (t == nullptr) continue;
    ++core_.counters().turns_accepted;
    ++unfinished_;
    LogLine(LogLevel::kInfo, "turn_accepted")
        .Kv("session", t->session)
        .Kv("turn", id)
        .Kv("origin", OriginKind(t->origin));
    core_.sessions().Enqueue(*t);
    touched.push_back(t->session);
  }
  for (const PendingAck& a : batch.acks) {
    const Turn* t = Find(a.turn_id);
    if (t == nullptr) continue;
    // Durable already: this one need not wait for what the loop writes next.
    outbox_.push_back({a.peer, AcceptedMessage(a.req, *t, a.attached), batch.batch});
    // The waiter, if it waits, was registered when it submitted.
  }
  // Acknowledge before spawning workers (a spawn takes time), not after.
  Flush();
  for (const std::string& key : touched) {
    if (Session* s = core_.sessions().Find(key)) core_.sessions().Schedule(*s);
  }
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

void TurnLedger::Finish() {
  // Off the hot path now: wait for the job thread, then make everything durable here.
  while (!job_->idle()) {
    pollfd p{job_->done_fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) OnJobDone();
  }
  Status st = Status::Ok();
  if (untrusted_) {
    st = journal_->Compact(Snapshot());
    if (st.ok()) untrusted_ = false;
  }
  const bool wrote = journal_->pending() > 0;
  if (st.ok()) st = journal_->Commit();
  if (st.ok()) {
    if (wrote) ++written_batch_;
    synced_batch_ = written_batch_;
  }
  while (!awaiting_sync_.empty()) {
    AwaitingSync batch = std::move(awaiting_sync_.front());
    awaiting_sync_.pop_front();
    if (st.ok()) {
      AcceptDurable(std::move(batch));
    } else {
      for (uint64_t id : batch.turn_ids) RefuseUnjournaled(id, st, &batch.acks);
    }
  }
  if (st.ok()) {
    // Accepted this very iteration: journaled by the Commit above.
    std::vector<uint64_t> ids = std::move(pending_accepts_);
    pending_accepts_.clear();
    std::vector<PendingAck> acks = std::move(pending_acks_);
    pending_acks_.clear();
    if (!ids.empty() || !acks.empty())
      AcceptDurable({synced_batch_, std::move(ids), std::move(acks)});
  } else {
    // Accepted this very iteration, and the Commit failed: never journaled.
    std::vector<uint64_t> ids = std::move(pending_accepts_);
    pending_accepts_.clear();
    for (uint64_t id : ids) RefuseUnjournaled(id, st);
  }
  if (!st.ok()) {
    // What waits for records the journal could not take (an outcome, a delivery)
    // is not told: told now, it could be contradicted by the next supervisor, which
    // sees the turn unfinished. The sender learns the outcome then (laneway wait).
    size_t withheld = 0;
    std::erase_if(outbox_, [&](const Outgoing& out) {
      const bool unwritten = out.after_batch == kUntagged || out.after_batch > synced_batch_;
      withheld += unwritten;
      return unwritten;
    });
    LogLine(LogLevel::kError, "journal_unwritten_at_stop")
        .Kv("error", st.message())
        .Kv("withheld_sends", static_cast<uint64_t>(withheld));
  }
  NotifyPendingWaiters();
  for (Outgoing& out : outbox_) out.after_batch = 0;
  Flush();
}

int TurnLedger::job_fd() const { return job_->done_fd(); }

bool TurnLedger::job_pending() const { return !job_->idle(); }

uint64_t TurnLedger::journal_bytes() const {
  // The job thread's Compact changes the size; read it only while none runs.
  return journal_ && !rewriting_ ? journal_->size_bytes() : 0;
}

}  // namespace laneway::supervisor
