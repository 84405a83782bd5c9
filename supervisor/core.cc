#include "supervisor/core.h"

#include "common/log.h"
#include "common/paths.h"
#include "supervisor/control_service.h"
#include "supervisor/cron/cron_service.h"
#include "supervisor/origin.h"
#include "supervisor/session_table.h"
#include "supervisor/subagents.h"
#include "supervisor/supervisor.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::Value;

namespace {

constexpr std::chrono::seconds kHousekeepingInterval{1};

}  // namespace

Core::Core(Options options)
    : opt_(std::move(options)),
      ledger_(std::make_unique<TurnLedger>(*this)),
      sessions_(std::make_unique<SessionTable>(*this)),
      pool_(std::make_unique<WorkerPool>(*this)),
      control_(std::make_unique<ControlService>(*this)),
      cron_(std::make_unique<cron::CronService>(*this)),
      subagents_(std::make_unique<Subagents>(*this)) {}

Core::~Core() = default;

Status Core::Open() {
  started_at_ = opt_.clock->Now();
  if (Status st = sessions_->Start(); !st.ok()) return st;
  Journal::Options jo;
  jo.dir = opt_.paths.journal_dir;
  jo.sync = opt_.journal_sync;
  jo.write_hook = opt_.journal_write_hook;
  jo.sync_hook = opt_.journal_sync_hook;
  if (Status st = ledger_->Open(std::move(jo)); !st.ok()) return st;
  subagents_->Start();
  if (Status st = cron_->Start(); !st.ok()) return st;
  timers_.Arm({started_at_ + kHousekeepingInterval, TimerKind::kHousekeeping});
  return Status::Ok();
}

void Core::OnControlMessage(const Peer& peer, const void* data, size_t size) {
  control_->OnMessage(peer, data, size);
}

void Core::OnWorkerMessage(const std::string& routing_id, const void* data, size_t size) {
  pool_->OnMessage(routing_id, data, size);
}

void Core::OnChildExit(pid_t pid, int status) { pool_->OnExit(pid, status); }

void Core::OnShutdownSignal(const char* name) {
  if (!shutting_down_) return BeginShutdown(name);
  // A second signal during the drain: the operator wants out now. Busy workers are
  // stopped as if drain_timeout had passed; their turns stay in the journal.
  LogLine(LogLevel::kWarn, "shutdown_forced")
      .Kv("reason", std::string("second ") + name)
      .Kv("workers", static_cast<uint64_t>(pool_->live()));
  pool_->Drain(/*busy_too=*/true);
  CheckShutdownDone();
}

void Core::OnReloadSignal() {
  auto r = Reload();
  (void)r;  // logged by Reload
}

int Core::journal_fd() const { return ledger_->job_fd(); }

bool Core::journal_job_pending() const { return ledger_->job_pending(); }

void Core::OnJournalJobDone() { ledger_->OnJobDone(); }

size_t Core::OnLaunchResults(size_t max) { return pool_->OnLaunchResults(max); }

size_t Core::FireTimers(size_t max) {
  const auto now = opt_.clock->Now();
  size_t fired = 0;
  while (fired < max) {
    auto t = timers_.PopDue(now);
    if (!t) break;
    ++fired;
    switch (t->kind) {
      case TimerKind::kRunDeadline:
      case TimerKind::kSilence:
      case TimerKind::kGrace:
      case TimerKind::kIdle:
      case TimerKind::kExitSettle:
      case TimerKind::kSpawnPace:
        pool_->OnTimer(*t);
        break;
      case TimerKind::kBackoff:
        sessions_->OnBackoffTimer(t->target);
        break;
      case TimerKind::kDrain:
        pool_->Drain(/*busy_too=*/true);
        CheckShutdownDone();
        break;
      case TimerKind::kCron:
        cron_->OnTimer(*t);
        break;
      case TimerKind::kHousekeeping:
        Housekeeping();
        timers_.Arm({now + kHousekeepingInterval, TimerKind::kHousekeeping});
        break;
    }
  }
  return fired;
}

void Core::EndIteration() {
  pool_->Pump();
  ledger_->WriteBatch();
  ledger_->Flush();
}

