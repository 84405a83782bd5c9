// Fuzz target: the cron schedules (supervisor/cron/cron_expr.h) — five-field
// expressions and @macros, `every` durations and `at` times, in a zone the
// input picks — and a job decoded from a control-socket request
// (supervisor/cron/cron_job.h, JobFromValue over the msgpack codec).
//
// Input: byte 0 picks what is parsed (low two bits) and the zone (the rest);
// bytes 1..8 are the instant the schedule is asked about; the rest is the text.
// Properties checked (any break aborts):
//  - NextAfter(t) > t, and four steps in a row strictly increase;
//  - in UTC, a cron firing is on a whole minute whose minute, hour and month are
//    in the expression's sets, and whose day matches the Vixie day rule;
//  - a job that decodes re-encodes (JobToValue) and decodes again as stored.
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "common/value.h"
#include "supervisor/cron/cron_expr.h"
#include "supervisor/cron/cron_job.h"

namespace {

using laneway::supervisor::cron::CronFields;
using laneway::supervisor::cron::Schedule;

constexpr const char* kZones[] = {"UTC", "Europe/Berlin", "America/New_York",
                                  "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham",
                                  "America/Sao_Paulo", "No/Such_Zone"};
constexpr int64_t kYear2100Ms = 4102444800000;

void CheckSteps(const Schedule& s, int64_t t) {
  for (int i = 0; i < 4; ++i) {
    const std::optional<int64_t> next = s.NextAfter(t);
    if (!next) return;
    if (*next <= t) std::abort();
    t = *next;
  }
}

// In UTC the firing is exactly a time the fields allow.
void CheckUtcFiring(const CronFields& f, int64_t ms) {
  if (ms % 60000 != 0) std::abort();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  if (gmtime_r(&secs, &tm) == nullptr) return;
  if (!f.minutes.test(tm.tm_min) || !f.hours.test(tm.tm_hour) || !f.months.test(tm.tm_mon + 1)) {
    std::abort();
  }
  const bool day = f.days.test(tm.tm_mday);
  const bool weekday = f.weekdays.test(tm.tm_wday);
  const bool ok = (f.days_restricted && f.weekdays_restricted) ? (day || weekday)
                                                               : (day && weekday);
  if (!ok) std::abort();
}

void FuzzJob(const std::string& bytes, int64_t now) {
  using namespace laneway;
  auto v = common::DecodeMsgpack(bytes.data(), bytes.size());
  if (!v.ok()) return;
  for (bool stored : {false, true}) {
    auto job = supervisor::cron::JobFromValue(*v, now, stored);
    if (!job.ok()) continue;
    (void)job->Next();
    const common::Value again = supervisor::cron::JobToValue(*job);
    auto back = supervisor::cron::JobFromValue(again, now, true);
    if (!back.ok()) std::abort();  // what laneway writes, it must read back
    if (back->name != job->name || back->schedule.kind() != job->schedule.kind()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  const int mode = data[0] & 3;
  const char* zone = kZones[(data[0] >> 2) % (sizeof(kZones) / sizeof(kZones[0]))];
  uint64_t raw = 0;
  std::memcpy(&raw, data + 1, 8);
  const int64_t t = static_cast<int64_t>(raw % static_cast<uint64_t>(kYear2100Ms));
  const std::string text(reinterpret_cast<const char*>(data + 9), size - 9);

  using namespace laneway::supervisor::cron;
  switch (mode) {
    case 0: {
      auto fields = ParseCronExpression(text);
      auto s = Schedule::Cron(text, zone);
      if (s.ok() != fields.ok() && FindZone(zone).ok()) std::abort();
      if (!s.ok()) break;
      CheckSteps(*s, t);
      if (std::strcmp(zone, "UTC") == 0) {
        if (auto next = s->NextAfter(t)) CheckUtcFiring(*fields, *next);
      }
      break;
    }
    case 1: {
      auto s = Schedule::Every(text, t);
      if (!s.ok()) break;
      if (s->every_ms() <= 0) std::abort();
      CheckSteps(*s, t);
      CheckSteps(*s, t + s->every_ms() / 2);
      break;
    }
    case 2: {
      auto s = Schedule::At(text, zone);
      if (!s.ok()) break;
      const auto next = s->NextAfter(t);
      if (next && *next != s->at_unix_ms()) std::abort();  // an `at` fires once, at its time
      if (next && s->NextAfter(*next)) std::abort();
      break;
    }
    default:
      FuzzJob(text, t);
      break;
  }
  return 0;
}
