#include "supervisor/cron/cron_service.h"

#include <algorithm>

#include "common/log.h"
#include "common/protocol.h"
#include "supervisor/control_service.h"
#include "supervisor/core.h"
#include "supervisor/cron/cron_plan.h"
#include "supervisor/origin.h"
#include "supervisor/turn_ledger.h"

namespace laneway::supervisor::cron {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::TurnStatus;
using common::Value;

namespace {

constexpr uint64_t kScheduleTimer = 0;
constexpr uint64_t kStoreTimer = 1;
constexpr auto kMaxTimerAhead = std::chrono::seconds(1);
constexpr auto kStorePollEvery = std::chrono::milliseconds(2);
constexpr int64_t kJumpToleranceMs = 2000;
constexpr size_t kRunTextBytes = 200;

std::string Shorten(const std::string& s) {
  return s.size() <= kRunTextBytes ? s : s.substr(0, kRunTextBytes) + "...";
}

std::string StringField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : "";
}

int64_t IntField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_int() ? f->as_int() : 0;
}

// Fields of a job that `cron.update` may change.
constexpr const char* kPatchable[] = {"agent",    "session", "message",  "kind",    "spec",
                                      "tz",       "enabled", "deliver",  "channel", "to",
                                      "catch_up", "overlap"};

}  // namespace

CronService::CronService(Core& core) : core_(core) {}

CronService::~CronService() = default;

Status CronService::Start() {
  store_ = std::make_unique<CronStore>(core_.options().paths.home + "/cron");
  if (Status st = store_->Start(); !st.ok()) return st;
  auto doc = store_->Load();
  if (!doc.ok()) return doc.status();
  const int64_t now = core_.clock().UnixMillis();
  for (const Value& v : doc->Find("jobs")->as_array()) {
    auto job = JobFromValue(v, now, /*stored=*/true);
    if (!job.ok()) {
      return Status::InvalidArgument(store_->path() + ": job " + StringField(v, "name") + ": " +
                                     job.status().message() + "; fix or remove it");
    }
    jobs_[job->name] = std::move(job).value();
  }
  // The journal is the truth about firings: turns it holds that the file does not
  // (the file lags by the last few writes) join their job's history, and outcomes
  // decided while the file was stale are copied in.
  size_t adopted = 0;
  core_.ledger().ForEachTurn([&](const Turn& t) {
    const std::string name = StringField(t.origin, "cron_job");
    auto it = name.empty() ? jobs_.end() : jobs_.find(name);
    if (it == jobs_.end()) return;
    CronJob& job = it->second;
    const int64_t scheduled = IntField(t.origin, "scheduled_unix_ms");
    auto run = std::find_if(job.runs.begin(), job.runs.end(),
                            [&](const CronRun& r) { return r.turn_id == t.id; });
    if (run == job.runs.end()) {
      if (t.accepted_unix_ms < job.created_unix_ms) return;  // an earlier job of that name
      CronRun r;
      r.scheduled_unix_ms = scheduled;
      r.fired_unix_ms = t.accepted_unix_ms;
      r.turn_id = t.id;
      r.manual = t.origin.Find("manual") != nullptr;
      r.status = common::TurnStatusName(t.status);
      job.runs.push_back(r);
      std::sort(job.runs.begin(), job.runs.end(), [](const CronRun& a, const CronRun& b) {
        return a.fired_unix_ms < b.fired_unix_ms;
      });
      run = std::find_if(job.runs.begin(), job.runs.end(),
                         [&](const CronRun& x) { return x.turn_id == t.id; });
      ++adopted;
    }
    run->status = common::TurnStatusName(t.status);
    if (t.status != TurnStatus::kPending) run->text = Shorten(t.text);
    if (!run->manual && scheduled > job.last_scheduled_unix_ms) {
      job.last_scheduled_unix_ms = scheduled;
    }
    if (t.id > job.last_turn) job.last_turn = t.id;
  });
  if (adopted > 0) {
    LogLine(LogLevel::kInfo, "cron_runs_recovered").Kv("runs", static_cast<uint64_t>(adopted));
  }
  // A run the file calls pending whose turn the journal does not hold was decided
  // but its accept record never became durable (the file was written first, then
  // the supervisor died): that firing is owed and runs now, with the same key.
  std::vector<std::pair<std::string, int64_t>> owed;
  for (auto& [name, job] : jobs_) {
    for (auto it = job.runs.begin(); it != job.runs.end();) {
      const Turn* t = it->turn_id ? core_.ledger().Find(it->turn_id) : nullptr;
      const bool ours = t && StringField(t->origin, "cron_job") == name &&
                        IntField(t->origin, "scheduled_unix_ms") == it->scheduled_unix_ms;
      if (it->status != "pending" || it->turn_id == 0 || ours) {
        ++it;
        continue;
      }
      if (!it->manual) owed.emplace_back(name, it->scheduled_unix_ms);
      it = job.runs.erase(it);
      ++adopted;
    }
  }
  started_ = true;
  for (const auto& [name, scheduled] : owed) {
    LogLine(LogLevel::kInfo, "cron_refire").Kv("job", name).Kv("scheduled_unix_ms", scheduled);
    Fire(jobs_[name], scheduled, /*manual=*/false, /*catch_up=*/false, nullptr);
  }
  if (!jobs_.empty()) {
    LogLine(LogLevel::kInfo, "cron_started")
        .Kv("jobs", static_cast<uint64_t>(jobs_.size()))
        .Kv("file", store_->path());
  }
  if (adopted > 0) Changed();
  Tick();
  return Status::Ok();
}

