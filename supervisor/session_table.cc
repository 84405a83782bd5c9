#include "supervisor/session_table.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "supervisor/core.h"
#include "supervisor/subagents.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::TurnStatus;
using common::Value;

namespace {

// Writes `text` to `path` by rename: readers see the old index or the new one,
// never half of one. Runs on the index writer's thread (it fdatasyncs).
Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("write " + path, err);
  }
  return Status::Ok();
}

}  // namespace

SessionTable::SessionTable(Core& core) : core_(core) {}

SessionTable::~SessionTable() = default;

Status SessionTable::Start() {
  const std::string path = core_.options().paths.session_index;
  auto w = common::JobThread<std::string, Status>::Start(
      [path](std::string& text) { return WriteFileAtomically(path, text); });
  if (!w.ok()) return w.status();
  index_writer_ = std::move(w).value();
  return Status::Ok();
}

Session* SessionTable::Find(const std::string& key) {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second.get();
}

const Session* SessionTable::Find(const std::string& key) const {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second.get();
}

Session& SessionTable::GetOrCreate(const std::string& key, const std::string& agent) {
  auto it = sessions_.find(key);
  if (it != sessions_.end()) return *it->second;
  const common::AgentConfig* a = core_.config().FindAgent(agent);
  const uint64_t serial = next_serial_++;
  auto s = std::make_unique<Session>(key, agent, serial, a ? a->max_queue : 100, Limits());
  s->queue.set_total(&queued_turns_);
  by_serial_[serial] = key;
  index_dirty_ = true;
  return *sessions_.emplace(key, std::move(s)).first->second;
}

const common::AgentConfig* SessionTable::AgentOf(const Session& s) const {
  return core_.config().FindAgent(s.agent);
}

RestartPolicy::Limits SessionTable::Limits() const {
  const auto& c = core_.config().supervisor;
  return {c.restart_limit, c.restart_window, c.restart_backoff, c.restart_backoff_max};
}

void SessionTable::OnAcceptRefused(const std::string& key) {
  if (Session* s = Find(key); s && s->pending_accepts > 0) --s->pending_accepts;
}

void SessionTable::Enqueue(const Turn& t) {
  Session& s = GetOrCreate(t.session, t.agent);
  if (s.pending_accepts > 0) --s.pending_accepts;
  ++s.turns_total;
  s.last_activity_unix_ms = t.accepted_unix_ms;
  index_dirty_ = true;
  const common::AgentConfig* agent = AgentOf(s);
  const bool busy = core_.pool().IsBusy(s.worker_id);
  const bool merge = busy && agent && agent->queue_mode == common::QueueMode::kCollect;
  s.queue.Push(t.id, merge, /*force=*/true);  // capacity was checked at submit
  if (busy && agent && agent->queue_mode == common::QueueMode::kInterrupt) {
    core_.pool().Apply(
        s.worker_id, WorkerEvent::kCancel,
        "cancelled: interrupted by turn " + std::to_string(t.id) + " (queue_mode = interrupt)",
        nullptr, "interrupt");
  }
}

void SessionTable::Requeue(const std::string& key, const std::string& agent, uint64_t turn_id) {
  GetOrCreate(key, agent).queue.Push(turn_id, false, /*force=*/true);
}

void SessionTable::OnTurnEnded(const Turn& t) {
  Session* s = Find(t.session);
  if (s == nullptr) return;
  s->last_activity_unix_ms = core_.clock().UnixMillis();
  if (t.status != TurnStatus::kReplied && t.status != TurnStatus::kRejected) {
    // The worker that ran it could not record this; the next one will.
    s->unrecorded.push_back({t.id, common::TurnStatusName(t.status), t.text});
    if (s->unrecorded.size() > 100) s->unrecorded.erase(s->unrecorded.begin());
  }
}

std::optional<Batch> SessionTable::NextBatch(Session& s) { return s.queue.Pop(); }

void SessionTable::PutBack(Session& s, Batch batch) { s.queue.PushFront(std::move(batch)); }

bool SessionTable::RunsAtOnce(const std::string& key, size_t accepts_in_batch) const {
  const Session* s = Find(key);
  return s && s->queue.empty() && core_.pool().IsIdle(s->worker_id) &&
         s->pending_accepts == accepts_in_batch;
}

void SessionTable::Schedule(Session& s) {
  if (s.queue.empty() && !s.want_worker) return;
  if (AgentOf(s) == nullptr) {
    for (uint64_t id : s.queue.Clear()) {
      core_.ledger().End(id, TurnStatus::kRejected,
                         "agent '" + s.agent + "' is no longer configured");
    }
    return;
  }
  if (s.policy.parked()) return;
  if (s.worker_id != 0) {
    core_.pool().Offer(s);
    return;
  }
  if (s.in_backoff || core_.shutting_down()) return;
  if (core_.subagents().ScheduleChild(s)) return;  // subagent sessions: their own share
  if (core_.pool().HasRoom(core_.subagents().child_workers()) && admission_.size() == 0) {
    s.want_worker = false;
    core_.pool().Spawn(s);
  } else {
    ++core_.counters().max_workers_reached;
    admission_.Enqueue(s.key);
    AdmitWaiting();
    if (admission_.Contains(s.key)) ReclaimIdleSlot();
  }
}

