// Supervisor: the single-threaded core loop of laneway-supervisor.
//
// One thread polls the control ROUTER (CLI), the worker ROUTER, a signalfd
// (SIGCHLD, SIGTERM, SIGINT, SIGHUP) and a timer heap. It never runs agent code
// and never blocks on anything but that poll, so control requests are answered
// in microseconds whatever the workers do. Every send that speaks for the journal
// (an acknowledgement, a dispatched run, an outcome) is queued in an outbox and
// flushed after the iteration's journal commit: nothing is acknowledged, and no
// turn is dispatched, before the journal holds it. Replies that say nothing about
// turns (status, errors, operator results, refusals) go out at once.
//
// Thread-safety: none; everything runs on the loop thread.
#ifndef LANEWAY_SUPERVISOR_SUPERVISOR_H_
#define LANEWAY_SUPERVISOR_SUPERVISOR_H_

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/file_lock.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "common/value.h"
#include "supervisor/channels/channel.h"
#include "supervisor/journal.h"
#include "supervisor/journal_syncer.h"
#include "supervisor/restart_policy.h"
#include "supervisor/scheduler.h"
#include "supervisor/spawner.h"
#include "supervisor/timer_queue.h"
#include "supervisor/worker_fsm.h"

namespace laneway::supervisor {

// Exit codes of laneway-supervisor (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 3;
inline constexpr int kExitAlreadyRunning = 4;
inline constexpr int kExitStartup = 5;

// Checks what the config parser cannot know: that this build has every agent's
// runner. "<source>: agents.<id>.runner: ..." on failure.
common::Status CheckRunnersAvailable(const common::Config& config);

// The sockets the core sends on; a peer is a routing id on one of them.
enum class Door : uint8_t {
  kControl,  // ipc control socket: the CLI (permission: admin)
  kInproc,   // inproc front door: channel threads (permission: operate)
  kWorkers,  // worker socket
};

struct Peer {
  Door door = Door::kControl;
  std::string id;  // ZeroMQ routing id
  bool operator==(const Peer&) const = default;
};

// A request waiting for a turn's outcome (and, with `stream`, its progress).
struct Waiter {
  Peer peer;
  int64_t request_id;  // echoed in the outcome
  bool stream = false;
};

struct Turn {
  uint64_t id = 0;
  std::string session;
  std::string agent;
  std::string message;
  int64_t accepted_unix_ms = 0;
  uint32_t attempts = 0;
  common::TurnStatus status = common::TurnStatus::kPending;
  bool start_journaled = false;  // its next start record went out with its accept
  std::string text;              // reply, or error when failed
  common::Value meta;            // from the worker's done (model, usage, ...); not journaled
  common::Value origin;          // where it came from (docs/protocol.md "Origins"); a map
  std::string idempotency_key;   // "" = none
  bool delivered = false;        // a channel confirmed delivery of the outcome
  uint64_t progress_seq = 0;     // progress messages forwarded so far
  std::vector<Waiter> waiters;
};

struct Worker {
  uint64_t id = 0;  // routing id "w<id>"
  std::string session;
  pid_t pid = 0;
  WorkerState state = WorkerState::kStarting;
  common::SteadyTime spawned_at{};
  common::SteadyTime last_seen{};
  common::SteadyTime idle_since{};
  common::SteadyTime turn_started{};
  std::optional<Batch> running;
  // At most one pending run-deadline and one idle timer per worker, so the timer
  // heap stays O(workers) however many turns flow; a timer that fires early (it was
  // armed for an earlier turn or idle spell) re-arms itself for the current one.
  bool run_timer_armed = false;
  bool idle_timer_armed = false;
  uint64_t stop_seq = 0;  // token of the kill_grace timer of the current stop
  bool fault = false;     // its death counts toward the restart policy
  std::string stop_reason;
};

struct Session {
  std::string key;
  std::string agent;
  uint64_t serial = 0;  // for timers
  SessionQueue queue;
  uint64_t worker_id = 0;  // 0: none
  RestartPolicy policy;
  bool in_backoff = false;
  uint32_t restarts = 0;
  uint64_t turns_total = 0;
  int64_t last_activity_unix_ms = 0;
  size_t pending_accepts = 0;  // submitted this iteration, not yet committed
  bool want_worker = false;    // operator restart: start one even with nothing queued
  // Outcomes decided by the supervisor (timeout, cancel, crash) that the session's
  // transcript does not have yet; the next `run` carries them to the worker.
  struct Unrecorded {
    uint64_t turn_id;
    std::string status;
    std::string error;
  };
  std::vector<Unrecorded> unrecorded;