void Core::Finish() {
  ledger_->Finish();
  cron_->Finish();
}

void Core::OnTurnEnded(const Turn& t) {
  cron_->OnTurnEnded(t);
  subagents_->OnTurnEnded(t);
}

void Core::OnTurnRefused(const Turn& t, const std::string& why) {
  cron_->OnTurnRefused(t, why);
  subagents_->OnTurnRefused(t, why);
}

void Core::Housekeeping() {
  pool_->Housekeeping();
  // The sweep leaves the launcher thread's children alone (workers, and workers
  // being launched whose pids the pool does not know yet): it runs during bursts too.
  if (opt_.orphan_sweep) opt_.orphan_sweep();
  sessions_->Housekeeping();
  ledger_->Housekeeping();
  subagents_->Housekeeping();
}

AcceptResult Core::AcceptTurn(TurnRequest r) {
  AcceptResult out;
  auto reject = [&](std::string why) {
    out.reject_text = std::move(why);
    return out;
  };
  if (r.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return reject("bad request: idempotency_key is longer than " +
                  std::to_string(kMaxIdempotencyKeyBytes) + " bytes");
  }
  // A retry of a submit that was accepted (or is being journaled): attach to it.
  if (!r.idempotency_key.empty()) {
    if (Turn* t = ledger_->FindByKey(r.idempotency_key)) {
      if (r.waiter)
        ledger_->Attach(*t, r.waiter->peer, r.waiter->request_id, r.wait, r.waiter->stream);
      out.accepted = true;
      out.attached = true;
      out.turn_id = t->id;
      out.session = t->session;
      return out;
    }
  }
  if (shutting_down_) return reject("the supervisor is shutting down; retry when it is back up");
  if (ledger_->refusing()) {
    out.retryable = true;
    const std::string failed =
        std::string(ledger_->refusing_why()) == "write_failed" ? "write" : "sync";
    return reject("not accepted: the journal is being rewritten after a failed " + failed + " (" +
                  ledger_->journal_error() + "); nothing was queued, retry later");
  }
  const common::AgentConfig* agent = opt_.config.FindAgent(r.agent);
  if (agent == nullptr) {
    // Name a few, and how many there are: a config may hold thousands of agents.
    constexpr size_t kNamed = 5;
    std::string known;
    size_t n = 0;
    for (const auto& [id, a] : opt_.config.agents) {
      if (n++ < kNamed) known += (known.empty() ? "" : ", ") + id;
    }
    if (n > kNamed) known += ", ... (" + std::to_string(n) + " in all)";
    return reject("unknown agent '" + r.agent + "' (configured: " + known + ")");
  }
  auto key = common::NormalizeSessionKey(r.agent, r.session);
  if (!key.ok()) return reject(key.status().message());
  out.session = *key;
  if (r.message.empty()) return reject("message is empty");
  Session* existing = sessions_->Find(*key);
  if (existing && existing->policy.parked()) {
    return reject("session " + *key +
                  " is parked after repeated worker deaths; run `laneway restart " + *key +
                  "` to un-park it");
  }
  if (existing && existing->queue.turns() + existing->pending_accepts >= agent->max_queue) {
    return reject("queue full: session " + *key + " already has " +
                  std::to_string(existing->queue.turns() + existing->pending_accepts) +
                  " turns waiting (max_queue = " + std::to_string(agent->max_queue) + ")");
  }
  if (ledger_->unfinished() + ledger_->in_flight() >= opt_.config.supervisor.max_turns_in_memory) {
    return reject("the supervisor holds max_turns_in_memory = " +
                  std::to_string(opt_.config.supervisor.max_turns_in_memory) +
                  " unfinished turns; retry later");
  }
  if (auto full = ledger_->queued_bytes().Refusal(*key, r.message.size(), opt_.config.supervisor)) {
    ++counters_.submits_over_bytes;
    return reject(*full);
  }
  Session& s = sessions_->GetOrCreate(*key, r.agent);
  sessions_->NoteSubmitted(s);
  Turn t;
  t.session = *key;
  t.agent = r.agent;
  t.message = std::move(r.message);
  t.accepted_unix_ms = opt_.clock->UnixMillis();
  t.origin = std::move(r.origin);
  if (!t.origin.is_map()) {
    t.origin = Value::MakeMap();
    t.origin.Set("kind", "control");
  }
  t.idempotency_key = std::move(r.idempotency_key);
  out.turn_id = ledger_->Add(std::move(t), r.waiter, r.wait);
  out.accepted = true;
  return out;
}

