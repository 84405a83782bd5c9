#include "supervisor/restart_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "common/clock.h"

namespace laneway::supervisor {
namespace {

using namespace std::chrono_literals;
using common::FakeClock;
using ms = std::chrono::milliseconds;

RestartPolicy::Limits MakeLimits(uint32_t limit, ms window, ms backoff, ms backoff_max) {
  RestartPolicy::Limits l;
  l.limit = limit;
  l.window = window;
  l.backoff = backoff;
  l.backoff_max = backoff_max;
  return l;
}

TEST(RestartPolicyTest, DefaultsAreFiveFaultsInThirtySeconds) {
  RestartPolicy::Limits l;
  EXPECT_EQ(l.limit, 5u);
  EXPECT_EQ(l.window, 30s);
}

TEST(RestartPolicyTest, ParksSessionAfterFiveFaultsInThirtySeconds) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(5, 30s, 100ms, 5s));
  for (int i = 0; i < 4; ++i) {
    RestartPolicy::Decision d = p.OnFault(clock.Now());
    EXPECT_FALSE(d.parked) << "fault " << i + 1;
    EXPECT_FALSE(p.parked());
    clock.Advance(7s);
  }
  // Faults at 0, 7, 14, 21 and now 28 s: five inside 30 s.
  RestartPolicy::Decision d = p.OnFault(clock.Now());
  EXPECT_TRUE(d.parked);
  EXPECT_TRUE(p.parked());
  EXPECT_EQ(p.total_faults(), 5u);
}

TEST(RestartPolicyTest, ParksAtTheLimitWhenAllFaultsAreAtOnce) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(3, 10s, 100ms, 5s));
  EXPECT_FALSE(p.OnFault(clock.Now()).parked);
  EXPECT_FALSE(p.OnFault(clock.Now()).parked);
  EXPECT_TRUE(p.OnFault(clock.Now()).parked);
}

TEST(RestartPolicyTest, LimitOfOneParksOnFirstFault) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(1, 10s, 100ms, 5s));
  EXPECT_TRUE(p.OnFault(clock.Now()).parked);
  EXPECT_TRUE(p.parked());
}

TEST(RestartPolicyTest, FaultsSpreadWiderThanTheWindowNeverPark) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(5, 30s, 100ms, 5s));
  // One fault every 7.5 s: the fifth always lands exactly one window after the first.
  for (int i = 0; i < 200; ++i) {
    RestartPolicy::Decision d = p.OnFault(clock.Now());
    ASSERT_FALSE(d.parked) << "fault " << i + 1;
    EXPECT_LE(p.RecentFaults(clock.Now()), 4u);
    clock.Advance(7500ms);
  }
  EXPECT_FALSE(p.parked());
  EXPECT_EQ(p.total_faults(), 200u);
}

TEST(RestartPolicyTest, FaultExactlyOneWindowOldNoLongerCounts) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(2, 10s, 100ms, 5s));
  p.OnFault(clock.Now());
  clock.Advance(10s);
  EXPECT_EQ(p.RecentFaults(clock.Now()), 0u);
  EXPECT_FALSE(p.OnFault(clock.Now()).parked);
}

TEST(RestartPolicyTest, FaultJustInsideTheWindowStillCounts) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(2, 10s, 100ms, 5s));
  p.OnFault(clock.Now());
  clock.Advance(9999ms);
  EXPECT_EQ(p.RecentFaults(clock.Now()), 1u);
  EXPECT_TRUE(p.OnFault(clock.Now()).parked);
}

TEST(RestartPolicyTest, FirstFaultRestartsAtOnceThenBackoffDoublesAndCaps) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(100, 1h, 100ms, 1000ms));
  const std::vector<ms> want = {0ms, 100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (size_t i = 0; i < want.size(); ++i) {
    RestartPolicy::Decision d = p.OnFault(clock.Now());
    ASSERT_FALSE(d.parked);
    EXPECT_EQ(d.delay, want[i]) << "fault " << i + 1;
    clock.Advance(1s);
  }
}

