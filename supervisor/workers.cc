// The worker side of the core loop: messages from workers, the worker state
// machine applied, scheduling under max_workers, spawning and reaping.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/agent_settings.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::TurnStatus;
using common::Value;

namespace {

// "w<digits>" -> id, 0 if the routing id is not one we hand out.
uint64_t ParseWorkerId(const std::string& peer) {
  if (peer.size() < 2 || peer.size() > 20 || peer[0] != 'w') return 0;
  uint64_t id = 0;
  for (size_t i = 1; i < peer.size(); ++i) {
    if (peer[i] < '0' || peer[i] > '9') return 0;
    id = id * 10 + static_cast<uint64_t>(peer[i] - '0');
  }
  return id;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

}  // namespace

void Supervisor::HandleWorkerFrame(const std::string& peer, const void* data, size_t size) {
  uint64_t id = ParseWorkerId(peer);
  Worker* w = id ? FindWorker(id) : nullptr;
  if (w == nullptr) {
    // A generation we already reaped (or a stranger): never delivered anywhere.
    ++counters_.stale_worker_messages;
    LogLine(LogLevel::kDebug, "stale_worker_message").Kv("peer", peer);
    return;
  }
  if (data == nullptr) {
    ApplyEvent(*w, WorkerEvent::kProtocolError, "message is not exactly one frame");
    return;
  }
  auto m = common::DecodeMessage(data, size, opt_.config.supervisor.max_message_bytes);
  if (!m.ok()) {
    ApplyEvent(*w, WorkerEvent::kProtocolError, m.status().message());
    return;
  }
  const std::string& type = common::MessageType(*m);
  if (type == common::msg::kHello) {
    auto session = m->GetString("session");
    if (!session.ok() || *session != w->session) {
      ApplyEvent(*w, WorkerEvent::kProtocolError, "hello for the wrong session");
      return;
    }
    ApplyEvent(*w, WorkerEvent::kHello);
  } else if (type == common::msg::kHeartbeat) {
    ApplyEvent(*w, WorkerEvent::kHeartbeat);
  } else if (type == common::msg::kWorkerProgress) {
    auto turn = m->GetInt("turn_id");
    auto delta = m->GetString("delta");
    if (!turn.ok() || !delta.ok()) {
      ApplyEvent(*w, WorkerEvent::kProtocolError, "progress without turn_id/delta");
      return;
    }
    if (w->running && static_cast<uint64_t>(*turn) != w->running->turn_ids.front()) {
      ApplyEvent(*w, WorkerEvent::kProtocolError,
                 "progress for turn " + std::to_string(*turn) + " it was not given");
      return;
    }
    ApplyEvent(*w, WorkerEvent::kProgress, "", &m.value());
  } else if (type == common::msg::kDone) {
    auto turn = m->GetInt("turn_id");
    auto ok = m->GetBool("ok");
    if (w->state == WorkerState::kStopping) {
      ApplyEvent(*w, WorkerEvent::kDone);  // stale: dropped by the table
      return;
    }
    if (!turn.ok() || !ok.ok()) {
      ApplyEvent(*w, WorkerEvent::kProtocolError, "done without turn_id/ok");
      return;
    }
    if (!w->running || static_cast<uint64_t>(*turn) != w->running->turn_ids.front()) {
      ApplyEvent(*w, WorkerEvent::kProtocolError,
                 "done for turn " + std::to_string(*turn) + " it was not given");
      return;
    }
    ApplyEvent(*w, WorkerEvent::kDone, "", &m.value());
  } else {
    ApplyEvent(*w, WorkerEvent::kProtocolError, "unknown message type '" + type + "'");
  }
}

void Supervisor::ApplyEvent(Worker& w, WorkerEvent e, const std::string& detail,
                            const Value* done_msg, const char* kill_reason) {
  const Transition t = NextTransition(w.state, e);
  const WorkerState prev = w.state;
  const auto now = clock_.Now();
  w.state = t.next;
  Session* s = FindSession(w.session);
  const common::AgentConfig* agent = s ? AgentOf(*s) : nullptr;
  const auto kill_grace = agent ? agent->kill_grace : std::chrono::milliseconds(5000);

  if (t.actions & kTouch) w.last_seen = now;
  if (t.actions & kDropStale) {
    ++counters_.stale_worker_messages;
    LogLine(LogLevel::kDebug, "stale_worker_message")
        .Kv("session", w.session)
        .Kv("worker", w.id)
        .Kv("event", WorkerEventName(e));
  }
  if (t.actions & kCountFault) w.fault = true;
  if ((t.actions & kForwardProgress) && w.running && done_msg != nullptr) {
    const std::string delta = done_msg->GetStringOr("delta", "").value();
    for (uint64_t id : w.running->turn_ids) {
      if (auto it = turns_.find(id); it != turns_.end()) ForwardProgress(it->second, delta);
    }
  }
  if (t.actions & kSendConfigure) {
    if (agent != nullptr) {
      Value configure = common::NewMessage(common::msg::kConfigure);
      configure.Set("agent", common::AgentSettingsToValue(*agent));
      SendToWorker(w, configure);
    }
  }
  if (std::strcmp(t.reason, "protocol_error") == 0) {
    ++counters_.worker_protocol_errors;
    LogLine(LogLevel::kWarn, "worker_protocol_error")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("detail", detail);
  }

  if ((t.actions & kEndTurn) && w.running) {
    Batch batch = std::move(*w.running);
    w.running.reset();
    TurnStatus status = t.turn_status;
    std::string text;
    const uint64_t lead = batch.turn_ids.front();
    if (e == WorkerEvent::kDone && done_msg != nullptr) {
      bool ok = done_msg->GetBool("ok").value();
      auto body = done_msg->GetStringOr(ok ? "reply" : "error", "");
      text = body.ok() ? *body : "";
      status = ok ? TurnStatus::kReplied : TurnStatus::kFailed;
      if (const Value* meta = done_msg->Find("meta"); meta && meta->is_map()) {
        for (uint64_t id : batch.turn_ids) {
          if (auto it = turns_.find(id); it != turns_.end()) it->second.meta = *meta;
        }
      }
    } else if (e == WorkerEvent::kRunTimeout) {
      text = "turn " + std::to_string(lead) + " of session " + w.session + " timed out after " +
             std::to_string(agent ? agent->run_timeout.count() : 0) +
             "ms (run_timeout); its worker was killed";
    } else if (e == WorkerEvent::kSilent) {
      text = "unresponsive: turn " + std::to_string(lead) + " of session " + w.session +
             " failed; its worker sent nothing for " +
             std::to_string(opt_.config.supervisor.heartbeat_timeout.count()) +
             "ms (heartbeat_timeout) and was killed";
    } else if (e == WorkerEvent::kExited) {
      text = "worker of session " + w.session + " died during turn " + std::to_string(lead) + " (" +
             detail + ")";
    } else if (e == WorkerEvent::kOperatorKill) {
      text = "cancelled: the worker of session " + w.session + " was killed by an operator";
    } else if (e == WorkerEvent::kCancel) {
      text = detail.empty() ? "cancelled by an operator" : detail;
    } else {
      text = std::string(t.reason) + (detail.empty() ? "" : ": " + detail);
    }
    EndBatch(batch, status, text);
  }
  if ((t.actions & kRequeueTurn) && w.running && s) {
    s->queue.PushFront(std::move(*w.running));
    w.running.reset();
  }
  const char* reason = kill_reason ? kill_reason : t.reason;
  if (t.actions & (kTermGroup | kSendStop)) {
    w.stop_reason = reason;
    ++w.stop_seq;
    timers_.Arm({now + kill_grace, TimerKind::kGrace, w.id, w.stop_seq});
  }
  if (t.actions & kTermGroup) {
    ++counters_.worker_kills;
    LogLine(LogLevel::kInfo, "worker_killed")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("reason", t.reason)
        .Kv("signal", "SIGTERM")
        .Kv("kill_grace_ms", static_cast<int64_t>(kill_grace.count()));
    SignalGroup(w, SIGTERM);
  }
  if (t.actions & kSendStop) SendToWorker(w, common::NewMessage(common::msg::kStop));
  if (t.actions & kKillGroup) {
    if (prev != WorkerState::kStopping && e != WorkerEvent::kExited) {
      ++counters_.worker_kills;
      LogLine(LogLevel::kInfo, "worker_killed")
          .Kv("session", w.session)
          .Kv("pid", static_cast<int64_t>(w.pid))
          .Kv("reason", t.reason)
          .Kv("signal", "SIGKILL");
    }
    SignalGroup(w, SIGKILL);
  }
  if (t.actions & kSendRun) {
    Value run = common::NewMessage(common::msg::kRun);
    std::string text;
    Value ids = Value::MakeArray();
    for (uint64_t id : w.running->turn_ids) {
      Turn& turn = turns_[id];
      ++turn.attempts;
      if (!text.empty()) text += "\n\n";
      text += turn.message;
      ids.Push(id);
      if (turn.start_journaled) {
        turn.start_journaled = false;  // written with its accept record
      } else if (journal_) {
        JournalRecord r;
        r.type = JournalRecord::Type::kStart;
        r.turn_id = id;
        r.attempt = turn.attempts;
        journal_->Append(r);
      }
    }
    run.Set("turn_id", w.running->turn_ids.front());
    run.Set("turn_ids", std::move(ids));
    run.Set("message", std::move(text));
    if (s && !s->unrecorded.empty()) {
      Value record = Value::MakeArray();
      for (const auto& u : s->unrecorded) {
        Value e = Value::MakeMap();
        e.Set("turn_id", u.turn_id);
        e.Set("status", u.status);
        e.Set("error", u.error);
        record.Push(std::move(e));
      }
      s->unrecorded.clear();
      run.Set("record", std::move(record));
    }
    SendToWorker(w, run);
    w.turn_started = now;
    if (agent) ArmWorkerTimer(w, TimerKind::kRunDeadline, now + agent->run_timeout);
  }
  if (w.state == WorkerState::kIdle && prev != WorkerState::kIdle) {
    w.idle_since = now;
    ArmWorkerTimer(w, TimerKind::kIdle, now + opt_.config.supervisor.idle_timeout);
  }
  if (prev == WorkerState::kStarting && w.state == WorkerState::kIdle) {
    LogLine(LogLevel::kDebug, "worker_ready")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid));
  }
  if (t.actions & kDispatchNext) DispatchNext(w);

  if (t.actions & kRelease) {
    const uint64_t id = w.id;
    const bool fault = w.fault;
    const std::string key = w.session;
    const std::string reason = w.stop_reason.empty() ? t.reason : w.stop_reason;
    LogLine(fault ? LogLevel::kWarn : LogLevel::kInfo, "worker_exited")
        .Kv("session", key)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("status", detail)
        .Kv("reason", reason)
        .Kv("fault", fault ? "yes" : "no");
    workers_.erase(id);  // `w` dangles from here on
    if (s) {
      s->worker_id = 0;
      if (fault &&
          OnSessionFault(*s, now,
                         "its worker died " + std::to_string(Limits().limit) + " times within " +
                             std::to_string(Limits().window.count()) + "ms (restart_limit)")) {
        ++s->restarts;
      }
      Schedule(*s);
    }
    AdmitWaiting();
    CheckShutdownDone();
  }
}

