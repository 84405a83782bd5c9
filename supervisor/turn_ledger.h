// TurnLedger: every turn the supervisor knows, and the only writer of the journal.
//
// Contract:
//  - A turn is added (its accept record appended) by Core::AcceptTurn, acknowledged
//    only once the batch holding that record is durable, and ended exactly once
//    (End): its outcome record is appended and its waiters, subscribed channel and
//    session are told. Finished turns are remembered for `laneway wait`, `turn` and
//    idempotent retries within the window [supervisor] remember_turns / remember_for
//    (remember_window.h), swept by Housekeeping; an id issued here (below the next
//    id, which survives restarts and compaction) that fell out of it is Forgotten(),
//    which callers tell apart from an id never issued.
//  - Sends that speak for the journal (acknowledgements, runs, outcomes, progress)
//    go through the outbox and leave only when every batch written before them is
//    durable; SendNow is for replies that say nothing about turns.
//  - The journal file is written by the loop (to the page cache) and synced, rewritten
//    and compacted by one job thread, never on the loop. While a rewrite runs the loop
//    buffers records instead of writing them.
//  - After a failed sync nothing written since the last good sync is trusted: the
//    batch's turns are refused, sends waiting on it stay held, and the journal is
//    rewritten from memory before anything else is acknowledged or delivered; until
//    that succeeds new submits are refused. A failed write (a full disk) is handled
//    the same way: its accepts are refused, and the rest of the batch (starts,
//    outcomes, deliveries, which the core has already acted on) reaches the file
//    through the rewrite; the sends that depend on it wait for that.
//  - A turn refused after its Add (a failed write or sync) is reported to the core
//    (Core::OnTurnRefused), so that cron and subagents do not wait for it.
//
// Thread-safety: loop thread only (the job thread touches only the Journal).
#ifndef LANEWAY_SUPERVISOR_TURN_LEDGER_H_
#define LANEWAY_SUPERVISOR_TURN_LEDGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/job_thread.h"
#include "common/status.h"
#include "supervisor/core_types.h"
#include "supervisor/journal.h"
#include "supervisor/remember_window.h"
#include "supervisor/queued_bytes.h"

namespace laneway::supervisor {

class Core;

class TurnLedger {
 public:
  explicit TurnLedger(Core& core);
  ~TurnLedger();

  // Opens the journal, re-creates the turns it holds and decides each unfinished one
  // (re-queued on its session, or ended interrupted / poison / rejected).
  common::Status Open(Journal::Options options);

  Turn* Find(uint64_t id);
  const Turn* Find(uint64_t id) const;
  Turn* FindByKey(const std::string& key);
  // Issued by this ledger (or one before it on this journal) and no longer
  // remembered. An id whose submit was refused by a failing journal is below the
  // next id too, and reads as forgotten (its sender was never given it).
  bool Forgotten(uint64_t id) const { return id > 0 && id < next_turn_id_ && !Find(id); }
  // "turn 17 is forgotten: older than the retained window (remember_turns=10000,
  // remember_for=24h)".
  std::string ForgottenText(uint64_t id) const;
  uint64_t next_turn_id() const { return next_turn_id_; }
  size_t remembered() const { return remembered_.size(); }

  // Appends the accept record of `t` (id assigned here) and returns the id. `ack`
  // gets the acknowledgement once durable, and with `wait` (or ack->stream) the
  // outcome (and progress).
  uint64_t Add(Turn t, const std::optional<Waiter>& ack, bool wait);
  // An idempotent retry of `t`: acknowledged (when durable) with attached: true;
  // with `waiter`, it also gets the outcome (and progress).
  void Attach(Turn& t, const Peer& peer, int64_t req, bool wait, bool stream);
  void AddWaiter(Turn& t, const Waiter& w);
  // Submitted, not yet acknowledged.
  size_t in_flight() const;
  uint64_t unfinished() const { return unfinished_; }
  uint64_t waiting_clients() const { return waiting_clients_; }
  // Bytes of message text of turns not yet ended (queued_bytes.h).
  const QueuedBytes& queued_bytes() const { return queued_bytes_; }
  size_t size() const { return turns_.size(); }

  // The turn is being sent to a worker: one more attempt, and its start record.
  void NoteStart(Turn& t);
  // The one way a turn ends. No-op for a turn that already has an outcome.
  void End(uint64_t id, common::TurnStatus status, const std::string& text);
  void SetMeta(uint64_t id, const common::Value& meta);
  void ForwardProgress(uint64_t id, const std::string& delta);

