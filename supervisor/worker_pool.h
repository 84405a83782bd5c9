// WorkerPool: the live workers, and the one interpreter of the worker state table
// (worker_fsm.h): every transition, its outcome text and its kill reason come from
// there. Handlers hand the pool events; they do not look at a worker's state first.
// Follow-up events that an action causes (a dispatch after a reply, a release
// after an exit) are queued and interpreted in order, never re-entering the table.
//
// It also spawns workers (through the Spawner seam: a local process now, another
// launcher later), reaps them, and owns the per-worker timers (run deadline,
// silence, kill grace, idle), at most one pending of each kind per worker.
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_WORKER_POOL_H_
#define LANEWAY_SUPERVISOR_WORKER_POOL_H_

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "common/value.h"
#include "supervisor/core_types.h"
#include "supervisor/timer_queue.h"

namespace laneway::supervisor {

class Core;

class WorkerPool {
 public:
  explicit WorkerPool(Core& core);

  void OnMessage(const std::string& routing_id, const void* data, size_t size);
  void OnExit(pid_t pid, int status);
  void OnTimer(const Timer& t);

  // Starts a worker for `s` (which has none). False if it could not be started.
  bool Spawn(Session& s);
  // `s` has work: its worker, if idle, takes the next batch.
  void Offer(Session& s);
  // Hands worker `id` an event (ignored if there is no such worker). `kill_reason`
  // names who asked in kill logs ("operator", "interrupt").
  void Apply(uint64_t id, WorkerEvent e, const std::string& detail = "",
             const common::Value* msg = nullptr, const char* kill_reason = nullptr);
  // Once a second: warns (once) about turns running past stuck_after.
  void Housekeeping();
  bool IsWorkerPid(pid_t pid) const;
  // Stops up to `n` idle workers whose sessions have nothing queued.
  void StopIdle(size_t n);
  // Shutdown: stop idle and starting workers; with `busy_too` (drain_timeout
  // passed) every worker not already stopping.
  void Drain(bool busy_too);

  const Worker* Find(uint64_t id) const;
  bool IsBusy(uint64_t id) const;
  bool IsIdle(uint64_t id) const;
  size_t live() const { return workers_.size(); }
  size_t stopping() const;
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [id, w] : workers_) f(w);
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
  void ArmTimer(Worker& w, TimerKind kind, common::SteadyTime when);
  Worker* FindMutable(uint64_t id);

  Core& core_;
  std::unordered_map<uint64_t, Worker> workers_;  // by worker id
  std::unordered_map<pid_t, uint64_t> by_pid_;
  uint64_t next_id_ = 1;
  std::deque<Event> events_;
  bool interpreting_ = false;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_WORKER_POOL_H_