void Supervisor::DispatchNext(Worker& w) {
  if (w.state != WorkerState::kIdle) return;
  Session* s = FindSession(w.session);
  if (s == nullptr) return;
  if (shutting_down_) {
    ApplyEvent(w, WorkerEvent::kDrainKill);
    return;
  }
  std::optional<Batch> b = s->queue.Pop();
  if (!b) {
    // Nothing to do here while other sessions wait for a slot: give it up.
    if (admission_.size() > 0) ApplyEvent(w, WorkerEvent::kIdleTimeout);
    return;
  }
  w.running = std::move(*b);
  ApplyEvent(w, WorkerEvent::kDispatch);
}

void Supervisor::Schedule(Session& s) {
  if (s.queue.empty() && !s.want_worker) return;
  if (AgentOf(s) == nullptr) {
    for (uint64_t id : s.queue.Clear()) {
      EndTurn(id, TurnStatus::kRejected, "agent '" + s.agent + "' is no longer configured");
    }
    return;
  }
  if (s.policy.parked()) return;
  if (s.worker_id != 0) {
    if (Worker* w = FindWorker(s.worker_id)) DispatchNext(*w);
    return;
  }
  if (s.in_backoff || shutting_down_) return;
  if (LiveWorkers() < opt_.config.supervisor.max_workers && admission_.size() == 0) {
    SpawnWorker(s);
  } else {
    admission_.Enqueue(s.key);
    AdmitWaiting();
    if (admission_.Contains(s.key)) ReclaimIdleSlot();
  }
}