  Session(std::string k, std::string a, uint64_t s, size_t max_queue, RestartPolicy::Limits l)
      : key(std::move(k)), agent(std::move(a)), serial(s), queue(max_queue), policy(l) {}
};

struct Counters {
  uint64_t turns_accepted = 0;
  uint64_t turns_replied = 0;
  uint64_t turns_failed = 0;
  uint64_t turns_timed_out = 0;
  uint64_t turns_cancelled = 0;
  uint64_t turns_rejected = 0;
  uint64_t turns_interrupted = 0;
  uint64_t submits_rejected = 0;  // refused before acceptance (no turn id)
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
  uint64_t recovered_turns = 0;       // unfinished turns found in the journal and re-queued
  uint64_t recovered_unfinished = 0;  // unfinished turns found in the journal (re-queued or ended)
};

class Supervisor {
 public:
  struct Options {
    common::Paths paths;
    common::Config config;
    std::string config_path;    // "" = built-in default (reload re-reads this)
    std::string worker_binary;  // laneway-worker
  };

  explicit Supervisor(Options options);
  ~Supervisor();

  // Takes the instance lock, binds the sockets, opens the journal and recovers.
  // Returns a Status whose message is meant for the operator; `exit_code` says
  // which start-up failure it was.
  common::Status Start(int* exit_code);
  // Runs until shutdown completes. Returns the process exit code.
  int Run();

 private:
  struct Impl;  // sockets and the signalfd (keeps zmq out of this header)

  // Loop pieces (supervisor.cc).
  void PollOnce();
  void HandleSignals();
  void ReapChildren();
  void FireTimers();
  // Sends every queued message whose journal batch is durable, in order.
  void FlushOutbox();
  // Sends one message at once (replies that do not wait for the journal).
  void SendNow(const Peer& to, const std::string& bytes);
  void Housekeeping();
  void StopChannels();

  // Control plane (control.cc).
  // What a front door may do: each door has a ceiling, each method a need.
  enum class Permission : uint8_t { kRead, kSubmit, kOperate, kAdmin };
  struct Method {
    std::string_view name;
    Permission permission;
    void (Supervisor::*handler)(const Peer&, int64_t, const common::Value&);
  };
  static const Method* FindMethod(const std::string& name);
  static Permission DoorPermission(Door door);
  void HandleControlFrame(const Peer& peer, const void* data, size_t size);
  void HandleView(const Peer& peer, int64_t req, const common::Value& m);
  void HandleShutdown(const Peer& peer, int64_t req, const common::Value& m);
  void HandleReloadRequest(const Peer& peer, int64_t req, const common::Value& m);
  void HandlePing(const Peer& peer, int64_t req, const common::Value& m);
  void HandleSubmit(const Peer& peer, int64_t req, const common::Value& m);
  void HandleWait(const Peer& peer, int64_t req, const common::Value& m);
  void HandleOperator(const Peer& peer, int64_t req, const common::Value& m);
  void HandleReload(const Peer* peer, int64_t req);
  void HandleTurn(const Peer& peer, int64_t req, const common::Value& m);
  void HandleSubscribe(const Peer& peer, int64_t req, const common::Value& m);
  void HandleDelivered(const Peer& peer, int64_t req, const common::Value& m);
  // A turn by "turn_id" or "idempotency_key" in `m`; an error reply and nullptr if none.
  Turn* FindTurnFor(const Peer& peer, int64_t req, const common::Value& m);
  common::Value TurnView(const Turn& t) const;
  void AttachRetry(const Peer& peer, int64_t req, Turn& t, bool wait, bool stream);
  std::string AcceptedMessage(int64_t req, const Turn& t, bool attached) const;
  common::Value OutcomeMessage(int64_t req, const Turn& t) const;
  std::string PendingAtStopText(const Turn& t) const;
  std::string UnknownAgentText(const std::string& agent_id) const;
  // Sends the outcome of `t` to the channel subscribed to its origin, if any.
  void OfferDelivery(const Turn& t);
  void ForwardProgress(Turn& t, const std::string& delta);
  common::Value StatusView() const;
  common::Value WorkersView() const;
  common::Value SessionsView() const;
  void ReplyError(const Peer& peer, int64_t req, const std::string& code,
                  const std::string& error);
  void ReplyResult(const Peer& peer, int64_t req, common::Value data);
  void SendOutcome(const Waiter& w, const Turn& t);

