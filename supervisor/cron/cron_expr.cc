// Schedules and their next firings. The cron search walks local time in the job's
// zone a field at a time (month, day, hour, minute), so a yearly job costs a few
// dozen steps, and maps each matching local minute to an instant with
// choose::earliest: a repeated local time maps to its first occurrence, and a time
// in a spring-forward gap maps to the end of the gap (date/tz's to_sys). Requiring
// the instant to be strictly after `after` turns both rules into "fires once".
#include "supervisor/cron/cron_expr.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <sstream>
#include <vector>

#include "common/duration.h"

namespace laneway::supervisor::cron {

using common::Result;
using common::Status;

namespace {

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
constexpr int kSearchYears = 5;
constexpr int kMaxSteps = 2'000'000;

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // nullptr, or names for min..max (months) / 0..6 (days)
  int name_count;
};

constexpr FieldSpec kFieldSpecs[5] = {
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kDayNames, 7},
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// A number or a name of the field; -1 if neither.
int ParseValue(const std::string& text, const FieldSpec& f) {
  if (text.empty()) return -1;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (text.size() > 3) return -1;
    return std::stoi(text);
  }
  if (f.names == nullptr) return -1;
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 0; i < f.name_count; ++i) {
    if (upper == f.names[i]) return f.names == kMonthNames ? i + 1 : i;
  }
  return -1;
}

// One field: a comma list of `*`, `v`, `a-b`, each with an optional `/step`.
Result<std::vector<int>> ParseField(const std::string& text, const FieldSpec& f) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(f.name) + " field \"" + text + "\": " + why);
  };
  if (text.empty()) return bad("empty");
  std::vector<int> values;
  for (const std::string& item : Split(text, ',')) {
    if (item.empty()) return bad("empty list item");
    std::string range = item;
    int step = 1;
    bool stepped = false;
    if (auto slash = item.find('/'); slash != std::string::npos) {
      range = item.substr(0, slash);
      const std::string s = item.substr(slash + 1);
      if (s.empty() || s.size() > 3 ||
          !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
        return bad("bad step \"" + s + "\"");
      }
      step = std::stoi(s);
      if (step < 1 || step > f.max) return bad("step " + s + " is out of range");
      stepped = true;
    }
    int lo = f.min, hi = f.max;
    if (range == "*") {
      if (f.max == 7) hi = 6;  // 7 is Sunday again
    } else if (auto dash = range.find('-'); dash != std::string::npos) {
      lo = ParseValue(range.substr(0, dash), f);
      hi = ParseValue(range.substr(dash + 1), f);
      if (lo < 0 || hi < 0) return bad("bad range \"" + range + "\"");
      if (lo > hi) return bad("range \"" + range + "\" runs backwards");
    } else {
      lo = ParseValue(range, f);
      if (lo < 0) return bad("bad value \"" + range + "\"");
      hi = stepped ? f.max : lo;  // "a/n" = a through the end, every n
      if (stepped && f.max == 7) hi = 6;
    }
    if (lo < f.min || hi > f.max) {
      return bad("value out of range (" + std::to_string(f.min) + "-" + std::to_string(f.max) +
                 ")");
    }
    for (int v = lo; v <= hi; v += step) values.push_back(v);
  }
  return values;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

int64_t ToMillis(date::sys_time<std::chrono::milliseconds> t) {
  return t.time_since_epoch().count();
}

date::sys_time<std::chrono::milliseconds> FromMillis(int64_t ms) {
  return date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{ms}};
}

}  // namespace

Result<CronFields> ParseCronExpression(const std::string& raw) {
  std::string text = Trim(raw);
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  };
  if (!text.empty() && text[0] == '@') {
    bool found = false;
    for (const auto& [name, expansion] : kMacros) {
      if (text == name) {
        text = expansion;
        found = true;
      }
    }
    if (!found) {
      return Status::InvalidArgument("unknown macro \"" + text +
                                     "\" (expected @yearly, @monthly, @weekly, @daily or @hourly)");
    }
  }
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string p; in >> p;) parts.push_back(p);
  if (parts.size() != 5) {
    return Status::InvalidArgument("expected 5 fields (minute hour day-of-month month "
                                   "day-of-week), got " +
                                   std::to_string(parts.size()));
  }
  CronFields f;
  for (int i = 0; i < 5; ++i) {
    auto values = ParseField(parts[i], kFieldSpecs[i]);
    if (!values.ok()) return values.status();
    for (int v : *values) {
      switch (i) {
        case 0: f.minutes.set(v); break;
        case 1: f.hours.set(v); break;
        case 2: f.days.set(v); break;
        case 3: f.months.set(v); break;
        case 4: f.weekdays.set(v % 7); break;
      }
    }
  }
  f.days_restricted = parts[2] != "*";
  f.weekdays_restricted = parts[4] != "*";
  return f;
}

Result<const date::time_zone*> FindZone(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("time zone: empty name");
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Status::InvalidArgument("unknown time zone \"" + name +
                                   "\" (expected an IANA name such as Europe/Berlin or UTC)");
  }
}

std::string HostZoneName() {
  try {
    return std::string(date::current_zone()->name());
  } catch (const std::exception&) {
    return "UTC";
  }
}

const char* ScheduleKindName(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::kEvery: return "every";
    case ScheduleKind::kAt: return "at";
    case ScheduleKind::kCron: return "cron";
  }
  return "every";
}

