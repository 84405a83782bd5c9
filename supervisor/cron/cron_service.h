// CronService: laneway's cron (docs/cron.md). Owned by the Core; runs on the loop.
//
// Contract:
//  - Jobs are validated whole on add and update; they live in memory and in the
//    jobs file (cron_store.h). `cron.add`, `cron.update` and `cron.remove` are
//    answered once the jobs file holding the change is durable (a few ms, on the
//    store's thread); every other method answers at once. None waits on a session.
//  - Scheduling rides the core's timer heap (TimerKind::kCron). The loop's clock
//    gives both the steady time (timers) and the wall time (schedules); a timer is
//    never armed more than one second ahead, so a wall-clock jump either way is
//    seen within a second, and PlanDue (cron_plan.h) keeps firings exactly where
//    the wall clock puts them: nothing early, nothing twice.
//  - A due firing is a turn accepted through Core::AcceptTurn with origin `cron`
//    (or `channel` with --deliver), origin fields cron_job / scheduled_unix_ms,
//    and the idempotency key "cron:<job>:<scheduled unix seconds>". The journal
//    makes that key durable with the turn, so a restart at any moment neither
//    loses nor repeats a firing: a firing re-decided after a crash attaches to
//    the turn already accepted. A busy session queues the turn (never a skip);
//    --overlap skip skips a firing while the job's previous turn is unfinished
//    and records the skip.
//  - Start (after the journal's recovery) reconciles the jobs file with the turns
//    the journal knows, then applies each job's catch_up to what was missed.
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_CRON_CRON_SERVICE_H_
#define LANEWAY_SUPERVISOR_CRON_CRON_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/value.h"
#include "supervisor/core_types.h"
#include "supervisor/cron/cron_job.h"
#include "supervisor/cron/cron_store.h"
#include "supervisor/timer_queue.h"

namespace laneway::supervisor {

class Core;

namespace cron {

class CronService {
 public:
  explicit CronService(Core& core);
  ~CronService();

  // Loads the jobs file, reconciles it with the journal's turns, plans.
  common::Status Start();
  void OnTimer(const Timer& t);
  // Every turn's end (TurnLedger::End): records the outcome of a cron run.
  void OnTurnEnded(const Turn& t);
  // A cron turn refused after it was added (the journal could not be written): its
  // run is recorded rejected with the reason, not left pending.
  void OnTurnRefused(const Turn& t, const std::string& why);
  // After the loop: writes the jobs file here and now if it changed.
  void Finish();

  // The control methods cron.list, cron.status, cron.add, cron.update,
  // cron.remove, cron.run, cron.runs.
  void Handle(const Peer& peer, int64_t req, const common::Value& m);

  size_t size() const { return jobs_.size(); }
  common::Value StatusView() const;

 private:
  struct PendingReply {
    Peer peer;
    int64_t req;
    common::Value data;
    uint64_t generation;
  };

  void List(const Peer& peer, int64_t req, const common::Value& m);
  void Add(const Peer& peer, int64_t req, const common::Value& m);
  void Update(const Peer& peer, int64_t req, const common::Value& m);
  void Remove(const Peer& peer, int64_t req, const common::Value& m);
  void RunNow(const Peer& peer, int64_t req, const common::Value& m);
  void Runs(const Peer& peer, int64_t req, const common::Value& m);
  CronJob* FindJobFor(const Peer& peer, int64_t req, const common::Value& m);

  // Plans every enabled job at the wall clock's now and arms the next timer.
  void Tick();
  void PlanJob(CronJob& job, int64_t now);
  // Submits the firing as a turn; records the run (or why there is none).
  void Fire(CronJob& job, int64_t scheduled, bool manual, bool catch_up, CronRun* out);
  void Record(CronJob& job, CronRun run);
  void ArmAt(common::SteadyTime when, uint64_t token);
  common::Value JobView(const CronJob& job) const;
  common::Value Document() const;
  // A change to persist; the reply (if any) leaves once it is durable.
  void Changed(const Peer* peer = nullptr, int64_t req = 0, common::Value data = {});
  void PumpStore();

  Core& core_;
  std::unique_ptr<CronStore> store_;
  std::map<std::string, CronJob> jobs_;
  std::vector<PendingReply> pending_;
  uint64_t generation_ = 0;   // changes made
  uint64_t submitted_ = 0;    // generation of the write running
  uint64_t written_ = 0;      // generation durable
  std::string store_error_;
  bool started_ = false;
  bool schedule_timer_armed_ = false;
  common::SteadyTime schedule_timer_at_{};
  bool poll_timer_armed_ = false;
  // The last tick's clocks, to notice wall-clock jumps.
  common::SteadyTime last_tick_steady_{};
  int64_t last_tick_wall_ = 0;
  uint64_t clock_jumps_ = 0;
};

}  // namespace cron
}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CRON_CRON_SERVICE_H_