void Supervisor::AdmitWaiting() {
  while (LiveWorkers() < opt_.config.supervisor.max_workers && admission_.size() > 0 &&
         !shutting_down_) {
    auto key = admission_.Next();
    if (!key) break;
    Session* s = FindSession(*key);
    if (s == nullptr || s->worker_id != 0 || s->in_backoff || s->policy.parked()) continue;
    if (s->queue.empty() && !s->want_worker) continue;
    SpawnWorker(*s);
  }
}

void Supervisor::ReclaimIdleSlot() {
  // Stop idle workers with nothing queued, one per waiting session not yet covered
  // by a worker that is already on its way out.
  size_t stopping = 0;
  for (const auto& [id, w] : workers_) stopping += w.state == WorkerState::kStopping;
  if (stopping >= admission_.size()) return;
  size_t needed = admission_.size() - stopping;
  std::vector<uint64_t> victims;
  for (auto& [id, w] : workers_) {
    if (victims.size() >= needed) break;
    if (w.state != WorkerState::kIdle) continue;
    Session* s = FindSession(w.session);
    if (s && s->queue.empty()) victims.push_back(id);
  }
  for (uint64_t id : victims) {
    if (Worker* w = FindWorker(id)) ApplyEvent(*w, WorkerEvent::kIdleTimeout, "slot wanted");
  }
}