  // Channel delivery (docs/protocol.md): `peer` receives outcomes of `channel`'s turns.
  // Returns how many turns of the channel are not yet confirmed.
  int64_t Subscribe(const std::string& channel, const Peer& peer);
  // Journals the confirmation; false if the turn is unknown or has no outcome.
  common::Status MarkDelivered(uint64_t id);

  // Sends.
  void SendNow(const Peer& to, const std::string& bytes);
  void SendAfterCommit(const Peer& to, std::string bytes);
  void SendOutcome(const Waiter& w, const Turn& t);
  std::string AcceptedMessage(int64_t req, const Turn& t, bool attached) const;
  common::Value OutcomeMessage(int64_t req, const Turn& t) const;

  // End of an iteration: write the batch, hand it to the job thread, tag sends.
  void WriteBatch();
  void Flush();
  // The job thread finished (sync, rewrite or compaction).
  void OnJobDone();
  void Housekeeping();
  // After the loop: commit here and now, release everything, tell waiters.
  void Finish();
  int job_fd() const;
  // A sync, rewrite or compaction is running on the job thread.
  bool job_pending() const;

  // True while new submits must be refused (a rewrite after a failed write or sync is
  // owed); refusing_why() is "write_failed" or "sync_failed".
  bool refusing() const { return untrusted_; }
  const char* refusing_why() const { return untrusted_why_; }
  bool journal_ok() const { return !failing_; }
  const std::string& journal_error() const { return error_; }
  uint64_t journal_bytes() const;

  template <typename F>
  void ForEachTurn(F&& f) const {
    for (const auto& [id, t] : turns_) f(t);
  }

 private:
  struct PendingAck {
    Peer peer;
    int64_t req;
    uint64_t turn_id;
    bool attached = false;
  };
  // Turns whose accept records are in `batch`, waiting for it to be durable.
  struct AwaitingSync {
    uint64_t batch;
    std::vector<uint64_t> turn_ids;
    std::vector<PendingAck> acks;
  };
  struct Outgoing {
    Peer to;
    std::string bytes;
    uint64_t after_batch;
  };
  struct Job;
  struct JobDone;
  static constexpr uint64_t kUntagged = ~0ull;

  void Recover(const JournalRecovery& rec);
  void AcceptDurable(AwaitingSync batch);
  // Tells every sender of turn `id` (its waiters, and its acknowledgements in
  // pending_acks_ and `acks`, which are removed) that it was not accepted, and drops it.
  void RefuseUnjournaled(uint64_t id, const common::Status& why,
                         std::vector<PendingAck>* acks = nullptr);
  void NoteFailure(const common::Status& st);
  void RememberDone(uint64_t id);
  RememberWindow::Limits RememberLimits() const;
  // Drops the turns that fell out of the window.
  void ForgetExpired();
  void OfferDelivery(const Turn& t);
  void NotifyPendingWaiters();
  bool IsAwaitingSync(uint64_t id) const;
  std::string PendingAtStopText(const Turn& t) const;
  // Everything in memory as journal records (for a rewrite or a compaction).
  std::vector<JournalRecord> Snapshot() const;
  void StartRewrite(const char* why);
  void SubmitSyncIfIdle();
  // The journal size above which housekeeping compacts it.
  uint64_t CompactionThreshold() const;

  Core& core_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<common::JobThread<Job, JobDone>> job_;
  std::unordered_map<uint64_t, Turn> turns_;  // live and recently finished
  std::unordered_map<std::string, uint64_t> by_key_;
  std::map<std::string, Peer> subscriptions_;  // channel kind -> its peer
  RememberWindow remembered_;                  // finished turns still answerable
  std::vector<uint64_t> pending_accepts_;      // added this iteration, not yet written
  std::vector<PendingAck> pending_acks_;
  std::deque<AwaitingSync> awaiting_sync_;
  std::vector<Outgoing> outbox_;
  uint64_t rewritten_bytes_ = 0;  // the journal's size after the last rewrite
  uint64_t written_batch_ = 0;
  uint64_t synced_batch_ = 0;
  uint64_t next_turn_id_ = 1;
  uint64_t unfinished_ = 0;
  QueuedBytes queued_bytes_;
  uint64_t waiting_clients_ = 0;
  bool rewriting_ = false;  // a rewrite or compaction owns the journal file
  bool untrusted_ = false;  // a write or sync failed; a rewrite is owed
  const char* untrusted_why_ = "sync_failed";
  bool failing_ = false;
  std::string error_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_TURN_LEDGER_H_