void Core::BeginShutdown(const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  LogLine(LogLevel::kInfo, "shutdown_started")
      .Kv("reason", why)
      .Kv("workers", static_cast<uint64_t>(pool_->live()))
      .Kv("drain_timeout_ms", static_cast<int64_t>(opt_.config.supervisor.drain_timeout.count()));
  if (opt_.notify) opt_.notify("STOPPING=1");
  timers_.Arm({opt_.clock->Now() + opt_.config.supervisor.drain_timeout, TimerKind::kDrain});
  pool_->Drain(/*busy_too=*/false);
  CheckShutdownDone();
}

void Core::CheckShutdownDone() {
  if (!shutting_down_ || pool_->live() != 0 || exit_loop_) return;
  sessions_->WriteIndexNow();
  exit_loop_ = true;  // the loop ends; Finish() sends the last notices once synced
}

common::Result<Value> Core::Reload() {
  // RELOADING=1 ... READY=1 around the whole reload, applied or refused.
  if (opt_.notify) opt_.notify("RELOADING=1");
  struct ReadyAgain {
    const std::function<void(std::string_view)>& notify;
    ~ReadyAgain() {
      if (notify) notify("READY=1");
    }
  } ready_again{opt_.notify};
  auto loaded = opt_.config_path.empty() ? common::Result<common::Config>(common::BuiltInConfig())
                                         : common::LoadConfigFile(opt_.config_path);
  if (loaded.ok()) {
    if (auto st = CheckRunnersAvailable(*loaded); !st.ok()) loaded = st;
  }
  if (loaded.ok()) {
    if (auto st = CheckAgentCommands(*loaded); !st.ok()) loaded = st;
  }
  if (!loaded.ok()) {
    LogLine(LogLevel::kError, "reload_refused").Kv("error", loaded.status().message());
    return loaded.status();
  }
  common::Config next = std::move(loaded).value();
  Value needs_restart = Value::MakeArray();
  if (next.supervisor.max_message_bytes != opt_.config.supervisor.max_message_bytes) {
    needs_restart.Push("supervisor.max_message_bytes");
    next.supervisor.max_message_bytes = opt_.config.supervisor.max_message_bytes;
  }
  // The loop's scheduling is applied once, as it starts (loop_scheduling.h).
  if (next.supervisor.loop_scheduling != opt_.config.supervisor.loop_scheduling) {
    needs_restart.Push("supervisor.loop_scheduling");
    next.supervisor.loop_scheduling = opt_.config.supervisor.loop_scheduling;
  }
  // Who may connect is decided when the supervisor binds its sockets (peer_auth.h).
  if (next.supervisor.control_allow_uids != opt_.config.supervisor.control_allow_uids ||
      next.supervisor.control_allow_group != opt_.config.supervisor.control_allow_group) {
    needs_restart.Push("supervisor.control_allow_uids/control_allow_group");
    next.supervisor.control_allow_uids = opt_.config.supervisor.control_allow_uids;
    next.supervisor.control_allow_group = opt_.config.supervisor.control_allow_group;
  }
  if (!(next.channels == opt_.config.channels)) {
    needs_restart.Push("channels");
    next.channels = opt_.config.channels;
  }
  opt_.config = std::move(next);
  sessions_->ApplyConfig();
  LogLine(LogLevel::kInfo, "config_reloaded")
      .Kv("source", opt_.config.source)
      .Kv("needs_restart", common::ToJson(needs_restart));
  Value r = Value::MakeMap();
  r.Set("applied", true);
  r.Set("source", opt_.config.source);
  r.Set("needs_restart", std::move(needs_restart));
  return r;
}

}  // namespace laneway::supervisor
