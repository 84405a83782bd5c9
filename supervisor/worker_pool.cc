#include "supervisor/worker_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/agent_settings.h"
#include "common/log.h"
#include "supervisor/core.h"
#include "supervisor/launcher.h"
#include "supervisor/leftovers.h"
#include "supervisor/session_table.h"
#include "supervisor/turn_ledger.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::TurnStatus;
using common::Value;

namespace {

// A subagent session carries its own run timeout (subagents.h).
std::chrono::milliseconds RunTimeoutOf(const Session* s, const common::AgentConfig& agent) {
  return s != nullptr && s->run_timeout ? *s->run_timeout : agent.run_timeout;
}

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

// How long the exit of a worker that had a turn sent but not acknowledged waits, so
// that a message it sent before dying is read first and decides (docs/protocol.md).
constexpr std::chrono::milliseconds kExitSettle{20};

}  // namespace

WorkerPool::WorkerPool(Core& core) : core_(core) {}

Worker* WorkerPool::FindMutable(uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

const Worker* WorkerPool::Find(uint64_t id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

bool WorkerPool::IsBusy(uint64_t id) const {
  const Worker* w = Find(id);
  return w && HasTurn(w->state);
}

bool WorkerPool::IsIdle(uint64_t id) const {
  const Worker* w = Find(id);
  return w && w->state == WorkerState::kIdle;
}

size_t WorkerPool::stopping() const {
  size_t n = 0;
  for (const auto& [id, w] : workers_) n += w.state == WorkerState::kStopping;
  return n;
}

void WorkerPool::OnMessage(const std::string& peer, const void* data, size_t size) {
  const uint64_t id = ParseWorkerId(peer);
  if (id == 0 || Find(id) == nullptr) {
    // A generation we already reaped (or a stranger): never delivered anywhere.
    ++core_.counters().stale_worker_messages;
    LogLine(LogLevel::kDebug, "stale_worker_message").Kv("peer", peer);
    return;
  }
  if (data == nullptr)
    return Apply(id, WorkerEvent::kProtocolError, "message is not exactly one frame");
  auto m = common::DecodeMessage(data, size, core_.config().supervisor.max_message_bytes);
  if (!m.ok()) return Apply(id, WorkerEvent::kProtocolError, m.status().message());
  const std::string& type = common::MessageType(*m);
  const Worker& w = *Find(id);
  if (type == common::msg::kHello) {
    if (w.spare && w.session.empty() && w.state == WorkerState::kStarting && !w.spare_ready &&
        m->GetBoolOr("spare", false).value()) {
      return OnSpareHello(*FindMutable(id));
    }
    auto session = m->GetString("session");
    if (!session.ok() || *session != w.session) {
      return Apply(id, WorkerEvent::kProtocolError, "hello for the wrong session");
    }
    Apply(id, WorkerEvent::kHello);
  } else if (type == common::msg::kHeartbeat) {
    // Sent only while a turn runs, with its id: one for an earlier turn acknowledges
    // nothing.
    const int64_t turn = m->GetIntOr("turn_id", 0).value();
    if (w.state == WorkerState::kDispatched && w.running && turn != 0 &&
        turn != static_cast<int64_t>(w.running->turn_ids.front())) {
      ++core_.counters().stale_worker_messages;
      return;
    }
    Apply(id, WorkerEvent::kHeartbeat);
  } else if (type == common::msg::kWorkerProgress || type == common::msg::kDone) {
    const bool done = type == common::msg::kDone;
    if (done) {
      if (!m->GetInt("turn_id").ok() || !m->GetBool("ok").ok()) {
        return Apply(id, WorkerEvent::kProtocolError, "done without turn_id/ok");
      }
    } else {
      ++core_.counters().progress_messages;
      if (!m->GetInt("turn_id").ok() || !m->GetString("delta").ok()) {
        return Apply(id, WorkerEvent::kProtocolError, "progress without turn_id/delta");
      }
    }
    // The turn must be the one it runs; a worker that is stopping is stale anyway,
    // and the table drops what it sends.
    const uint64_t turn = static_cast<uint64_t>(m->GetInt("turn_id").value());
    if (w.state != WorkerState::kStopping && (!w.running || turn != w.running->turn_ids.front())) {
      return Apply(id, WorkerEvent::kProtocolError,
                   std::string(done ? "done" : "progress") + " for turn " + std::to_string(turn) +
                       " it was not given");
    }
    Apply(id, done ? WorkerEvent::kDone : WorkerEvent::kProgress, "", &m.value());
  } else {
    Apply(id, WorkerEvent::kProtocolError, "unknown message type '" + type + "'");
  }
}

void WorkerPool::Apply(uint64_t id, WorkerEvent e, const std::string& detail, const Value* msg,
                       const char* kill_reason) {
  events_.push_back({id, e, detail, msg ? *msg : Value(), kill_reason});
  if (interpreting_) return;  // a follow-up: interpreted after the current event
  interpreting_ = true;
  while (!events_.empty()) {
    Event ev = std::move(events_.front());
    events_.pop_front();
    Interpret(ev);
  }
  interpreting_ = false;
}

void WorkerPool::Interpret(const Event& ev) {
  Worker* wp = FindMutable(ev.worker);
  if (wp == nullptr) return;  // released by an earlier event
  Worker& w = *wp;
  const WorkerEvent e = ev.event;
  const Transition t = NextTransition(w.state, e);
  const WorkerState prev = w.state;
  const auto now = core_.clock().Now();
  Untrack(w);
  w.state = t.next;
  Track(w);
  Session* s = core_.sessions().Find(w.session);
  const common::AgentConfig* agent = s ? core_.sessions().AgentOf(*s) : nullptr;
  const auto kill_grace = agent ? agent->kill_grace : std::chrono::milliseconds(5000);
  Counters& counters = core_.counters();

  if (t.actions & kTouch) w.last_seen = now;
  if (t.actions & kDropStale) {
    ++counters.stale_worker_messages;
    LogLine(LogLevel::kDebug, "stale_worker_message")
        .Kv("session", w.session)
        .Kv("worker", w.id)
        .Kv("event", WorkerEventName(e));
  }
  if (t.actions & kCountFault) w.fault = true;
  if (std::strcmp(t.reason, "protocol_error") == 0) {
    ++counters.worker_protocol_errors;
    LogLine(LogLevel::kWarn, "worker_protocol_error")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("detail", ev.detail);
  }
  if (t.actions & kSendConfigure) {
    if (agent != nullptr) {
      Value configure = common::NewMessage(common::msg::kConfigure);
      configure.Set("agent", common::AgentSettingsToValue(*agent));
      Send(w, configure);
    }
  }
  if ((t.actions & kForwardProgress) && w.running) {
    const std::string delta = ev.msg.GetStringOr("delta", "").value();
    for (uint64_t id : w.running->turn_ids) core_.ledger().ForwardProgress(id, delta);
  }
  if ((t.actions & kEndTurn) && w.running) {
    Batch batch = std::move(*w.running);
    w.running.reset();
    TurnStatus status = t.turn_status;
    std::string text;
    if (e == WorkerEvent::kDone) {
      const bool ok = ev.msg.GetBoolOr("ok", false).value();
      text = ev.msg.GetStringOr(ok ? "reply" : "error", "").value();
      status = ok ? TurnStatus::kReplied : TurnStatus::kFailed;
      if (const Value* meta = ev.msg.Find("meta"); meta && meta->is_map()) {
        OpsStats::NoteRunnerMeta(*meta, counters);
        for (uint64_t id : batch.turn_ids) core_.ledger().SetMeta(id, *meta);
      }
    } else {
      EndTextFacts f;
      f.lead_turn = batch.turn_ids.front();
      f.session = w.session;
      f.run_timeout_ms = agent ? RunTimeoutOf(s, *agent).count() : 0;
      f.heartbeat_timeout_ms = core_.config().supervisor.heartbeat_timeout.count();
      f.detail = ev.detail;
      text = TurnEndText(e, t, f);
    }
    if (w.stuck_reported) {
      w.stuck_reported = false;
      LogLine(LogLevel::kInfo, "session_unstuck")
          .Kv("session", w.session)
          .Kv("turn", batch.turn_ids.front())
          .Kv("status", common::TurnStatusName(status));
    }
    for (uint64_t id : batch.turn_ids) core_.ledger().End(id, status, text);
  }
  if ((t.actions & kRequeueTurn) && w.running && s) {
    core_.sessions().PutBack(*s, std::move(*w.running));
    w.running.reset();
  }
  const char* reason = ev.kill_reason ? ev.kill_reason : t.reason;
  if (t.actions & (kTermGroup | kSendStop)) {
    w.stop_reason = reason;
    ++w.stop_seq;
    ArmTimer(w, w.grace_timer, TimerKind::kGrace, now + kill_grace, w.stop_seq);
  }
  if (t.actions & kTermGroup) {
    ++counters.worker_kills;
    core_.ops().NoteKill(reason);
    LogLine(LogLevel::kInfo, "worker_killed")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("reason", reason)
        .Kv("signal", "SIGTERM")
        .Kv("kill_grace_ms", static_cast<int64_t>(kill_grace.count()));
    SignalGroup(w, SIGTERM);
  }
  if (t.actions & kSendStop) Send(w, common::NewMessage(common::msg::kStop));
  if (t.actions & kKillGroup) {
    if (prev != WorkerState::kStopping && e != WorkerEvent::kExited) {
      ++counters.worker_kills;
      core_.ops().NoteKill(reason);
      LogLine(LogLevel::kInfo, "worker_killed")
          .Kv("session", w.session)
          .Kv("pid", static_cast<int64_t>(w.pid))
          .Kv("reason", reason)
          .Kv("signal", "SIGKILL");
    }
    SignalGroup(w, SIGKILL);
  }
  if (t.actions & kSendRun) SendRun(w, s);
  if (prev == WorkerState::kStarting && w.state != WorkerState::kStarting && w.awaiting_hello) {
    w.awaiting_hello = false;
    --hello_pending_;
  }
  if (w.state == WorkerState::kIdle && prev != WorkerState::kIdle) {
    w.idle_since = now;
    CancelTimer(w.silence_timer);  // an idle worker sends nothing, and need not
    CancelTimer(w.run_timer);
    ArmTimer(w, w.idle_timer, TimerKind::kIdle, now + core_.config().supervisor.idle_timeout);
  }
  if (w.state == WorkerState::kStopping && prev != WorkerState::kStopping) {
    CancelTimer(w.silence_timer);
    CancelTimer(w.run_timer);
    CancelTimer(w.idle_timer);
    if (!w.launch_asked) DropUnlaunched(w);
  }
  if (prev == WorkerState::kStarting && w.state == WorkerState::kIdle) {
    LogLine(LogLevel::kDebug, "worker_ready")
        .Kv("session", w.session)
        .Kv("pid", static_cast<int64_t>(w.pid));
  }
  if (t.actions & kDispatchNext) DispatchNext(w);

  if (t.actions & kRelease) {
    const bool fault = w.fault;
    const std::string key = w.session;
    LogLine(fault ? LogLevel::kWarn : LogLevel::kInfo, "worker_exited")
        .Kv("session", key)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("status", ev.detail)
        .Kv("reason", w.stop_reason.empty() ? t.reason : w.stop_reason.c_str())
        .Kv("fault", fault ? "yes" : "no");
    CancelAllTimers(w);
    if (w.awaiting_hello) --hello_pending_;
    if (w.spare) {
      --spares_;
      for (auto it = ready_spares_.begin(); it != ready_spares_.end(); ++it) {
        if (*it == w.id) {
          ready_spares_.erase(it);
          break;
        }
      }
    }
    if (w.pid > 0) by_pid_.erase(w.pid);
    Untrack(w);
    workers_.erase(w.id);  // `w` dangles from here on
    if (!key.empty()) core_.sessions().OnWorkerGone(key, fault);
    core_.sessions().AdmitWaiting();
    core_.CheckShutdownDone();
  }
}

void WorkerPool::SendRun(Worker& w, Session* s) {
  Value run = common::NewMessage(common::msg::kRun);
  std::string text;
  Value ids = Value::MakeArray();
  for (uint64_t id : w.running->turn_ids) {
    Turn* turn = core_.ledger().Find(id);
    if (turn == nullptr) continue;
    core_.ledger().NoteStart(*turn);
    if (!text.empty()) text += "\n\n";
    text += turn->message;
    ids.as_array().emplace_back(id);  // in place: g++ 12 warns on a moved variant here
    LogLine(LogLevel::kInfo, "turn_started")
        .Kv("session", w.session)
        .Kv("turn", id)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("attempt", turn->attempts);
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
  Send(w, run);
  const auto now = core_.clock().Now();
  w.turn_started = now;
  w.last_seen = now;
  const common::AgentConfig* agent = s ? core_.sessions().AgentOf(*s) : nullptr;
  if (agent) ArmTimer(w, w.run_timer, TimerKind::kRunDeadline, now + RunTimeoutOf(s, *agent));
  ArmTimer(w, w.silence_timer, TimerKind::kSilence,
           now + core_.config().supervisor.heartbeat_timeout);
}

void WorkerPool::DispatchNext(Worker& w) {
  if (w.state != WorkerState::kIdle) return;
  Session* s = core_.sessions().Find(w.session);
  if (s == nullptr) return;
  if (core_.shutting_down()) return Apply(w.id, WorkerEvent::kDrainKill);
  std::optional<Batch> b = core_.sessions().NextBatch(*s);
  if (!b) {
    // Nothing to do here while other sessions wait for a slot: give it up.
    if (core_.sessions().waiting_for_worker() > 0) Apply(w.id, WorkerEvent::kIdleTimeout);
    return;
  }
  w.running = std::move(*b);
  Apply(w.id, WorkerEvent::kDispatch);
}

void WorkerPool::Offer(Session& s) {
  if (Worker* w = FindMutable(s.worker_id)) DispatchNext(*w);
}

void WorkerPool::StopIdle(size_t n) {
  std::vector<uint64_t> victims;
  for (const auto& [id, w] : workers_) {
    if (victims.size() >= n) break;
    if (w.state != WorkerState::kIdle) continue;
    const Session* s = core_.sessions().Find(w.session);
    if (s && s->queue.empty()) victims.push_back(id);
  }
  for (uint64_t id : victims) Apply(id, WorkerEvent::kIdleTimeout, "slot wanted");
}

void WorkerPool::Drain(bool busy_too) {
  std::vector<uint64_t> ids;
  for (const auto& [id, w] : workers_) {
    const bool quiet = w.state == WorkerState::kIdle || w.state == WorkerState::kStarting;  // spares too
    if (quiet || (busy_too && w.state != WorkerState::kStopping)) ids.push_back(id);
  }
  for (uint64_t id : ids) Apply(id, WorkerEvent::kDrainKill, busy_too ? "drain_timeout" : "");
}

Worker& WorkerPool::NewRecord(const std::string& session, bool spare) {
  const auto now = core_.clock().Now();
  Worker w;
  w.id = next_id_++;
  w.session = session;
  w.spare = spare;
  w.spawned_at = now;
  w.last_seen = now;
  Worker& out = workers_.emplace(w.id, std::move(w)).first->second;
  Track(out);
  return out;
}

void WorkerPool::Track(const Worker& w) {
  ++tally_.by_state[static_cast<int>(w.state)];
  if (w.state == WorkerState::kStarting && w.spare_ready) ++tally_.starting_spare_ready;
  if (HasTurn(w.state)) tally_.with_turn.insert(w.id);
}

void WorkerPool::Untrack(const Worker& w) {
  --tally_.by_state[static_cast<int>(w.state)];
  if (w.state == WorkerState::kStarting && w.spare_ready) --tally_.starting_spare_ready;
  if (HasTurn(w.state)) tally_.with_turn.erase(w.id);
}

bool WorkerPool::HasRoom(size_t not_counted) const {
  const size_t max = core_.config().supervisor.max_workers;
  const size_t bound = workers_.size() - spares_;
  const size_t counted = bound > not_counted ? bound - not_counted : 0;
  const size_t total = workers_.size() > not_counted ? workers_.size() - not_counted : 0;
  return counted < max && (!ready_spares_.empty() || total < max);
}

bool WorkerPool::Spawn(Session& s) {
  const common::AgentConfig* agent = core_.sessions().AgentOf(s);
  if (agent == nullptr) return false;
  if (!ready_spares_.empty()) {
    Worker& w = *FindMutable(ready_spares_.front());
    ready_spares_.pop_front();
    --spares_;
    w.spare = false;
    Untrack(w);
    w.spare_ready = false;
    Track(w);
    w.session = s.key;
    s.worker_id = w.id;
    const auto now = core_.clock().Now();
    w.last_seen = now;
    Value bind = common::NewMessage(common::msg::kBind);
    bind.Set("session", s.key);
    bind.Set("agent", s.agent);
    Send(w, bind);
    // It says hello for its session once it holds the session's lock.
    ArmTimer(w, w.silence_timer, TimerKind::kSilence,
             now + core_.config().supervisor.heartbeat_timeout);
    LogLine(LogLevel::kDebug, "spare_bound")
        .Kv("session", s.key)
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("worker", w.id);
    return true;
  }
  Worker& w = NewRecord(s.key, false);
  s.worker_id = w.id;
  launch_queue_.push_back(w.id);
  Pump();
  return true;
}

SpawnSpec WorkerPool::SpecFor(const Worker& w, const std::string& agent) const {
  const Core::Options& o = core_.options();
  const auto& sc = core_.config().supervisor;
  // Identity and transport on the command line; the agent's settings follow in
  // `configure` once the worker says hello.
  SpawnSpec spec;
  spec.program = o.worker_binary;
  spec.args = {"--endpoint", o.paths.worker_endpoint(), "--worker-id", std::to_string(w.id)};
  if (w.spare) {
    spec.args.insert(spec.args.end(), {"--spare", "1"});
  } else {
    spec.args.insert(spec.args.end(), {"--session", w.session, "--agent", agent});
  }
  spec.args.insert(spec.args.end(),
                   {"--heartbeat-ms", std::to_string(sc.heartbeat_interval.count()),
                    "--lock-wait-ms", std::to_string(sc.heartbeat_timeout.count() / 2),
                    "--supervisor-pid", std::to_string(o.supervisor_pid), "--max-message-bytes",
                    std::to_string(sc.max_message_bytes)});
  // The agent command inherits these: `laneway spawn` finds the supervisor here, and
  // the next supervisor of this home knows what outlived this one (leftovers.h).
  spec.extra_env = {{"LANEWAY_HOME", o.paths.home},
                    {"LANEWAY_CONTROL_ENDPOINT", o.paths.control_endpoint()},
                    {kSupervisedByEnv, o.paths.home}};
  spec.nice = static_cast<int>(sc.worker_nice);
  return spec;
}

void WorkerPool::LaunchNow(Worker& w) {
  std::string agent;
  if (!w.spare) {
    const Session* s = core_.sessions().Find(w.session);
    agent = s ? s->agent : "";
  }
  w.launch_asked = true;
  w.awaiting_hello = true;
  ++hello_pending_;
  core_.options().launcher->Launch(w.id, SpecFor(w, agent));
}

void WorkerPool::AddSpares() {
  const auto& sc = core_.config().supervisor;
  if (core_.shutting_down() || sc.spare_workers == 0) return;
  if (core_.clock().Now() < spare_retry_at_) return;
  while (spares_ < sc.spare_workers && workers_.size() < sc.max_workers) {
    Worker& w = NewRecord("", true);
    ++spares_;
    spare_launch_queue_.push_back(w.id);
  }
}

uint32_t EffectiveSpawnConcurrency(const common::SupervisorConfig& sc) {
  if (sc.spawn_concurrency > 0) return sc.spawn_concurrency;
  // 0: four launches in flight per CPU. More only queue for the CPU, and the loop
  // then waits behind them (docs/scaling.md, "CPU priority").
  static const uint32_t automatic = [] {
    const unsigned cpus = std::thread::hardware_concurrency();
    return std::max<uint32_t>(4, 4 * (cpus == 0 ? 1 : cpus));
  }();
  return automatic;
}

void WorkerPool::Pump() {
  AddSpares();
  const auto& sc = core_.config().supervisor;
  const auto now = core_.clock().Now();
  while (hello_pending_ < EffectiveSpawnConcurrency(sc) &&
         (!launch_queue_.empty() || !spare_launch_queue_.empty())) {
    std::deque<uint64_t>& q = launch_queue_.empty() ? spare_launch_queue_ : launch_queue_;
    Worker* w = FindMutable(q.front());
    if (w == nullptr || w->launch_asked || w->state != WorkerState::kStarting) {
      q.pop_front();  // released while it waited
      continue;
    }
    if (sc.spawn_rate > 0) {
      if (now < next_launch_at_) {
        if (!pace_timer_armed_) {
          pace_timer_armed_ = true;
          core_.timers().Arm({next_launch_at_, TimerKind::kSpawnPace});
        }
        return;
      }
      const auto gap = std::chrono::duration_cast<common::SteadyTime::duration>(
          std::chrono::duration<double>(1.0 / sc.spawn_rate));
      next_launch_at_ = std::max(now, next_launch_at_) + gap;
    }
    q.pop_front();
    LaunchNow(*w);
  }
}

size_t WorkerPool::OnLaunchResults(size_t max) {
  std::vector<LaunchResult> results = core_.options().launcher->TakeResults(max);
  const auto now = core_.clock().Now();
  for (LaunchResult& r : results) {
    Worker* w = FindMutable(r.worker_id);
    if (w == nullptr) {
      // Its record went while it was being started: the process must not live.
      if (r.pid > 0) core_.options().launcher->SignalGroup(r.pid, SIGKILL);
      continue;
    }
    if (r.pid <= 0) {
      ++core_.counters().worker_spawn_failures;
      LogLine(LogLevel::kError, "worker_spawn_failed")
          .Kv("session", w->session)
          .Kv("error", r.error);
      const std::string key = w->session;
      const bool spare = w->spare;
      if (w->awaiting_hello) --hello_pending_;
      if (spare) {
        --spares_;
        spare_retry_at_ = now + std::chrono::seconds(1);  // no hot loop of failing spares
      }
      CancelAllTimers(*w);
      Untrack(*w);
      workers_.erase(r.worker_id);
      if (Session* s = key.empty() ? nullptr : core_.sessions().Find(key)) {
        s->worker_id = 0;
        core_.sessions().OnSpawnFailed(*s, r.error);
      }
      core_.CheckShutdownDone();
      continue;
    }
    w->pid = r.pid;
    by_pid_[r.pid] = w->id;
    ++core_.counters().worker_spawns;
    LogLine(LogLevel::kDebug, "worker_started")
        .Kv("session", w->session)
        .Kv("pid", static_cast<int64_t>(r.pid))
        .Kv("worker", w->id)
        .Kv("spare", w->spare ? "yes" : "no");
    if (w->state == WorkerState::kStopping) {
      // Asked to stop before it had a process.
      core_.options().launcher->SignalGroup(r.pid, SIGKILL);
    } else if (w->state == WorkerState::kStarting && !w->spare_ready) {
      // The hello deadline (its hello may already have been read: the launcher's
      // result and the worker's socket are different descriptors).
      w->last_seen = now;
      ArmTimer(*w, w->silence_timer, TimerKind::kSilence,
               now + core_.config().supervisor.heartbeat_timeout);
    }
    if (auto e = early_exits_.find(r.pid); e != early_exits_.end()) {
      const int status = e->second;
      early_exits_.erase(e);
      OnExit(r.pid, status);
    }
  }
  if (core_.options().launcher->in_flight() == 0) early_exits_.clear();
  return results.size();
}

size_t WorkerPool::launches_in_flight() const { return core_.options().launcher->in_flight(); }

void WorkerPool::OnSpareHello(Worker& w) {
  Untrack(w);
  w.spare_ready = true;
  Track(w);
  if (w.awaiting_hello) {
    w.awaiting_hello = false;
    --hello_pending_;
  }
  CancelTimer(w.silence_timer);  // a waiting spare sends nothing
  w.last_seen = core_.clock().Now();
  ready_spares_.push_back(w.id);
  LogLine(LogLevel::kDebug, "spare_ready").Kv("pid", static_cast<int64_t>(w.pid)).Kv("worker", w.id);
  core_.sessions().AdmitWaiting();
}

void WorkerPool::DropUnlaunched(Worker& w) {
  // No process was ever asked for: its exit is now.
  Apply(w.id, WorkerEvent::kExited, "never started");
}

void WorkerPool::OnExit(pid_t pid, int status) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) {
    // A worker that died before its launch result was taken, or an orphan.
    if (launches_in_flight() > 0 && early_exits_.size() < 100000) early_exits_[pid] = status;
    return;
  }
  const uint64_t id = it->second;
  by_pid_.erase(it);
  Worker* w = FindMutable(id);
  if (w != nullptr && w->state == WorkerState::kDispatched) {
    // Whether it took its turn before dying decides between requeue and failure:
    // read what it sent first.
    w->exit_status = status;
    CancelTimer(w->silence_timer);
    ArmTimer(*w, w->settle_timer, TimerKind::kExitSettle, core_.clock().Now() + kExitSettle);
    return;
  }
  Apply(id, WorkerEvent::kExited, DescribeExit(status));
}

void WorkerPool::OnTimer(const Timer& t) {
  if (t.kind == TimerKind::kSpawnPace) {
    pace_timer_armed_ = false;
    return Pump();
  }
  Worker* w = FindMutable(t.target);
  if (w == nullptr) return;
  const auto now = core_.clock().Now();
  switch (t.kind) {
    case TimerKind::kRunDeadline: {
      w->run_timer = 0;
      const Session* s = core_.sessions().Find(w->session);
      const common::AgentConfig* agent = s ? core_.sessions().AgentOf(*s) : nullptr;
      if (!HasTurn(w->state) || !agent) break;
      const auto deadline = w->turn_started + RunTimeoutOf(s, *agent);
      if (now >= deadline) {
        Apply(w->id, WorkerEvent::kRunTimeout);
      } else {
        ArmTimer(*w, w->run_timer, TimerKind::kRunDeadline, deadline);
      }
      break;
    }
    case TimerKind::kSilence: {
      w->silence_timer = 0;
      if (w->state == WorkerState::kStopping || w->state == WorkerState::kIdle) break;
      if (w->settle_timer != 0 || w->spare_ready) break;
      const auto limit = core_.config().supervisor.heartbeat_timeout;
      if (now - w->last_seen >= limit) {
        Apply(w->id, WorkerEvent::kSilent,
              "no message for " + std::to_string(limit.count()) + "ms");
      } else {
        ArmTimer(*w, w->silence_timer, TimerKind::kSilence, w->last_seen + limit);
      }
      break;
    }
    case TimerKind::kGrace:
      w->grace_timer = 0;
      if (w->state == WorkerState::kStopping && w->stop_seq == t.token) {
        Apply(w->id, WorkerEvent::kGraceExpired);
      }
      break;
    case TimerKind::kIdle: {
      w->idle_timer = 0;
      if (w->state != WorkerState::kIdle) break;
      const auto deadline = w->idle_since + core_.config().supervisor.idle_timeout;
      if (now >= deadline) {
        Apply(w->id, WorkerEvent::kIdleTimeout);
      } else {
        ArmTimer(*w, w->idle_timer, TimerKind::kIdle, deadline);
      }
      break;
    }
    case TimerKind::kExitSettle:
      w->settle_timer = 0;
      Apply(w->id, WorkerEvent::kExited, DescribeExit(w->exit_status));
      break;
    default:
      break;
  }
}

void WorkerPool::Housekeeping() {
  const auto now = core_.clock().Now();
  const auto stuck_after = core_.config().supervisor.stuck_after;
  for (uint64_t id : tally_.with_turn) {
    Worker& w = workers_.at(id);
    if (w.stuck_reported || !w.running) continue;
    if (now - w.turn_started < stuck_after) continue;
    w.stuck_reported = true;
    LogLine(LogLevel::kWarn, "session_stuck")
        .Kv("session", w.session)
        .Kv("turn", w.running->turn_ids.front())
        .Kv("pid", static_cast<int64_t>(w.pid))
        .Kv("turn_age_ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(now - w.turn_started).count())
        .Kv("stuck_after_ms", static_cast<int64_t>(stuck_after.count()));
  }
}

bool WorkerPool::IsWorkerPid(pid_t pid) const { return by_pid_.count(pid) > 0; }

void WorkerPool::ArmTimer(Worker& w, TimerHandle& slot, TimerKind kind, common::SteadyTime when,
                          uint64_t token) {
  CancelTimer(slot);
  slot = core_.timers().Arm({when, kind, w.id, token});
}

void WorkerPool::CancelTimer(TimerHandle& slot) {
  if (slot != 0) core_.timers().Cancel(slot);
  slot = 0;
}

void WorkerPool::CancelAllTimers(Worker& w) {
  for (TimerHandle* h : {&w.run_timer, &w.silence_timer, &w.grace_timer, &w.idle_timer,
                         &w.settle_timer}) {
    CancelTimer(*h);
  }
}

void WorkerPool::Send(const Worker& w, const Value& m) {
  core_.ledger().SendAfterCommit(Peer{Door::kWorkers, "w" + std::to_string(w.id)},
                                 common::EncodeMessage(m));
}

void WorkerPool::SignalGroup(const Worker& w, int sig) {
  if (w.pid > 0) core_.options().launcher->SignalGroup(w.pid, sig);
}

}  // namespace laneway::supervisor
