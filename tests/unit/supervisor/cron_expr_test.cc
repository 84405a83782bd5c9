// Cron schedules, pure: parsing (errors name the field), next firings of every
// kind, and daylight-saving gaps and repeats in a real zone (Europe/Berlin: CET
// +01:00, CEST +02:00 from 2026-03-29 01:00Z to 2026-10-25 01:00Z).
#include <gtest/gtest.h>

#include "supervisor/cron/cron_expr.h"

namespace laneway::supervisor::cron {
namespace {

// Unix ms of a UTC time given as "YYYY-MM-DDTHH:MM:SSZ".
int64_t Utc(const std::string& iso) {
  auto s = Schedule::At(iso, "UTC");
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? s->at_unix_ms() : 0;
}

Schedule CronIn(const std::string& expr, const std::string& tz = "UTC") {
  auto s = Schedule::Cron(expr, tz);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? *s : Schedule();
}

int64_t NextOf(const Schedule& s, const std::string& after) {
  auto n = s.NextAfter(Utc(after));
  EXPECT_TRUE(n.has_value());
  return n.value_or(0);
}

TEST(CronExprTest, ErrorsNameTheField) {
  auto bad = [](const std::string& expr) {
    auto f = ParseCronExpression(expr);
    EXPECT_FALSE(f.ok()) << expr;
    return f.ok() ? std::string() : f.status().message();
  };
  EXPECT_NE(bad("61 * * * *").find("minute field"), std::string::npos);
  EXPECT_NE(bad("* 24 * * *").find("hour field"), std::string::npos);
  EXPECT_NE(bad("* * 0 * *").find("day-of-month field"), std::string::npos);
  EXPECT_NE(bad("* * * FOO *").find("month field"), std::string::npos);
  EXPECT_NE(bad("* * * * MON-FOO").find("day-of-week field"), std::string::npos);
  EXPECT_NE(bad("*/0 * * * *").find("step"), std::string::npos);
  EXPECT_NE(bad("5-1 * * * *").find("backwards"), std::string::npos);
  EXPECT_NE(bad("* * *").find("expected 5 fields"), std::string::npos);
  EXPECT_NE(bad("@sometimes").find("unknown macro"), std::string::npos);
  auto zone = Schedule::Cron("0 9 * * *", "Mars/Olympus");
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.status().message().find("tz: unknown time zone \"Mars/Olympus\""),
            std::string::npos);
}

TEST(CronExprTest, RangesStepsListsAndNames) {
  auto f = ParseCronExpression("0-30/10,45 9-17/4 * jan-Mar mon-FRI");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_TRUE(f->minutes.test(0) && f->minutes.test(10) && f->minutes.test(30) &&
              f->minutes.test(45));
  EXPECT_FALSE(f->minutes.test(40));
  EXPECT_TRUE(f->hours.test(9) && f->hours.test(13) && f->hours.test(17));
  EXPECT_FALSE(f->hours.test(10));
  EXPECT_TRUE(f->months.test(1) && f->months.test(3));
  EXPECT_FALSE(f->months.test(4));
  EXPECT_TRUE(f->weekdays.test(1) && f->weekdays.test(5));
  EXPECT_FALSE(f->weekdays.test(0) || f->weekdays.test(6));
  auto sunday = ParseCronExpression("0 0 * * 7");
  ASSERT_TRUE(sunday.ok());
  EXPECT_TRUE(sunday->weekdays.test(0));
  auto from = ParseCronExpression("5/20 * * * *");
  ASSERT_TRUE(from.ok());
  EXPECT_TRUE(from->minutes.test(5) && from->minutes.test(25) && from->minutes.test(45));
  EXPECT_FALSE(from->minutes.test(0));
}

TEST(CronExprTest, NextFiringOfEachKind) {
  // Cron: every 15 minutes; weekdays at 09:00; both day fields restricted = either.
  EXPECT_EQ(NextOf(CronIn("*/15 * * * *"), "2026-12-01T10:07:00Z"), Utc("2026-12-01T10:15:00Z"));
  EXPECT_EQ(NextOf(CronIn("*/15 * * * *"), "2026-12-01T10:15:00Z"), Utc("2026-12-01T10:30:00Z"));
  // 2026-12-04 is a Friday: the next weekday 09:00 after Friday noon is Monday the 7th.
  EXPECT_EQ(NextOf(CronIn("0 9 * * 1-5"), "2026-12-04T12:00:00Z"), Utc("2026-12-07T09:00:00Z"));
  EXPECT_EQ(NextOf(CronIn("0 0 13 * FRI"), "2026-12-01T00:00:00Z"), Utc("2026-12-04T00:00:00Z"));
  EXPECT_EQ(NextOf(CronIn("0 0 13 * FRI"), "2026-12-11T00:00:00Z"), Utc("2026-12-13T00:00:00Z"));
  EXPECT_EQ(NextOf(CronIn("@yearly"), "2026-12-01T00:00:00Z"), Utc("2027-01-01T00:00:00Z"));
  // Leap day: the next 29 February after 2026.
  EXPECT_EQ(NextOf(CronIn("0 12 29 2 *"), "2026-03-01T00:00:00Z"), Utc("2028-02-29T12:00:00Z"));
  // In a zone: 09:00 Berlin in winter is 08:00Z.
  EXPECT_EQ(NextOf(CronIn("0 9 * * *", "Europe/Berlin"), "2026-12-01T12:00:00Z"),
            Utc("2026-12-02T08:00:00Z"));
  // A date that never comes: no next firing.
  EXPECT_FALSE(CronIn("0 0 30 2 *").NextAfter(Utc("2026-01-01T00:00:00Z")).has_value());

  // Every: anchored at the job's creation, strictly after.
  auto every = Schedule::Every("15m", 1'000'000);
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->NextAfter(1'000'000), 1'000'000 + 900'000);
  EXPECT_EQ(every->NextAfter(1'000'000 + 900'000), 1'000'000 + 1'800'000);
  EXPECT_EQ(every->NextAfter(1'000'000 + 900'001), 1'000'000 + 1'800'000);
  EXPECT_FALSE(Schedule::Every("10ms", 0).ok());

  // At: local to a zone, or with an offset; once, then never.
  auto at = Schedule::At("2026-12-24T09:00", "Europe/Berlin");
  ASSERT_TRUE(at.ok()) << at.status().message();
  EXPECT_EQ(at->at_unix_ms(), Utc("2026-12-24T08:00:00Z"));
  EXPECT_EQ(at->NextAfter(Utc("2026-12-01T00:00:00Z")), Utc("2026-12-24T08:00:00Z"));
  EXPECT_FALSE(at->NextAfter(Utc("2026-12-24T08:00:00Z")).has_value());
  auto offset = Schedule::At("2026-12-24T09:00:30+05:30", "UTC");
  ASSERT_TRUE(offset.ok()) << offset.status().message();
  EXPECT_EQ(offset->at_unix_ms(), Utc("2026-12-24T03:30:30Z"));
  EXPECT_FALSE(Schedule::At("2026-13-01T00:00", "UTC").ok());
  EXPECT_FALSE(Schedule::At("tomorrow", "UTC").ok());
}

TEST(CronExprTest, SpringForwardGapFiresOnceAtTheEndOfTheGap) {
  const Schedule daily = CronIn("30 2 * * *", "Europe/Berlin");
  // 02:30 CET on the 28th is 01:30Z; on the 29th 02:30 does not exist: 03:00 CEST = 01:00Z.
  EXPECT_EQ(NextOf(daily, "2026-03-28T00:00:00Z"), Utc("2026-03-28T01:30:00Z"));
  EXPECT_EQ(NextOf(daily, "2026-03-28T01:30:00Z"), Utc("2026-03-29T01:00:00Z"));
  EXPECT_EQ(NextOf(daily, "2026-03-29T01:00:00Z"), Utc("2026-03-30T00:30:00Z"));
  // Four matching minutes in the gap: one firing.
  const Schedule quarter = CronIn("*/15 2 * * *", "Europe/Berlin");
  EXPECT_EQ(NextOf(quarter, "2026-03-28T23:00:00Z"), Utc("2026-03-29T01:00:00Z"));
  EXPECT_EQ(NextOf(quarter, "2026-03-29T01:00:00Z"), Utc("2026-03-30T00:00:00Z"));
}

TEST(CronExprTest, FallBackRepeatFiresOnceAtTheFirstOccurrence) {
  // 02:30 Berlin on 2026-10-25 happens at 00:30Z (CEST) and again at 01:30Z (CET).
  const Schedule daily = CronIn("30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(NextOf(daily, "2026-10-24T12:00:00Z"), Utc("2026-10-25T00:30:00Z"));
  EXPECT_EQ(NextOf(daily, "2026-10-25T00:30:00Z"), Utc("2026-10-26T01:30:00Z"));
  // Asked from inside the second pass, the repeat is not offered again.
  EXPECT_EQ(NextOf(daily, "2026-10-25T01:10:00Z"), Utc("2026-10-26T01:30:00Z"));
  // Hourly: each local hour once; 02:00 local fires at 00:00Z only, then 03:00 CET.
  const Schedule hourly = CronIn("0 * * * *", "Europe/Berlin");
  EXPECT_EQ(NextOf(hourly, "2026-10-24T23:30:00Z"), Utc("2026-10-25T00:00:00Z"));
  EXPECT_EQ(NextOf(hourly, "2026-10-25T00:00:00Z"), Utc("2026-10-25T02:00:00Z"));
}

}  // namespace
}  // namespace laneway::supervisor::cron