void CronService::OnTimer(const Timer& t) {
  if (t.token == kStoreTimer) {
    poll_timer_armed_ = false;
    PumpStore();
    return;
  }
  if (t.when != schedule_timer_at_) return;  // superseded by an earlier one
  schedule_timer_armed_ = false;
  Tick();
}

void CronService::Tick() {
  if (!started_) return;
  const auto steady = core_.clock().Now();
  const int64_t now = core_.clock().UnixMillis();
  if (last_tick_wall_ != 0) {
    const int64_t steady_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady - last_tick_steady_).count();
    const int64_t drift = (now - last_tick_wall_) - steady_ms;
    if (drift > kJumpToleranceMs || drift < -kJumpToleranceMs) {
      ++clock_jumps_;
      LogLine(LogLevel::kWarn, "cron_clock_jump")
          .Kv("jump_ms", drift)
          .Kv("direction", drift > 0 ? "forward" : "backward");
    }
  }
  last_tick_steady_ = steady;
  last_tick_wall_ = now;
  std::optional<int64_t> earliest;
  bool again = false;
  for (auto& [name, job] : jobs_) {
    if (!job.enabled || !core_.config().cron.enabled) continue;
    PlanJob(job, now);
    if (auto next = job.Next()) earliest = earliest ? std::min(*earliest, *next) : *next;
    again = again || (job.Next() && *job.Next() <= now);
  }
  PumpStore();
  if (!earliest) return;
  auto delay = std::chrono::milliseconds(std::max<int64_t>(*earliest - now, 1));
  if (again) delay = std::chrono::milliseconds(1);
  ArmAt(steady + std::min<std::chrono::milliseconds>(delay, kMaxTimerAhead), kScheduleTimer);
}

void CronService::ArmAt(common::SteadyTime when, uint64_t token) {
  if (token == kStoreTimer) {
    if (poll_timer_armed_) return;
    poll_timer_armed_ = true;
  } else {
    if (schedule_timer_armed_ && schedule_timer_at_ <= when) return;
    schedule_timer_armed_ = true;
    schedule_timer_at_ = when;
  }
  core_.timers().Arm({when, TimerKind::kCron, 0, token});
}

