// Cron schedules: the three kinds a job can have (`every`, `at`, `cron`), parsed
// and validated whole, and the next firing after a given instant, computed in the
// job's time zone (Howard Hinnant's date/tz over the system's tzdata).
//
// Contract:
//  - Pure: no clock is read here; every instant is Unix milliseconds (UTC) passed
//    in, so tests drive years of schedules, daylight-saving transitions and clock
//    jumps in microseconds.
//  - NextAfter(t) is strictly greater than t: a schedule never yields the same
//    firing twice, whatever instants it is asked about.
//  - Five-field expressions: minute hour day-of-month month day-of-week, each a
//    list of `*`, values, ranges `a-b` and steps `*/n`, `a-b/n`, `a/n`; month
//    and weekday names (JAN..DEC, SUN..SAT, case-insensitive); weekday 0 and 7
//    are Sunday; @yearly @monthly @weekly @daily @hourly. As in Vixie cron, when
//    both day fields are restricted a day matches if either does.
//  - Daylight saving (docs/cron.md): a local time that does not exist (the
//    spring-forward gap) fires once, at the end of the gap; a local time that
//    occurs twice (the fall-back repeat) fires once, at its first occurrence.
//
// Thread-safety: a parsed schedule is immutable; NextAfter may be called from any
// thread (date/tz's database is initialised once, thread-safely).
#ifndef LANEWAY_SUPERVISOR_CRON_CRON_EXPR_H_
#define LANEWAY_SUPERVISOR_CRON_CRON_EXPR_H_

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace date {
class time_zone;
}

namespace laneway::supervisor::cron {

// The five fields of a cron expression as sets of allowed values.
struct CronFields {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;    // 1..31
  std::bitset<13> months;  // 1..12
  std::bitset<7> weekdays;  // 0 = Sunday
  bool days_restricted = false;      // day-of-month field was not `*`
  bool weekdays_restricted = false;  // day-of-week field was not `*`
};

// Parses a five-field expression (or an @macro). Errors name the field.
common::Result<CronFields> ParseCronExpression(const std::string& text);

// A time zone by IANA name ("Europe/Berlin", "UTC"); errors name it.
common::Result<const date::time_zone*> FindZone(const std::string& name);
// The host's zone name (from /etc/localtime), "UTC" if unknown.
std::string HostZoneName();

enum class ScheduleKind { kEvery, kAt, kCron };
const char* ScheduleKindName(ScheduleKind k);

class Schedule {
 public:
  // --every DUR: firings at anchor + k * period (k >= 1), anchor = the job's
  // creation instant.
  static common::Result<Schedule> Every(const std::string& duration, int64_t anchor_unix_ms);
  // --at TIME: "YYYY-MM-DDTHH:MM[:SS]" local to `zone`, or with "Z" / "+HH:MM".
  static common::Result<Schedule> At(const std::string& when, const std::string& zone);
  // --cron EXPR [--tz ZONE].
  static common::Result<Schedule> Cron(const std::string& expr, const std::string& zone);

  // The first firing strictly after `after_unix_ms`; nullopt when there is none
  // (an `at` in the past, an expression that matches no date in the next 5 years).
  std::optional<int64_t> NextAfter(int64_t after_unix_ms) const;

  ScheduleKind kind() const { return kind_; }
  const std::string& spec() const { return spec_; }  // as given
  const std::string& zone() const { return zone_name_; }
  int64_t every_ms() const { return every_ms_; }
  int64_t at_unix_ms() const { return at_ms_; }
  int64_t anchor_unix_ms() const { return anchor_ms_; }

 private:
  std::optional<int64_t> NextCron(int64_t after_unix_ms) const;

  ScheduleKind kind_ = ScheduleKind::kEvery;
  std::string spec_;
  std::string zone_name_;
  const date::time_zone* zone_ = nullptr;
  int64_t every_ms_ = 0;
  int64_t anchor_ms_ = 0;
  int64_t at_ms_ = 0;
  CronFields fields_;
};

}  // namespace laneway::supervisor::cron

#endif  // LANEWAY_SUPERVISOR_CRON_CRON_EXPR_H_
