#include "supervisor/cron/cron_job.h"

#include <cctype>

namespace laneway::supervisor::cron {

using common::Result;
using common::Status;
using common::Value;

namespace {

constexpr size_t kMaxMessageBytes = 64 << 10;

Result<ScheduleKind> KindFromName(const std::string& s) {
  if (s == "every") return ScheduleKind::kEvery;
  if (s == "at") return ScheduleKind::kAt;
  if (s == "cron") return ScheduleKind::kCron;
  return Status::InvalidArgument("kind: expected every, at or cron, got \"" + s + "\"");
}

}  // namespace

const char* CatchUpName(CatchUp c) { return c == CatchUp::kOnce ? "once" : "none"; }
const char* OverlapName(Overlap o) { return o == Overlap::kQueue ? "queue" : "skip"; }

Status CheckJobName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("name: 1 to 64 characters, got " + std::to_string(name.size()));
  }
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument("name: \"" + name +
                                     "\" may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::Ok();
}

Value JobToValue(const CronJob& j) {
  Value v = Value::MakeMap();
  v.Set("name", j.name);
  v.Set("agent", j.agent);
  v.Set("session", j.session);
  v.Set("message", j.message);
  v.Set("kind", ScheduleKindName(j.kind));
  v.Set("spec", j.spec);
  v.Set("tz", j.tz.empty() ? Value() : Value(j.tz));
  v.Set("enabled", j.enabled);
  v.Set("deliver", j.deliver);
  v.Set("channel", j.channel.empty() ? Value() : Value(j.channel));
  v.Set("to", j.to.empty() ? Value() : Value(j.to));
  v.Set("catch_up", CatchUpName(j.catch_up));
  v.Set("overlap", OverlapName(j.overlap));
  v.Set("created_unix_ms", j.created_unix_ms);
  v.Set("last_scheduled_unix_ms", j.last_scheduled_unix_ms);
  v.Set("last_turn", j.last_turn == 0 ? Value() : Value(j.last_turn));
  return v;
}

Value RunToValue(const CronRun& r) {
  Value v = Value::MakeMap();
  v.Set("scheduled_unix_ms", r.scheduled_unix_ms == 0 ? Value() : Value(r.scheduled_unix_ms));
  v.Set("fired_unix_ms", r.fired_unix_ms);
  v.Set("turn_id", r.turn_id == 0 ? Value() : Value(r.turn_id));
  v.Set("status", r.status);
  v.Set("text", r.text);
  v.Set("manual", r.manual);
  if (r.missed > 0) v.Set("missed", r.missed);
  return v;
}