void CronService::PlanJob(CronJob& job, int64_t now) {
  const Plan p = PlanDue(job.schedule, job.last_scheduled_unix_ms, now, job.catch_up,
                         core_.config().cron.missed_after.count());
  if (p.last == job.last_scheduled_unix_ms) return;
  job.last_scheduled_unix_ms = p.last;
  if (p.skipped > 0) {
    CronRun skip;
    skip.scheduled_unix_ms = p.skipped_latest;
    skip.fired_unix_ms = now;
    skip.status = "skipped";
    skip.missed = p.skipped;
    skip.text = "missed " + std::to_string(p.skipped) +
                (p.skipped == 1 ? " firing" : " firings") +
                " (supervisor down or clock jumped forward; catch_up = " +
                CatchUpName(job.catch_up) + ")";
    LogLine(LogLevel::kInfo, "cron_missed")
        .Kv("job", job.name)
        .Kv("missed", p.skipped)
        .Kv("catch_up", CatchUpName(job.catch_up));
    Record(job, std::move(skip));
  }
  if (p.run) Fire(job, *p.run, /*manual=*/false, p.catch_up, nullptr);
  Changed();
}

void CronService::Fire(CronJob& job, int64_t scheduled, bool manual, bool catch_up,
                       CronRun* out) {
  const int64_t now = core_.clock().UnixMillis();
  CronRun run;
  run.scheduled_unix_ms = scheduled;
  run.fired_unix_ms = now;
  run.manual = manual;
  if (job.overlap == Overlap::kSkip && job.last_turn != 0) {
    const Turn* prev = core_.ledger().Find(job.last_turn);
    if (prev && prev->status == TurnStatus::kPending) {
      run.status = "skipped";
      run.missed = 1;
      run.text = "overlap: turn " + std::to_string(job.last_turn) +
                 " of the previous firing is unfinished (overlap = skip)";
      LogLine(LogLevel::kInfo, "cron_overlap_skipped")
          .Kv("job", job.name)
          .Kv("running_turn", job.last_turn);
      if (out) *out = run;
      Record(job, std::move(run));
      return;
    }
  }
  TurnRequest r;
  r.agent = job.agent;
  r.session = job.session;
  r.message = job.message;
  r.idempotency_key = manual ? "cron:" + job.name + ":run:" + std::to_string(now)
                             : "cron:" + job.name + ":" + std::to_string(scheduled / 1000);
  Value origin = Value::MakeMap();
  if (job.deliver && !job.channel.empty()) {
    origin.Set("kind", "channel");
    origin.Set("channel", job.channel);
    origin.Set("chat_id", job.to);
  } else {
    origin.Set("kind", "cron");
  }
  origin.Set("cron_job", job.name);
  origin.Set("scheduled_unix_ms", scheduled);
  if (manual) origin.Set("manual", true);
  if (catch_up) origin.Set("catch_up", true);
  r.origin = std::move(origin);
  r.wait = false;
  AcceptResult a = core_.AcceptTurn(std::move(r));
  if (!a.accepted) {
    run.status = "rejected";
    run.text = a.reject_text;
  } else {
    run.turn_id = a.turn_id;
    run.status = "pending";
    job.last_turn = a.turn_id;
    const auto dup = std::find_if(job.runs.begin(), job.runs.end(),
                                  [&](const CronRun& x) { return x.turn_id == a.turn_id; });
    if (a.attached && dup != job.runs.end()) {
      if (out) *out = *dup;
      return;  // decided before a restart: the same firing, already recorded
    }
  }
  LogLine(LogLevel::kInfo, "cron_fired")
      .Kv("job", job.name)
      .Kv("scheduled_unix_ms", scheduled)
      .Kv("turn", run.turn_id)
      .Kv("manual", manual ? "yes" : "no")
      .Kv("status", run.status);
  if (out) *out = run;
  Record(job, std::move(run));
}

void CronService::Record(CronJob& job, CronRun run) {
  job.runs.push_back(std::move(run));
  while (job.runs.size() > core_.config().cron.runs_kept) job.runs.pop_front();
}

