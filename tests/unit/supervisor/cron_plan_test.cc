// PlanDue: when a job fires, with the wall clock given as numbers — on time,
// never early, never twice across clock jumps either way, and the catch-up
// policies after downtime.
#include <gtest/gtest.h>

#include "supervisor/cron/cron_plan.h"

namespace laneway::supervisor::cron {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kT0 = 1'800'000'000'000;  // the job's creation
constexpr int64_t kMissedAfter = kMin;

Schedule Every15() {
  auto s = Schedule::Every("15m", kT0);
  EXPECT_TRUE(s.ok());
  return *s;
}

TEST(CronPlanTest, FiresOnTimeAndNeverEarly) {
  const Schedule s = Every15();
  Plan p = PlanDue(s, kT0, kT0 + 15 * kMin - 1, CatchUp::kOnce, kMissedAfter);
  EXPECT_FALSE(p.run.has_value());
  EXPECT_EQ(p.last, kT0);
  p = PlanDue(s, kT0, kT0 + 15 * kMin, CatchUp::kOnce, kMissedAfter);
  ASSERT_TRUE(p.run.has_value());
  EXPECT_EQ(*p.run, kT0 + 15 * kMin);
  EXPECT_FALSE(p.catch_up);
  EXPECT_EQ(p.skipped, 0u);
  // The same instant again, or a little later: that firing is decided.
  EXPECT_FALSE(PlanDue(s, p.last, kT0 + 15 * kMin, CatchUp::kOnce, kMissedAfter).run);
  EXPECT_FALSE(PlanDue(s, p.last, kT0 + 20 * kMin, CatchUp::kOnce, kMissedAfter).run);
}

TEST(CronPlanTest, BackwardJumpNeitherRepeatsNorFiresEarly) {
  const Schedule s = Every15();
  const int64_t last = kT0 + 30 * kMin;  // fired at T0+30m, then the clock went back an hour
  for (int64_t now : {kT0 - 30 * kMin, kT0, kT0 + 15 * kMin, kT0 + 30 * kMin, kT0 + 45 * kMin - 1}) {
    Plan p = PlanDue(s, last, now, CatchUp::kOnce, kMissedAfter);
    EXPECT_FALSE(p.run.has_value()) << now - kT0;
    EXPECT_EQ(p.skipped, 0u);
    EXPECT_EQ(p.last, last);
  }
  Plan p = PlanDue(s, last, kT0 + 45 * kMin, CatchUp::kOnce, kMissedAfter);
  ASSERT_TRUE(p.run.has_value());
  EXPECT_EQ(*p.run, kT0 + 45 * kMin);
}

TEST(CronPlanTest, ForwardJumpRunsTheLatestAndRecordsTheRest) {
  const Schedule s = Every15();
  // The clock jumps 3 hours ahead, the tick comes 10s after the new "now" firing.
  Plan p = PlanDue(s, kT0, kT0 + 180 * kMin + 10'000, CatchUp::kNone, kMissedAfter);
  ASSERT_TRUE(p.run.has_value());  // the latest one is on time: it fires
  EXPECT_EQ(*p.run, kT0 + 180 * kMin);
  EXPECT_EQ(p.skipped, 11u);
  EXPECT_EQ(p.skipped_latest, kT0 + 165 * kMin);
  EXPECT_EQ(p.last, kT0 + 180 * kMin);
}

TEST(CronPlanTest, CatchUpOnceRunsOneMissedFiring) {
  const Schedule s = Every15();
  // Down for five hours; back 7 minutes after a firing: every due firing is missed.
  Plan p = PlanDue(s, kT0, kT0 + 300 * kMin + 7 * kMin, CatchUp::kOnce, kMissedAfter);
  ASSERT_TRUE(p.run.has_value());
  EXPECT_TRUE(p.catch_up);
  EXPECT_EQ(*p.run, kT0 + 300 * kMin);
  EXPECT_EQ(p.skipped, 19u);
  // And nothing more until the next scheduled one.
  EXPECT_FALSE(PlanDue(s, p.last, kT0 + 310 * kMin, CatchUp::kOnce, kMissedAfter).run);
}

TEST(CronPlanTest, CatchUpNoneRecordsEveryMissedFiring) {
  const Schedule s = Every15();
  Plan p = PlanDue(s, kT0, kT0 + 300 * kMin + 7 * kMin, CatchUp::kNone, kMissedAfter);
  EXPECT_FALSE(p.run.has_value());
  EXPECT_EQ(p.skipped, 20u);
  EXPECT_EQ(p.skipped_latest, kT0 + 300 * kMin);
  EXPECT_EQ(p.last, kT0 + 300 * kMin);
  // The next firing after the downtime is on time again.
  Plan next = PlanDue(s, p.last, kT0 + 315 * kMin, CatchUp::kNone, kMissedAfter);
  ASSERT_TRUE(next.run.has_value());
  EXPECT_EQ(*next.run, kT0 + 315 * kMin);
}

TEST(CronPlanTest, MissedOneShotFollowsCatchUp) {
  auto at = Schedule::At("2027-01-15T08:00:00Z", "UTC");
  ASSERT_TRUE(at.ok());
  const int64_t when = at->at_unix_ms();
  Plan once = PlanDue(*at, when - 86'400'000, when + 3'600'000, CatchUp::kOnce, kMissedAfter);
  ASSERT_TRUE(once.run.has_value());
  EXPECT_TRUE(once.catch_up);
  EXPECT_EQ(*once.run, when);
  Plan none = PlanDue(*at, when - 86'400'000, when + 3'600'000, CatchUp::kNone, kMissedAfter);
  EXPECT_FALSE(none.run.has_value());
  EXPECT_EQ(none.skipped, 1u);
  // Decided: never again.
  EXPECT_FALSE(PlanDue(*at, once.last, when + 7'200'000, CatchUp::kOnce, kMissedAfter).run);
}

TEST(CronPlanTest, CalendarScheduleAcrossDaylightSaving) {
  auto s = Schedule::Cron("30 2 * * *", "Europe/Berlin");
  ASSERT_TRUE(s.ok());
  auto utc = [](const std::string& iso) { return Schedule::At(iso, "UTC")->at_unix_ms(); };
  // Ticking through the spring-forward night: one firing, at the end of the gap.
  int64_t last = utc("2026-03-28T12:00:00Z");
  int runs = 0;
  for (int64_t now = last; now <= utc("2026-03-29T12:00:00Z"); now += 30'000) {
    Plan p = PlanDue(*s, last, now, CatchUp::kOnce, kMissedAfter);
    if (p.run) {
      ++runs;
      EXPECT_EQ(*p.run, utc("2026-03-29T01:00:00Z"));
      EXPECT_GE(now, *p.run);
    }
    last = p.last;
  }
  EXPECT_EQ(runs, 1);
  // Through the fall-back night, whose 02:30 happens twice: one firing.
  last = utc("2026-10-24T12:00:00Z");
  runs = 0;
  for (int64_t now = last; now <= utc("2026-10-25T12:00:00Z"); now += 30'000) {
    Plan p = PlanDue(*s, last, now, CatchUp::kOnce, kMissedAfter);
    if (p.run) {
      ++runs;
      EXPECT_EQ(*p.run, utc("2026-10-25T00:30:00Z"));
    }
    last = p.last;
  }
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace laneway::supervisor::cron