  // Turns (turns.cc).
  struct PendingAck {
    Peer peer;
    int64_t req;
    uint64_t turn_id;
    bool attached = false;  // an idempotent retry of an earlier submit
  };
  // Turns whose accept records are written in `batch`, waiting for it to be durable.
  struct AwaitingSync {
    uint64_t batch;
    std::vector<uint64_t> turn_ids;
    std::vector<PendingAck> acks;
  };
  // End of each iteration: writes the batch (no sync), hands it to the sync thread,
  // tags this iteration's sends with the batch they wait for.
  void WriteBatch();
  // The sync thread made a batch durable: acknowledge and queue its turns, release
  // the sends that waited for it.
  void OnSyncDone();
  void AcceptDurable(const AwaitingSync& batch);
  void RefuseUnjournaled(uint64_t turn_id, const common::Status& why);
  void NoteJournalFailure(const common::Status& st);
  void NotifyPendingWaiters();
  void Reject(const Peer& peer, int64_t req, const std::string& session,
              const std::string& reason);
  void EndTurn(uint64_t turn_id, common::TurnStatus status, const std::string& text);
  void EndBatch(const Batch& batch, common::TurnStatus status, const std::string& text);
  Session& GetOrCreateSession(const std::string& key, const std::string& agent);
  void ParkSession(Session& s, const std::string& why);
  void Recover();
  void MaybeCompactJournal();
  void WriteSessionIndex();
  void RememberDone(uint64_t turn_id);

  // Workers (workers.cc).
  void HandleWorkerFrame(const std::string& peer, const void* data, size_t size);
  // Applies the state table to `w`. `kill_reason`, when given, replaces the table's
  // reason in kill logs (a cancel is `operator` or `interrupt` to whoever reads them).
  void ApplyEvent(Worker& w, WorkerEvent e, const std::string& detail = "",
                  const common::Value* done_msg = nullptr, const char* kill_reason = nullptr);
  void Schedule(Session& s);
  void AdmitWaiting();
  bool SpawnWorker(Session& s);
  // A worker of `s` died of a fault (or could not start): park the session when the
  // restart policy says so (with `park_why`), else arm its restart. True if a
  // restart is coming.
  bool OnSessionFault(Session& s, common::SteadyTime now, const std::string& park_why);
  void DispatchNext(Worker& w);
  void SendToWorker(const Worker& w, const common::Value& m);
  void SignalGroup(const Worker& w, int sig);
  void OnWorkerReaped(pid_t pid, int status);
  void ReclaimIdleSlot();
  size_t LiveWorkers() const { return workers_.size(); }
  Worker* FindWorker(uint64_t id);
  const common::AgentConfig* AgentOfWorker(const Worker& w);
  void ArmWorkerTimer(Worker& w, TimerKind kind, common::SteadyTime when);
  Session* FindSession(const std::string& key);
  const common::AgentConfig* AgentOf(const Session& s) const;
  RestartPolicy::Limits Limits() const;

  // Shutdown (control.cc).
  void BeginShutdown(const std::string& why);
  void CheckShutdownDone();

  Options opt_;
  common::SystemClock clock_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<common::FileLock> instance_lock_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<JournalSyncer> syncer_;  // after journal_: destroyed before it
  std::unique_ptr<Spawner> spawner_;
  TimerQueue timers_;
  Counters counters_;

  std::map<std::string, std::unique_ptr<Session>> sessions_;
  std::unordered_map<uint64_t, std::string> session_by_serial_;
  std::unordered_map<uint64_t, Worker> workers_;  // by worker id
  std::unordered_map<pid_t, uint64_t> worker_by_pid_;
  std::unordered_map<uint64_t, Turn> turns_;  // live and recently finished
  std::unordered_map<std::string, uint64_t> turn_by_key_;  // idempotency key -> turn
  std::map<std::string, Peer> subscriptions_;              // channel kind -> its peer
  std::vector<std::unique_ptr<Channel>> channels_;
  std::deque<uint64_t> done_order_;           // finished turns, oldest first
  uint64_t done_bytes_ = 0;                   // their reply/error text, in bytes
  Admission admission_;
  std::vector<uint64_t> pending_accepts_;  // submitted this iteration, not yet written
  std::vector<PendingAck> pending_acks_;
  std::deque<AwaitingSync> awaiting_sync_;
  static constexpr uint64_t kUntagged = ~0ull;
  struct Outgoing {
    Peer to;
    std::string bytes;
    uint64_t after_batch = kUntagged;  // sent once this journal batch is durable
  };
  std::vector<Outgoing> outbox_;
  uint64_t written_batch_ = 0;  // batches written to the journal file so far
  uint64_t synced_batch_ = 0;   // of those, durable

  uint64_t next_turn_id_ = 1;
  uint64_t next_worker_id_ = 1;
  uint64_t next_session_serial_ = 1;
  uint64_t unfinished_turns_ = 0;  // accepted (or recovered), no outcome yet
  uint64_t waiting_clients_ = 0;   // (client, turn) pairs waiting for an outcome
  common::SteadyTime started_at_{};
  int64_t started_unix_ms_ = 0;
  bool journal_failing_ = false;
  std::string journal_error_;
  bool index_dirty_ = false;
  bool shutting_down_ = false;
  bool drain_expired_ = false;
  bool exit_loop_ = false;
  std::vector<Waiter> shutdown_waiters_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SUPERVISOR_H_
