// The journal side of the turn ledger: opening the journal and its job thread, one
// batch of records per loop pass, the sync that makes a batch durable before anyone
// is told, the rewrite after a failed write or sync (a full disk), compaction, and
// the stop, where everything still owed is made durable on the loop thread. The
// loop never waits for the disk: the job thread does.
#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "supervisor/control_service.h"
#include "supervisor/core.h"
#include "supervisor/origin.h"
#include "supervisor/recovery.h"
#include "supervisor/session_table.h"
#include "supervisor/turn_ledger.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::TurnStatus;
using common::Value;

namespace {

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
