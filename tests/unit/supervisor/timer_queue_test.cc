#include "supervisor/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "common/clock.h"

namespace laneway::supervisor {
namespace {

using namespace std::chrono_literals;
using common::FakeClock;
using common::SteadyTime;

Timer At(SteadyTime when, uint64_t target, TimerKind kind = TimerKind::kRunDeadline) {
  return Timer{when, kind, target, /*token=*/target * 10};
}

TEST(TimerQueueTest, EmptyQueueHasNoNextAndNothingDue) {
  FakeClock clock;
  TimerQueue q;
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.Next().has_value());
  clock.Advance(24h);
  EXPECT_FALSE(q.PopDue(clock.Now()).has_value());
}

TEST(TimerQueueTest, NextGivesTheEarliestDeadline) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  q.Arm(At(t0 + 5s, 1));
  EXPECT_EQ(q.Next(), t0 + 5s);
  q.Arm(At(t0 + 9s, 2));
  EXPECT_EQ(q.Next(), t0 + 5s);
  q.Arm(At(t0 + 2s, 3));
  EXPECT_EQ(q.Next(), t0 + 2s);
  EXPECT_EQ(q.size(), 3u);
}

TEST(TimerQueueTest, NothingIsDueBeforeItsDeadline) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  q.Arm(At(t0 + 10s, 1));
  EXPECT_FALSE(q.PopDue(t0).has_value());
  EXPECT_FALSE(q.PopDue(t0 + 10s - 1ns).has_value());
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Next(), t0 + 10s);
}

TEST(TimerQueueTest, TimerIsDueExactlyAtItsDeadline) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  q.Arm(Timer{t0 + 1s, TimerKind::kGrace, 42, 7});
  std::optional<Timer> t = q.PopDue(t0 + 1s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->when, t0 + 1s);
  EXPECT_EQ(t->kind, TimerKind::kGrace);
  EXPECT_EQ(t->target, 42u);
  EXPECT_EQ(t->token, 7u);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.Next().has_value());
}

TEST(TimerQueueTest, PopDueReturnsTimersInDeadlineOrder) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  // Armed out of order.
  for (int s : {7, 3, 9, 1, 5, 8, 2, 6, 4}) q.Arm(At(t0 + std::chrono::seconds(s), s));
  std::vector<uint64_t> fired;
  while (std::optional<Timer> t = q.PopDue(t0 + 100s)) fired.push_back(t->target);
  EXPECT_EQ(fired, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTest, PopDueStopsAtTheFirstTimerNotYetDue) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  q.Arm(At(t0 + 30s, 3, TimerKind::kIdle));
  q.Arm(At(t0 + 10s, 1, TimerKind::kSilence));
  q.Arm(At(t0 + 20s, 2, TimerKind::kBackoff));
  clock.Advance(20s);
  std::vector<uint64_t> fired;
  while (std::optional<Timer> t = q.PopDue(clock.Now())) fired.push_back(t->target);
  EXPECT_EQ(fired, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Next(), t0 + 30s);
  EXPECT_FALSE(q.PopDue(clock.Now()).has_value());
  clock.Advance(10s);
  std::optional<Timer> last = q.PopDue(clock.Now());
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->target, 3u);
  EXPECT_EQ(last->kind, TimerKind::kIdle);
}

TEST(TimerQueueTest, TimerArmedInThePastIsDueAtOnce) {
  FakeClock clock;
  clock.Advance(1h);
  TimerQueue q;
  q.Arm(At(clock.Now() - 5s, 1));
  q.Arm(At(clock.Now() + 5s, 2));
  std::optional<Timer> t = q.PopDue(clock.Now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->target, 1u);
  EXPECT_FALSE(q.PopDue(clock.Now()).has_value());
}

TEST(TimerQueueTest, TimersWithTheSameDeadlineAllFire) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  for (uint64_t i = 1; i <= 4; ++i) q.Arm(At(t0 + 1s, i));
  q.Arm(At(t0 + 2s, 99));
  std::vector<uint64_t> fired;
  while (std::optional<Timer> t = q.PopDue(t0 + 1s)) fired.push_back(t->target);
  std::sort(fired.begin(), fired.end());  // no order is promised among equal deadlines
  EXPECT_EQ(fired, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(q.Next(), t0 + 2s);
}

TEST(TimerQueueTest, ACancelledTimerNeverFiresAndLeavesTheQueue) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  const TimerHandle a = q.Arm(At(t0 + 1s, 1));
  const TimerHandle b = q.Arm(At(t0 + 2s, 2));
  EXPECT_NE(a, b);
  q.Cancel(a);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_FALSE(q.Pending(a));
  EXPECT_TRUE(q.Pending(b));
  EXPECT_EQ(q.Next(), t0 + 2s);
  clock.Advance(10s);
  auto t = q.PopDue(clock.Now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->target, 2u);
  EXPECT_FALSE(q.PopDue(clock.Now()).has_value());
  EXPECT_FALSE(q.Pending(b));  // fired
}

TEST(TimerQueueTest, CancellingAFiredOrUnknownHandleChangesNothing) {
  FakeClock clock;
  const SteadyTime t0 = clock.Now();
  TimerQueue q;
  const TimerHandle a = q.Arm(At(t0, 1));
  q.Arm(At(t0 + 5s, 2));
  ASSERT_TRUE(q.PopDue(t0).has_value());
  q.Cancel(a);
  q.Cancel(0);
  q.Cancel(12345);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Next(), t0 + 5s);
}

TEST(TimerQueueTest, ArmAndCancelManyTimesLeavesNothingBehind) {
  FakeClock clock;
  TimerQueue q;
  for (int i = 0; i < 10000; ++i) q.Cancel(q.Arm(At(clock.Now() + std::chrono::minutes(10), 1)));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.Next().has_value());
}

}  // namespace
}  // namespace laneway::supervisor