Result<Schedule> Schedule::Every(const std::string& duration, int64_t anchor_unix_ms) {
  auto d = common::ParseDuration(duration);
  if (!d.ok()) return Status::InvalidArgument("every: " + d.status().message());
  if (d->count() < 1000) {
    return Status::InvalidArgument("every: \"" + duration + "\" is shorter than 1s");
  }
  Schedule s;
  s.kind_ = ScheduleKind::kEvery;
  s.spec_ = duration;
  s.every_ms_ = d->count();
  s.anchor_ms_ = anchor_unix_ms;
  return s;
}

Result<Schedule> Schedule::At(const std::string& when, const std::string& zone) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("at: \"" + when + "\": " + why);
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  char sep = 0;
  if (std::sscanf(when.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used) < 6 ||
      (sep != 'T' && sep != ' ')) {
    return bad("expected YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]");
  }
  std::string rest = when.substr(used);
  if (rest.size() >= 3 && rest[0] == ':' && std::isdigit(static_cast<unsigned char>(rest[1])) &&
      std::isdigit(static_cast<unsigned char>(rest[2]))) {
    sec = std::stoi(rest.substr(1, 2));
    rest = rest.substr(3);
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0) return bad("not a valid time");
  const auto local = date::local_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
                     std::chrono::seconds{sec};
  Schedule s;
  s.kind_ = ScheduleKind::kAt;
  s.spec_ = when;
  if (rest.empty()) {
    auto z = FindZone(zone);
    if (!z.ok()) return z.status();
    s.zone_ = *z;
    s.zone_name_ = zone;
    s.at_ms_ = ToMillis(std::chrono::time_point_cast<std::chrono::milliseconds>(
        (*z)->to_sys(local, date::choose::earliest)));
    return s;
  }
  int offset_min = 0;
  if (rest == "Z" || rest == "z") {
    offset_min = 0;
  } else {
    int oh = 0, om = 0;
    char sign = rest[0];
    if ((sign != '+' && sign != '-') || std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2 ||
        rest.size() != 6 || oh > 23 || om > 59) {
      return bad("bad UTC offset \"" + rest + "\" (expected Z or +HH:MM)");
    }
    offset_min = (sign == '-' ? -1 : 1) * (oh * 60 + om);
  }
  s.zone_name_ = "UTC";
  const auto sys = date::sys_seconds{local.time_since_epoch()} - std::chrono::minutes{offset_min};
  s.at_ms_ = ToMillis(std::chrono::time_point_cast<std::chrono::milliseconds>(sys));
  return s;
}

Result<Schedule> Schedule::Cron(const std::string& expr, const std::string& zone) {
  auto f = ParseCronExpression(expr);
  if (!f.ok()) return Status::InvalidArgument("cron: " + f.status().message());
  auto z = FindZone(zone);
  if (!z.ok()) return Status::InvalidArgument("tz: " + z.status().message());
  Schedule s;
  s.kind_ = ScheduleKind::kCron;
  s.spec_ = expr;
  s.zone_name_ = zone;
  s.zone_ = *z;
  s.fields_ = *f;
  return s;
}

std::optional<int64_t> Schedule::NextAfter(int64_t after) const {
  switch (kind_) {
    case ScheduleKind::kEvery: {
      if (after < anchor_ms_) return anchor_ms_ + every_ms_;
      const int64_t k = (after - anchor_ms_) / every_ms_ + 1;
      return anchor_ms_ + k * every_ms_;
    }
    case ScheduleKind::kAt:
      if (at_ms_ > after) return at_ms_;
      return std::nullopt;
    case ScheduleKind::kCron:
      return NextCron(after);
  }
  return std::nullopt;
}

std::optional<int64_t> Schedule::NextCron(int64_t after) const {
  using namespace std::chrono;
  using date::days;
  using date::local_days;
  const auto local_after = zone_->to_local(FromMillis(after));
  auto lm = date::floor<minutes>(local_after) + minutes{1};
  const date::year limit = date::year_month_day{date::floor<days>(local_after)}.year() +
                           date::years{kSearchYears};
  const CronFields& f = fields_;
  for (int step = 0; step < kMaxSteps; ++step) {
    const local_days ld = date::floor<days>(lm);
    const date::year_month_day ymd{ld};
    if (ymd.year() > limit) return std::nullopt;
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!f.months.test(month)) {
      lm = local_days{date::year_month_day{ymd.year() / ymd.month() / 1} + date::months{1}};
      continue;
    }
    const unsigned dom = static_cast<unsigned>(ymd.day());
    const unsigned wd = date::weekday{ld}.c_encoding();
    bool day_ok;
    if (f.days_restricted && f.weekdays_restricted) {
      day_ok = f.days.test(dom) || f.weekdays.test(wd);
    } else if (f.days_restricted) {
      day_ok = f.days.test(dom);
    } else if (f.weekdays_restricted) {
      day_ok = f.weekdays.test(wd);
    } else {
      day_ok = true;
    }
    if (!day_ok) {
      lm = ld + days{1};
      continue;
    }
    const auto since_midnight = lm - ld;
    const auto h = duration_cast<hours>(since_midnight).count();
    if (!f.hours.test(static_cast<size_t>(h))) {
      lm = ld + hours{h + 1};
      continue;
    }
    const auto m = duration_cast<minutes>(since_midnight).count() % 60;
    if (!f.minutes.test(static_cast<size_t>(m))) {
      lm += minutes{1};
      continue;
    }
    const int64_t at =
        ToMillis(time_point_cast<milliseconds>(zone_->to_sys(lm, date::choose::earliest)));
    if (at > after) return at;
    lm += minutes{1};  // a repeated or skipped local time already fired
  }
  return std::nullopt;
}

}  // namespace laneway::supervisor::cron
