// Core: the logic of laneway-supervisor's loop, without its sockets.
//
// The core is four parts, each owning its state and exposing operations, wired
// together here:
//   TurnLedger     (turn_ledger.h)     turns, the journal, the outbox, idempotency keys
//   SessionTable   (session_table.h)   sessions, their queues, admission, restart policy
//   WorkerPool     (worker_pool.h)     workers, the state table's interpreter, spawn, reap
//   ControlService (control_service.h) the method table every front door shares, views
// The loop (supervisor.h) owns the sockets and signals, and hands the core what
// arrives: a control or worker message, a child's exit, a signal, the sync thread's
// completion, the passing of time. The core answers through a Transport. It reads
// time only from its Clock and starts workers only through its Launcher, so unit
// tests drive it with a FakeClock, a fake launcher and a recording transport
// (tests/unit/supervisor/core_test.cc): a ten-minute timeout in microseconds.
//
// Thread-safety: none; every call comes from the loop thread.
#ifndef LANEWAY_SUPERVISOR_CORE_H_
#define LANEWAY_SUPERVISOR_CORE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/status.h"
#include "supervisor/core_types.h"
#include "supervisor/counters.h"
#include "supervisor/journal.h"
#include "supervisor/launcher.h"
#include "supervisor/ops_stats.h"
#include "supervisor/timer_queue.h"

namespace laneway::supervisor {

class TurnLedger;
class SessionTable;
class WorkerPool;
class ControlService;
class Subagents;
namespace cron {
class CronService;
}

// What a front door asks for when it submits a turn.
struct TurnRequest {
  std::string agent;
  std::string session = "main";  // a full key or a bare name
  std::string message;
  std::string idempotency_key;  // "" = none
  common::Value origin;         // validated by ParseOrigin
  // Who gets the acknowledgement; with `wait` also the outcome, with waiter->stream
  // the progress.
  std::optional<Waiter> waiter;
  bool wait = true;
};

// AcceptTurn's answer: the turn it accepted or attached to, or why not.
struct AcceptResult {
  bool accepted = false;
  uint64_t turn_id = 0;
  bool attached = false;    // an earlier turn with the same idempotency key
  std::string session;      // the resolved key (also on rejection, when known)
  std::string reject_text;  // when !accepted
  // Rejected only for now (the journal cannot be written): the same submit may be
  // accepted later. Told to the sender as `retryable: true` (docs/protocol.md).
  bool retryable = false;
};

class Core {
 public:
  struct Options {
    common::Paths paths;
    common::Config config;
    std::string config_path;    // "" = built-in default (reload re-reads this)
    std::string worker_binary;  // laneway-worker
    const common::Clock* clock = nullptr;
    Launcher* launcher = nullptr;
    Transport* transport = nullptr;
    JournalWriteHook journal_write_hook;  // tests: fault injection
    JournalSyncHook journal_sync_hook;
    bool journal_sync = true;  // fdatasync (tests may turn it off)
    pid_t supervisor_pid = 0;  // passed to workers (their parent check)
    // The front doors' state for `status` (the loop owns the channels); optional.
    std::function<common::Value()> channel_states;
    // Kills live processes re-parented to the supervisor that are not its workers
    // (the loop's; unit tests leave it empty).
    std::function<void()> orphan_sweep;
    // Service-manager notices ("RELOADING=1", "READY=1", "STOPPING=1"; notify.h),
    // given by the loop when it runs under systemd; optional.
    std::function<void(std::string_view)> notify;
  };

  explicit Core(Options options);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Opens the journal, recovers, starts the journal's job thread.
  common::Status Open();

  // --- Inputs from the loop. ---
  void OnControlMessage(const Peer& peer, const void* data, size_t size);
  void OnWorkerMessage(const std::string& routing_id, const void* data, size_t size);
  void OnChildExit(pid_t pid, int status);
  void OnShutdownSignal(const char* name);  // SIGTERM / SIGINT; a second one forces
  void OnReloadSignal();                    // SIGHUP
  void OnJournalJobDone();                  // journal_fd() turned readable
  // The launcher's result_fd() turned readable: takes up to `max` results and
  // returns how many it took.
  size_t OnLaunchResults(size_t max = SIZE_MAX);
  // Fires up to `max` due timers; returns how many fired.
  size_t FireTimers(size_t max = SIZE_MAX);
  // End of a loop iteration: start the launches that may go, write the batch, hand
  // it to the sync thread, send what may go.
  void EndIteration();
  // After the loop: commit everything here and now, tell the waiting clients.
  void Finish();

  int journal_fd() const;
  bool journal_job_pending() const;
  std::optional<common::SteadyTime> NextTimer() const { return timers_.Next(); }
  bool exit_requested() const { return exit_loop_; }

  // The one entry point for turns, from every front door.
  AcceptResult AcceptTurn(TurnRequest request);

  // --- For the parts. ---
  TurnLedger& ledger() { return *ledger_; }
  SessionTable& sessions() { return *sessions_; }
  WorkerPool& pool() { return *pool_; }
  ControlService& control() { return *control_; }
  cron::CronService& cron() { return *cron_; }
  Subagents& subagents() { return *subagents_; }
  const Subagents& subagents() const { return *subagents_; }
  const TurnLedger& ledger() const { return *ledger_; }
  const SessionTable& sessions() const { return *sessions_; }
  const WorkerPool& pool() const { return *pool_; }
  TimerQueue& timers() { return timers_; }
  const TimerQueue& timers() const { return timers_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }
  OpsStats& ops() { return ops_; }
  const OpsStats& ops() const { return ops_; }
  const common::Clock& clock() const { return *opt_.clock; }
  const common::Config& config() const { return opt_.config; }
  const Options& options() const { return opt_; }
  Transport& transport() { return *opt_.transport; }
  common::SteadyTime started_at() const { return started_at_; }
  bool shutting_down() const { return shutting_down_; }

  // Every turn's end (TurnLedger::End): cron records runs, subagents announce.
  void OnTurnEnded(const Turn& t);
  // A turn added to the ledger and then refused, never acknowledged (the journal
  // could not be written): it will have no outcome. `why` is what its sender was told.
  void OnTurnRefused(const Turn& t, const std::string& why);

  void BeginShutdown(const std::string& why);
  void CheckShutdownDone();
  // Re-reads the config; all or nothing. Returns the reply data or an error.
  common::Result<common::Value> Reload();

 private:
  void Housekeeping();

  Options opt_;
  TimerQueue timers_;
  Counters counters_;
  OpsStats ops_;
  std::unique_ptr<TurnLedger> ledger_;
  std::unique_ptr<SessionTable> sessions_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<cron::CronService> cron_;
  std::unique_ptr<Subagents> subagents_;
  common::SteadyTime started_at_{};
  bool shutting_down_ = false;
  bool exit_loop_ = false;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CORE_H_