void CronService::OnTurnEnded(const Turn& t) {
  if (!started_) return;
  const std::string name = StringField(t.origin, "cron_job");
  if (name.empty()) return;
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  for (CronRun& r : it->second.runs) {
    if (r.turn_id != t.id) continue;
    r.status = common::TurnStatusName(t.status);
    r.text = Shorten(t.text);
    Changed();
    break;
  }
}

void CronService::OnTurnRefused(const Turn& t, const std::string& why) {
  const std::string name = StringField(t.origin, "cron_job");
  if (name.empty()) return;
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  CronJob& job = it->second;
  bool found = false;
  for (CronRun& r : job.runs) {
    if (r.turn_id != t.id) continue;
    r.turn_id = 0;  // the id was never given to anyone: no turn ran
    r.status = "rejected";
    r.text = Shorten(why);
    found = true;
  }
  if (!found) return;
  job.last_turn = 0;
  for (const CronRun& r : job.runs) job.last_turn = std::max(job.last_turn, r.turn_id);
  LogLine(LogLevel::kWarn, "cron_run_refused").Kv("job", name).Kv("turn", t.id).Kv("reason", why);
  Changed();
}

void CronService::Changed(const Peer* peer, int64_t req, Value data) {
  ++generation_;
  if (peer) pending_.push_back({*peer, req, std::move(data), generation_});
  PumpStore();
}

