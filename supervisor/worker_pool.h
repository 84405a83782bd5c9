// WorkerPool: the live workers, and the one interpreter of the worker state table
// (worker_fsm.h): every transition, its outcome text and its kill reason come from
// there. Handlers hand the pool events; they do not look at a worker's state first.
// Follow-up events that an action causes (a dispatch after a reply, a release
// after an exit) are queued and interpreted in order, never re-entering the table.
//
// Starting workers goes through the Launcher (launcher.h) and never waits: Spawn()
// creates the record and queues it; Pump() hands queued launches to the launcher
// while fewer than spawn_concurrency launched workers have not said hello yet and
// the spawn_rate allows; OnLaunchResults() takes the pids back. Spare workers
// (spare_workers) are launched ahead of need with no session and bound to the first
// session that needs a worker, which then costs a message instead of a spawn.
//
// Liveness: a worker's death is known from the kernel (SIGCHLD, OnExit) at once.
// A worker sends nothing while idle; the silence timer runs only while it has not
// said hello yet and while it has a turn (its heartbeats and progress count).
//
// Timers: each worker holds the handles of its pending timers (run deadline,
// silence, kill grace, idle, exit settle); all are cancelled when it is released.
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_WORKER_POOL_H_
#define LANEWAY_SUPERVISOR_WORKER_POOL_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>

#include "common/config.h"
#include "common/value.h"
#include "supervisor/core_types.h"
#include "supervisor/launcher.h"
#include "supervisor/timer_queue.h"

namespace laneway::supervisor {

class Core;

// spawn_concurrency as configured, or for 0 (the default) four per CPU, at least 4.
uint32_t EffectiveSpawnConcurrency(const common::SupervisorConfig& sc);

class WorkerPool {
 public:
  explicit WorkerPool(Core& core);

  void OnMessage(const std::string& routing_id, const void* data, size_t size);
  void OnExit(pid_t pid, int status);
  void OnTimer(const Timer& t);
  // Takes up to `max` launch results; returns how many it took.
  size_t OnLaunchResults(size_t max);
  // Hands queued launches to the launcher as far as concurrency and rate allow, and
  // tops up the spare workers.
  void Pump();

  // Gives `s` (which has none) a worker: binds a ready spare, or queues a launch.
  // False if it could not (no agent).
  bool Spawn(Session& s);
  // Whether a session without a worker may get one now (max_workers counts every
  // live process; a ready spare can always be bound).
  bool HasRoom() const { return HasRoom(0); }
  // The same with `not_counted` bound workers left out of the count (the
  // subagents' own share, subagents.h).
  bool HasRoom(size_t not_counted) const;
  // `s` has work: its worker, if idle, takes the next batch.
  void Offer(Session& s);
  // Hands worker `id` an event (ignored if there is no such worker). `kill_reason`
  // names who asked in kill logs ("operator", "interrupt").
  void Apply(uint64_t id, WorkerEvent e, const std::string& detail = "",
             const common::Value* msg = nullptr, const char* kill_reason = nullptr);
  // Once a second: warns (once) about turns running past stuck_after.
  void Housekeeping();
  bool IsWorkerPid(pid_t pid) const;
  // Launches asked for and not reported yet (the orphan sweep waits for none).
  size_t launches_in_flight() const;
  // Stops up to `n` idle workers whose sessions have nothing queued.
  void StopIdle(size_t n);
  // Shutdown: stop idle, starting and spare workers; with `busy_too` (drain_timeout
  // passed) every worker not already stopping.
  void Drain(bool busy_too);

  const Worker* Find(uint64_t id) const;
  bool IsBusy(uint64_t id) const;  // has a turn (dispatched or running)
  bool IsIdle(uint64_t id) const;
  size_t live() const { return workers_.size(); }
  size_t spares() const { return spares_; }
  size_t spares_ready() const { return ready_spares_.size(); }
  size_t launch_queue() const { return launch_queue_.size() + spare_launch_queue_.size(); }
  size_t stopping() const;
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [id, w] : workers_) f(w);
  }
  // Kept as workers change (Untrack/Track), so that `status` and the once-a-second
  // housekeeping cost O(turns running), not O(workers): with 10,000 workers a walk
  // of them all on every `status` took most of the loop's time.
  size_t count(WorkerState s) const { return tally_.by_state[static_cast<int>(s)]; }
  // Starting workers that are ready spares (status shows them as `spare`).
  size_t starting_spares_ready() const { return tally_.starting_spare_ready; }
  // Workers with a turn (dispatched or busy), in id order.
  template <typename F>
  void ForEachWithTurn(F&& f) const {
    for (uint64_t id : tally_.with_turn) f(workers_.at(id));
  }

 private:
  struct Event {
    uint64_t worker;
    WorkerEvent event;
    std::string detail;
    common::Value msg;  // null when none
    const char* kill_reason;
  };
  void Interpret(const Event& ev);
  void DispatchNext(Worker& w);
  void SendRun(Worker& w, Session* s);
  void Send(const Worker& w, const common::Value& m);
  void SignalGroup(const Worker& w, int sig);
  void ArmTimer(Worker& w, TimerHandle& slot, TimerKind kind, common::SteadyTime when,
                uint64_t token = 0);
  void CancelTimer(TimerHandle& slot);
  void CancelAllTimers(Worker& w);
  Worker* FindMutable(uint64_t id);
  Worker& NewRecord(const std::string& session, bool spare);
  SpawnSpec SpecFor(const Worker& w, const std::string& agent) const;
  void LaunchNow(Worker& w);
  void OnSpareHello(Worker& w);
  // A worker that was never handed to the launcher has no process: it goes at once.
  void DropUnlaunched(Worker& w);
  void AddSpares();
  // Every change of a worker's state or spare_ready, and every record created or
  // erased, goes between Untrack and Track (or after Track / before Untrack alone).
  void Track(const Worker& w);
  void Untrack(const Worker& w);

  struct Tally {
    std::array<size_t, kWorkerStateCount> by_state{};
    size_t starting_spare_ready = 0;
    std::set<uint64_t> with_turn;
  };

  Core& core_;
  Tally tally_;
  std::unordered_map<uint64_t, Worker> workers_;  // by worker id
  std::unordered_map<pid_t, uint64_t> by_pid_;
  // Reaped before their launch result was taken (the worker died at once).
  std::unordered_map<pid_t, int> early_exits_;
  std::deque<uint64_t> launch_queue_;        // bound workers waiting for a launch slot
  std::deque<uint64_t> spare_launch_queue_;  // spares waiting (after every bound one)
  std::deque<uint64_t> ready_spares_;        // connected spares, oldest first
  size_t spares_ = 0;                        // spare records, launched or not, unbound
  size_t hello_pending_ = 0;                 // launched, not yet said hello
  common::SteadyTime next_launch_at_{};      // spawn_rate pacing
  common::SteadyTime spare_retry_at_{};      // after a spare could not be started
  bool pace_timer_armed_ = false;
  uint64_t next_id_ = 1;
  std::deque<Event> events_;
  bool interpreting_ = false;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_WORKER_POOL_H_