TEST(RestartPolicyTest, BackoffStaysCappedForManyFaults) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(1000, 24h, 100ms, 5s));
  ms last{0};
  for (int i = 0; i < 500; ++i) {
    RestartPolicy::Decision d = p.OnFault(clock.Now());
    ASSERT_FALSE(d.parked);
    EXPECT_GE(d.delay, last);
    EXPECT_LE(d.delay, 5s);
    last = d.delay;
    clock.Advance(1ms);
  }
  EXPECT_EQ(last, 5s);
}

TEST(RestartPolicyTest, BackoffThatIsNotAPowerOfTwoDivisorStillCapsExactly) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(100, 1h, 300ms, 1000ms));
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 0ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 300ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 600ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 1000ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 1000ms);
}

TEST(RestartPolicyTest, BackoffStartsOverOnceOldFaultsLeaveTheWindow) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(10, 10s, 100ms, 5s));
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 0ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 100ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 200ms);
  clock.Advance(11s);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 0ms);
  EXPECT_EQ(p.OnFault(clock.Now()).delay, 100ms);
}

TEST(RestartPolicyTest, ParkedDecisionHasNoDelay) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(2, 10s, 100ms, 5s));
  p.OnFault(clock.Now());
  RestartPolicy::Decision d = p.OnFault(clock.Now());
  EXPECT_TRUE(d.parked);
  EXPECT_EQ(d.delay, 0ms);
}

TEST(RestartPolicyTest, ResetUnparksAndForgetsPastFaults) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(3, 30s, 100ms, 5s));
  for (int i = 0; i < 3; ++i) p.OnFault(clock.Now());
  ASSERT_TRUE(p.parked());
  p.Reset();
  EXPECT_FALSE(p.parked());
  EXPECT_EQ(p.RecentFaults(clock.Now()), 0u);
  // A fresh start: two more faults right away do not park, and back-off restarts.
  RestartPolicy::Decision d = p.OnFault(clock.Now());
  EXPECT_FALSE(d.parked);
  EXPECT_EQ(d.delay, 0ms);
  EXPECT_FALSE(p.OnFault(clock.Now()).parked);
  EXPECT_TRUE(p.OnFault(clock.Now()).parked);
}

TEST(RestartPolicyTest, RecentFaultsCountsOnlyThoseInsideTheWindow) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(100, 10s, 100ms, 5s));
  EXPECT_EQ(p.RecentFaults(clock.Now()), 0u);
  p.OnFault(clock.Now());  // t = 0
  clock.Advance(4s);
  p.OnFault(clock.Now());  // t = 4
  clock.Advance(4s);
  p.OnFault(clock.Now());  // t = 8
  EXPECT_EQ(p.RecentFaults(clock.Now()), 3u);
  clock.Advance(3s);  // t = 11: the first is out
  EXPECT_EQ(p.RecentFaults(clock.Now()), 2u);
  clock.Advance(4s);  // t = 15: only t = 8 is left
  EXPECT_EQ(p.RecentFaults(clock.Now()), 1u);
  clock.Advance(1h);
  EXPECT_EQ(p.RecentFaults(clock.Now()), 0u);
  EXPECT_EQ(p.total_faults(), 3u);
}

TEST(RestartPolicyTest, TotalFaultsKeepsCountingAcrossWindowsAndResets) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(2, 1s, 100ms, 5s));
  EXPECT_EQ(p.total_faults(), 0u);
  p.OnFault(clock.Now());
  clock.Advance(2s);
  p.OnFault(clock.Now());
  EXPECT_EQ(p.total_faults(), 2u);
  p.OnFault(clock.Now());
  ASSERT_TRUE(p.parked());
  p.Reset();
  EXPECT_EQ(p.total_faults(), 3u);
  p.OnFault(clock.Now());
  EXPECT_EQ(p.total_faults(), 4u);
}

TEST(RestartPolicyTest, NewLimitsApplyToTheNextFault) {
  FakeClock clock;
  RestartPolicy p(MakeLimits(10, 30s, 100ms, 5s));
  p.OnFault(clock.Now());
  p.OnFault(clock.Now());
  p.set_limits(MakeLimits(3, 30s, 100ms, 5s));
  EXPECT_TRUE(p.OnFault(clock.Now()).parked);
}

}  // namespace
}  // namespace laneway::supervisor