void CronService::PumpStore() {
  if (!store_) return;
  if (auto done = store_->Poll()) {
    if (done->ok()) {
      written_ = submitted_;
      if (!store_error_.empty()) LogLine(LogLevel::kInfo, "cron_store_recovered");
      store_error_.clear();
    } else {
      if (store_error_.empty()) {
        LogLine(LogLevel::kError, "cron_store_write_failed").Kv("error", done->message());
      }
      store_error_ = done->message();
      // The change is in force in memory; say it is not yet durable.
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->generation <= submitted_) {
          core_.control().ReplyError(it->peer, it->req, "store_failed",
                                     "the change is in effect but the jobs file " +
                                         store_->path() + " could not be written (" +
                                         store_error_ + "); retrying");
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->generation <= written_) {
      core_.control().ReplyResult(it->peer, it->req, std::move(it->data));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (!store_->busy() && submitted_ < generation_ && (store_error_.empty() || pending_.empty())) {
    submitted_ = generation_;
    store_->Submit(Document());
  }
  if (store_->busy()) {
    // Failed writes are retried by the next change or tick, not in a tight loop.
    ArmAt(core_.clock().Now() + kStorePollEvery, kStoreTimer);
  }
}

void CronService::Finish() {
  if (!store_ || written_ == generation_) return;
  Status st = store_->WriteNow(Document());
  if (!st.ok()) LogLine(LogLevel::kError, "cron_store_write_failed").Kv("error", st.message());
}

Value CronService::Document() const {
  Value doc = Value::MakeMap();
  doc.Set("version", 1);
  Value jobs = Value::MakeArray();
  for (const auto& [name, job] : jobs_) {
    Value v = JobToValue(job);
    Value runs = Value::MakeArray();
    for (const CronRun& r : job.runs) runs.Push(RunToValue(r));
    v.Set("runs", std::move(runs));
    jobs.Push(std::move(v));
  }
  doc.Set("jobs", std::move(jobs));
  return doc;
}

Value CronService::JobView(const CronJob& job) const {
  Value v = JobToValue(job);
  auto next = job.enabled ? job.Next() : std::nullopt;
  v.Set("next_unix_ms", next ? Value(*next) : Value());
  v.Set("last_run", job.runs.empty() ? Value() : RunToValue(job.runs.back()));
  v.Set("runs_kept", static_cast<uint64_t>(job.runs.size()));
  return v;
}

Value CronService::StatusView() const {
  Value v = Value::MakeMap();
  v.Set("enabled", core_.config().cron.enabled);
  v.Set("jobs", static_cast<uint64_t>(jobs_.size()));
  std::optional<int64_t> earliest;
  for (const auto& [name, job] : jobs_) {
    auto next = job.enabled ? job.Next() : std::nullopt;
    if (next) earliest = earliest ? std::min(*earliest, *next) : *next;
  }
  v.Set("next_unix_ms", earliest ? Value(*earliest) : Value());
  v.Set("file", store_ ? Value(store_->path()) : Value());
  v.Set("store_ok", store_error_.empty());
  v.Set("store_error", store_error_.empty() ? Value() : Value(store_error_));
  v.Set("clock_jumps", clock_jumps_);
  return v;
}

void CronService::Handle(const Peer& peer, int64_t req, const Value& m) {
  const std::string& type = common::MessageType(m);
  if (type == "cron.list") return List(peer, req, m);
  if (type == "cron.status") return core_.control().ReplyResult(peer, req, StatusView());
  if (type == "cron.add") return Add(peer, req, m);
  if (type == "cron.update") return Update(peer, req, m);
  if (type == "cron.remove") return Remove(peer, req, m);
  if (type == "cron.run") return RunNow(peer, req, m);
  if (type == "cron.runs") return Runs(peer, req, m);
  core_.control().ReplyError(peer, req, "unknown_type", "unknown request type '" + type + "'");
}

CronJob* CronService::FindJobFor(const Peer& peer, int64_t req, const Value& m) {
  auto name = m.GetString("name");
  if (!name.ok()) {
    core_.control().ReplyError(peer, req, "bad_request", name.status().message());
    return nullptr;
  }
  auto it = jobs_.find(*name);
  if (it == jobs_.end()) {
    core_.control().ReplyError(peer, req, "unknown_job",
                               "no cron job named '" + *name + "' (see `laneway cron list`)");
    return nullptr;
  }
  return &it->second;
}

void CronService::List(const Peer& peer, int64_t req, const Value& m) {
  auto all = m.GetBoolOr("include_disabled", true);
  Value rows = Value::MakeArray();
  for (const auto& [name, job] : jobs_) {
    if (!job.enabled && all.ok() && !*all) continue;
    rows.Push(JobView(job));
  }
  Value v = Value::MakeMap();
  v.Set("jobs", std::move(rows));
  core_.control().ReplyResult(peer, req, std::move(v));
}

void CronService::Add(const Peer& peer, int64_t req, const Value& m) {
  const int64_t now = core_.clock().UnixMillis();
  Value spec = m;
  for (const char* k : {"created_unix_ms", "last_scheduled_unix_ms", "last_turn", "runs"}) {
    spec.Set(k, Value());  // never from a client
  }
  auto job = JobFromValue(spec, now, /*stored=*/false);
  if (!job.ok()) return core_.control().ReplyError(peer, req, "bad_request", job.status().message());
  if (core_.config().FindAgent(job->agent) == nullptr) {
    return core_.control().ReplyError(peer, req, "bad_request",
                                      "agent: no agent '" + job->agent + "' is configured");
  }
  if (auto key = common::NormalizeSessionKey(job->agent, job->session); !key.ok()) {
    return core_.control().ReplyError(peer, req, "bad_request",
                                      "session: " + key.status().message());
  }
  if (jobs_.count(job->name)) {
    return core_.control().ReplyError(
        peer, req, "exists",
        "a cron job named '" + job->name + "' exists (cron.update changes it, cron.remove ends it)");
  }
  if (jobs_.size() >= core_.config().cron.max_jobs) {
    return core_.control().ReplyError(peer, req, "too_many",
                                      "cron.max_jobs = " +
                                          std::to_string(core_.config().cron.max_jobs) +
                                          " jobs exist already");
  }
  LogLine(LogLevel::kInfo, "cron_job_added")
      .Kv("job", job->name)
      .Kv("kind", ScheduleKindName(job->kind))
      .Kv("spec", job->spec);
  const std::string name = job->name;
  CronJob& stored = jobs_[name] = std::move(job).value();
  Value data = Value::MakeMap();
  data.Set("job", JobView(stored));
  Changed(&peer, req, std::move(data));
  Tick();
}

void CronService::Update(const Peer& peer, int64_t req, const Value& m) {
  CronJob* job = FindJobFor(peer, req, m);
  if (job == nullptr) return;
  const Value* patch = m.Find("patch");
  if (patch == nullptr || !patch->is_map()) {
    return core_.control().ReplyError(peer, req, "bad_request", "patch: expected a map of fields");
  }
  Value merged = JobToValue(*job);
  bool schedule_changed = false;
  for (const auto& [key, value] : patch->as_map()) {
    bool known = false;
    for (const char* k : kPatchable) known = known || key == k;
    if (!known) {
      return core_.control().ReplyError(peer, req, "bad_request",
                                        "patch." + key + ": not a field that can be changed");
    }
    if (key == "kind" || key == "spec" || key == "tz") schedule_changed = true;
    merged.Set(key, value);
  }
  if (schedule_changed && patch->Find("tz") == nullptr) merged.Set("tz", Value());
  const int64_t now = core_.clock().UnixMillis();
  const bool enabling = !job->enabled && merged.GetBoolOr("enabled", true).ok() &&
                        *merged.GetBoolOr("enabled", true);
  // A new schedule, or a job enabled again, starts from now: what it "missed"
  // before is not caught up.
  if (schedule_changed || enabling) {
    merged.Set("last_scheduled_unix_ms", now);
    if (schedule_changed) merged.Set("created_unix_ms", now);
  }
  auto next = JobFromValue(merged, now, /*stored=*/!(schedule_changed || enabling));
  if (!next.ok()) {
    return core_.control().ReplyError(peer, req, "bad_request", next.status().message());
  }
  if (core_.config().FindAgent(next->agent) == nullptr) {
    return core_.control().ReplyError(peer, req, "bad_request",
                                      "agent: no agent '" + next->agent + "' is configured");
  }
  next->runs = std::move(job->runs);
  *job = std::move(next).value();
  LogLine(LogLevel::kInfo, "cron_job_updated").Kv("job", job->name);
  Value data = Value::MakeMap();
  data.Set("job", JobView(*job));
  Changed(&peer, req, std::move(data));
  Tick();
}

void CronService::Remove(const Peer& peer, int64_t req, const Value& m) {
  CronJob* job = FindJobFor(peer, req, m);
  if (job == nullptr) return;
  const std::string name = job->name;
  jobs_.erase(name);
  LogLine(LogLevel::kInfo, "cron_job_removed").Kv("job", name);
  Value data = Value::MakeMap();
  data.Set("removed", name);
  Changed(&peer, req, std::move(data));
}

void CronService::RunNow(const Peer& peer, int64_t req, const Value& m) {
  CronJob* job = FindJobFor(peer, req, m);
  if (job == nullptr) return;
  CronRun run;
  Fire(*job, 0, /*manual=*/true, false, &run);
  Changed();
  Value data = Value::MakeMap();
  data.Set("name", job->name);
  data.Set("run", RunToValue(run));
  if (run.status == "rejected" || run.status == "skipped") {
    return core_.control().ReplyError(peer, req, run.status, run.text);
  }
  // The turn is durable when the caller hears of it.
  Value msg = common::NewMessage(common::msg::kResult);
  msg.Set("id", req);
  msg.Set("data", std::move(data));
  core_.ledger().SendAfterCommit(peer, common::EncodeMessage(msg));
}

void CronService::Runs(const Peer& peer, int64_t req, const Value& m) {
  CronJob* job = FindJobFor(peer, req, m);
  if (job == nullptr) return;
  Value runs = Value::MakeArray();
  for (const CronRun& r : job->runs) runs.Push(RunToValue(r));
  Value data = Value::MakeMap();
  data.Set("name", job->name);
  data.Set("runs", std::move(runs));
  core_.control().ReplyResult(peer, req, std::move(data));
}

}  // namespace laneway::supervisor::cron