bool Supervisor::SpawnWorker(Session& s) {
  const common::AgentConfig* agent = AgentOf(s);
  if (agent == nullptr) return false;
  s.want_worker = false;
  const uint64_t id = next_worker_id_++;
  SpawnSpec spec;
  spec.program = opt_.worker_binary;
  spec.args = {"--endpoint",
               opt_.paths.worker_endpoint(),
               "--worker-id",
               std::to_string(id),
               "--session",
               s.key,
               "--agent",
               s.agent,
               "--heartbeat-ms",
               std::to_string(opt_.config.supervisor.heartbeat_interval.count()),
               "--lock-wait-ms",
               std::to_string(opt_.config.supervisor.heartbeat_timeout.count() / 2),
               "--supervisor-pid",
               std::to_string(::getpid()),
               "--max-message-bytes",
               std::to_string(opt_.config.supervisor.max_message_bytes)};
  spec.extra_env = {{"LANEWAY_HOME", opt_.paths.home}};
  auto pid = spawner_->Spawn(spec);
  const auto now = clock_.Now();
  if (!pid.ok()) {
    ++counters_.worker_spawn_failures;
    LogLine(LogLevel::kError, "worker_spawn_failed")
        .Kv("session", s.key)
        .Kv("error", pid.status().message());
    OnSessionFault(s, now, "its worker could not be started: " + pid.status().message());
    return false;
  }
  Worker w;
  w.id = id;
  w.session = s.key;
  w.pid = *pid;
  w.spawned_at = now;
  w.last_seen = now;
  workers_.emplace(id, std::move(w));
  worker_by_pid_[*pid] = id;
  s.worker_id = id;
  ++counters_.worker_spawns;
  timers_.Arm({now + opt_.config.supervisor.heartbeat_timeout, TimerKind::kSilence, id});
  LogLine(LogLevel::kDebug, "worker_started")
      .Kv("session", s.key)
      .Kv("pid", static_cast<int64_t>(*pid))
      .Kv("worker", id);
  return true;
}

bool Supervisor::OnSessionFault(Session& s, common::SteadyTime now, const std::string& park_why) {
  const RestartPolicy::Decision d = s.policy.OnFault(now);
  if (d.parked) {
    ParkSession(s, park_why);
    return false;
  }
  s.in_backoff = true;
  timers_.Arm({now + d.delay, TimerKind::kBackoff, s.serial});
  return true;
}

void Supervisor::SendToWorker(const Worker& w, const Value& m) {
  outbox_.push_back({Peer{Door::kWorkers, "w" + std::to_string(w.id)}, common::EncodeMessage(m)});
}

void Supervisor::SignalGroup(const Worker& w, int sig) {
  if (w.pid <= 0) return;
  // The worker leads its own process group (setsid at spawn); -pid reaches every
  // descendant that did not leave the group, including after the leader is gone.
  if (::kill(-w.pid, sig) != 0 && errno != ESRCH) {
    LogLine(LogLevel::kWarn, "kill_failed")
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("error", std::strerror(errno));
  }
}

void Supervisor::OnWorkerReaped(pid_t pid, int status) {
  auto it = worker_by_pid_.find(pid);
  if (it == worker_by_pid_.end()) return;
  uint64_t id = it->second;
  worker_by_pid_.erase(it);
  if (Worker* w = FindWorker(id)) ApplyEvent(*w, WorkerEvent::kExited, DescribeExit(status));
}

}  // namespace laneway::supervisor