void SessionTable::AdmitWaiting() {
  core_.subagents().AdmitWaiting();
  while (core_.pool().HasRoom(core_.subagents().child_workers()) && admission_.size() > 0 &&
         !core_.shutting_down()) {
    auto key = admission_.Next();
    if (!key) break;
    Session* s = Find(*key);
    if (s == nullptr || s->worker_id != 0 || s->in_backoff || s->policy.parked()) continue;
    if (s->queue.empty() && !s->want_worker) continue;
    s->want_worker = false;
    core_.pool().Spawn(*s);
  }
}

void SessionTable::ReclaimIdleSlot() {
  // Stop idle workers with nothing queued, one per waiting session not yet covered
  // by a worker that is already on its way out.
  const size_t stopping = core_.pool().stopping();
  if (stopping >= admission_.size()) return;
  core_.pool().StopIdle(admission_.size() - stopping);
}

void SessionTable::OnWorkerGone(const std::string& key, bool fault) {
  Session* s = Find(key);
  if (s == nullptr) return;
  s->worker_id = 0;
  const RestartPolicy::Limits l = Limits();
  if (fault && OnFault(*s, "its worker died " + std::to_string(l.limit) + " times within " +
                               std::to_string(l.window.count()) + "ms (restart_limit)")) {
    ++s->restarts;
    ++core_.counters().worker_restarts;
  }
  Schedule(*s);
}

void SessionTable::OnSpawnFailed(Session& s, const std::string& why) {
  OnFault(s, "its worker could not be started: " + why);
}

bool SessionTable::OnFault(Session& s, const std::string& park_why) {
  const auto now = core_.clock().Now();
  const RestartPolicy::Decision d = s.policy.OnFault(now);
  if (d.parked) {
    Park(s, park_why);
    return false;
  }
  s.in_backoff = true;
  core_.timers().Arm({now + d.delay, TimerKind::kBackoff, s.serial});
  return true;
}

void SessionTable::Park(Session& s, const std::string& why) {
  admission_.Remove(s.key);
  parked_.insert(s.key);
  LogLine(LogLevel::kWarn, "session_parked").Kv("session", s.key).Kv("reason", why);
  for (uint64_t id : s.queue.Clear()) {
    core_.ledger().End(
        id, TurnStatus::kRejected,
        "session " + s.key + " is parked: " + why + "; run `laneway restart " + s.key + "`");
  }
}

void SessionTable::OnBackoffTimer(uint64_t serial) {
  auto it = by_serial_.find(serial);
  if (it == by_serial_.end()) return;
  if (Session* s = Find(it->second)) {
    s->in_backoff = false;
    Schedule(*s);
  }
}

void SessionTable::Restart(Session& s) {
  s.policy.Reset();
  parked_.erase(s.key);
  s.restarts = 0;
  s.in_backoff = false;
  s.want_worker = true;
  Schedule(s);
}

void SessionTable::ApplyConfig() {
  for (auto& [key, s] : sessions_) {
    const common::AgentConfig* a = AgentOf(*s);
    if (a) {
      s->queue.set_max_turns(a->max_queue);
    } else if (core_.pool().IsIdle(s->worker_id)) {
      // Its agent was removed: nothing will run here again.
      core_.pool().Apply(s->worker_id, WorkerEvent::kIdleTimeout, "agent removed");
    }
    s->policy.set_limits(Limits());
  }
  AdmitWaiting();
}

void SessionTable::Housekeeping() {
  if (!index_writer_->idle()) {
    pollfd p{index_writer_->done_fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return;  // still writing
    Status st = index_writer_->Take();
    if (!st.ok()) {
      LogLine(LogLevel::kWarn, "session_index_write_failed").Kv("error", st.message());
      index_dirty_ = true;
    }
  }
  if (index_dirty_) {
    index_dirty_ = false;
    index_writer_->Submit(IndexText());
  }
  // A session waiting for a slot may be blocked by idle workers of other sessions.
  if (admission_.size() > 0) {
    AdmitWaiting();
    ReclaimIdleSlot();
  }
}

void SessionTable::WriteIndexNow() {
  if (!index_writer_->idle()) {
    pollfd p{index_writer_->done_fd(), POLLIN, 0};
    (void)::poll(&p, 1, 5000);
    (void)index_writer_->Take();
  }
  if (!index_dirty_) return;
  index_dirty_ = false;
  Status st = WriteFileAtomically(core_.options().paths.session_index, IndexText());
  if (!st.ok()) LogLine(LogLevel::kWarn, "session_index_write_failed").Kv("error", st.message());
}

std::string SessionTable::IndexText() const {
  Value index = Value::MakeArray();
  for (const auto& [key, s] : sessions_) {
    Value e = Value::MakeMap();
    e.Set("session", key);
    e.Set("agent", s->agent);
    e.Set("turns_total", s->turns_total);
    e.Set("last_activity_unix_ms", s->last_activity_unix_ms);
    index.Push(std::move(e));
  }
  return common::ToJson(index, 1) + "\n";
}

}  // namespace laneway::supervisor
