// SessionTable: every session the supervisor has seen, its FIFO of turns,
// admission under max_workers (first come, first served), restart policy and
// parking, and the session index file.
//
// Contract: a session gets at most one worker (WorkerPool::Spawn, asked from
// Schedule); a durable turn joins its session's queue through Enqueue, which also
// applies the agent's queue_mode (collect merges, interrupt cancels the running
// turn); a worker's death comes back through OnWorkerGone, which applies the
// restart policy (back-off, or parking after restart_limit deaths in
// restart_window). The index is written by a job thread (write, fdatasync, rename),
// never on the loop.
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_SESSION_TABLE_H_
#define LANEWAY_SUPERVISOR_SESSION_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/config.h"
#include "common/job_thread.h"
#include "common/status.h"
#include "supervisor/core_types.h"

namespace laneway::supervisor {

class Core;

class SessionTable {
 public:
  explicit SessionTable(Core& core);
  ~SessionTable();
  common::Status Start();  // the index writer's thread

  Session* Find(const std::string& key);
  const Session* Find(const std::string& key) const;
  Session& GetOrCreate(const std::string& key, const std::string& agent);
  const common::AgentConfig* AgentOf(const Session& s) const;
  RestartPolicy::Limits Limits() const;

  // Turns.
  void NoteSubmitted(Session& s) { ++s.pending_accepts; }
  void OnAcceptRefused(const std::string& key);
  // A durable turn joins its session's queue (queue_mode applied).
  void Enqueue(const Turn& t);
  // Recovery: an unfinished turn goes back in line.
  void Requeue(const std::string& key, const std::string& agent, uint64_t turn_id);
  void OnTurnEnded(const Turn& t);
  // The next batch for the session's worker, if any.
  std::optional<Batch> NextBatch(Session& s);
  // A running batch that must run again goes back to the front.
  void PutBack(Session& s, Batch batch);
  // Whether a turn accepted now would be dispatched at once (its worker idle, nothing
  // queued before it): its start record can ride with its accept.
  bool RunsAtOnce(const std::string& key, size_t accepts_in_batch) const;

  // Workers.
  void Schedule(Session& s);
  void AdmitWaiting();
  void OnWorkerGone(const std::string& key, bool fault);
  // A worker of `s` could not start.
  void OnSpawnFailed(Session& s, const std::string& why);
  void OnBackoffTimer(uint64_t serial);
  // Operator restart: un-park, forget past deaths, start a fresh worker.
  void Restart(Session& s);
  size_t waiting_for_worker() const { return admission_.size(); }
  bool IsWaiting(const std::string& key) const { return admission_.Contains(key); }

  // Reload: queue limits and restart policy from the new config.
  void ApplyConfig();
  void Housekeeping();
  void MarkIndexDirty() { index_dirty_ = true; }
  // Shutdown: write the index here and now (the loop is done).
  void WriteIndexNow();

  size_t size() const { return sessions_.size(); }
  // Turns queued in every session, and the parked sessions' keys (sorted): kept as
  // they change, so that `status` walks no session.
  size_t queued_turns() const { return queued_turns_; }
  const std::set<std::string>& parked() const { return parked_; }
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [key, s] : sessions_) f(*s);
  }

 private:
  bool OnFault(Session& s, const std::string& park_why);
  void Park(Session& s, const std::string& why);
  void ReclaimIdleSlot();
  std::string IndexText() const;

  Core& core_;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
  std::unordered_map<uint64_t, std::string> by_serial_;
  Admission admission_;
  size_t queued_turns_ = 0;
  std::set<std::string> parked_;
  uint64_t next_serial_ = 1;
  bool index_dirty_ = false;
  std::unique_ptr<common::JobThread<std::string, common::Status>> index_writer_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SESSION_TABLE_H_