Result<CronJob> JobFromValue(const Value& v, int64_t now_unix_ms, bool stored) {
  if (!v.is_map()) return Status::InvalidArgument("job: expected a map");
  CronJob j;
  auto str = [&](const char* key, std::string def, std::string* out) -> Status {
    auto r = v.Find(key) && v.Find(key)->is_null() ? Result<std::string>(def)
                                                   : v.GetStringOr(key, std::move(def));
    if (!r.ok()) return r.status();
    *out = std::move(r).value();
    return Status::Ok();
  };
  std::string kind, catch_up, overlap;
  for (Status st : {str("name", "", &j.name), str("agent", "", &j.agent),
                    str("session", "", &j.session), str("message", "", &j.message),
                    str("kind", "", &kind), str("spec", "", &j.spec), str("tz", "", &j.tz),
                    str("channel", "", &j.channel), str("to", "", &j.to),
                    str("catch_up", "once", &catch_up), str("overlap", "queue", &overlap)}) {
    if (!st.ok()) return st;
  }
  if (Status st = CheckJobName(j.name); !st.ok()) return st;
  if (j.agent.empty()) return Status::InvalidArgument("agent: required");
  if (j.message.empty()) return Status::InvalidArgument("message: required (non-empty)");
  if (j.message.size() > kMaxMessageBytes) {
    return Status::InvalidArgument("message: longer than " + std::to_string(kMaxMessageBytes) +
                                   " bytes");
  }
  if (j.session.empty()) j.session = "cron:" + j.name;
  auto k = KindFromName(kind);
  if (!k.ok()) return k.status();
  j.kind = *k;
  if (j.spec.empty()) return Status::InvalidArgument(std::string(ScheduleKindName(j.kind)) +
                                                     ": the schedule is required");
  if (catch_up == "once") {
    j.catch_up = CatchUp::kOnce;
  } else if (catch_up == "none") {
    j.catch_up = CatchUp::kNone;
  } else {
    return Status::InvalidArgument("catch_up: expected once or none, got \"" + catch_up + "\"");
  }
  if (overlap == "queue") {
    j.overlap = Overlap::kQueue;
  } else if (overlap == "skip") {
    j.overlap = Overlap::kSkip;
  } else {
    return Status::InvalidArgument("overlap: expected skip or queue, got \"" + overlap + "\"");
  }
  auto enabled = v.GetBoolOr("enabled", true);
  auto deliver = v.GetBoolOr("deliver", false);
  auto created = v.GetIntOr("created_unix_ms", now_unix_ms);
  auto last = v.GetIntOr("last_scheduled_unix_ms", 0);
  const Value* lt = v.Find("last_turn");
  for (const Status& st : {enabled.status(), deliver.status(), created.status(), last.status()}) {
    if (!st.ok()) return st;
  }
  j.enabled = *enabled;
  j.deliver = *deliver;
  j.created_unix_ms = *created;
  j.last_scheduled_unix_ms = *last == 0 ? j.created_unix_ms : *last;
  j.last_turn = lt && lt->is_int() && lt->as_int() > 0 ? static_cast<uint64_t>(lt->as_int()) : 0;
  if (j.deliver && (j.channel.empty() != j.to.empty())) {
    return Status::InvalidArgument("deliver: --channel and --to go together");
  }
  if (!j.deliver && (!j.channel.empty() || !j.to.empty())) {
    return Status::InvalidArgument("channel: --channel and --to need --deliver");
  }
  if (j.kind != ScheduleKind::kEvery && j.tz.empty()) j.tz = HostZoneName();
  if (j.kind == ScheduleKind::kEvery && !j.tz.empty() && !stored) {
    return Status::InvalidArgument("tz: only for --at and --cron schedules");
  }
  Result<Schedule> s = j.kind == ScheduleKind::kEvery ? Schedule::Every(j.spec, j.created_unix_ms)
                       : j.kind == ScheduleKind::kAt  ? Schedule::At(j.spec, j.tz)
                                                      : Schedule::Cron(j.spec, j.tz);
  if (!s.ok()) return s.status();
  j.schedule = std::move(s).value();
  if (!stored && !j.schedule.NextAfter(j.last_scheduled_unix_ms)) {
    return Status::InvalidArgument(j.kind == ScheduleKind::kAt
                                       ? "at: \"" + j.spec + "\" is in the past"
                                       : "cron: \"" + j.spec +
                                             "\" matches no time in the next 5 years");
  }
  if (const Value* runs = v.Find("runs"); runs && runs->is_array()) {
    for (const Value& r : runs->as_array()) {
      auto run = RunFromValue(r);
      if (run.ok()) j.runs.push_back(std::move(run).value());
    }
  }
  return j;
}

Result<CronRun> RunFromValue(const Value& v) {
  if (!v.is_map()) return Status::InvalidArgument("run: expected a map");
  CronRun r;
  auto get_int = [&](const char* key) -> int64_t {
    const Value* f = v.Find(key);
    return f && f->is_int() ? f->as_int() : 0;
  };
  r.scheduled_unix_ms = get_int("scheduled_unix_ms");
  r.fired_unix_ms = get_int("fired_unix_ms");
  r.turn_id = static_cast<uint64_t>(get_int("turn_id"));
  r.missed = static_cast<uint64_t>(get_int("missed"));
  auto get_str = [&](const char* key) -> std::string {
    const Value* f = v.Find(key);
    return f && f->is_string() ? f->as_string() : "";
  };
  r.status = get_str("status");
  r.text = get_str("text");
  const Value* manual = v.Find("manual");
  r.manual = manual && manual->is_bool() && manual->as_bool();
  return r;
}

}  // namespace laneway::supervisor::cron
