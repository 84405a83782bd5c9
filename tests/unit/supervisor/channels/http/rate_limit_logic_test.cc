// LoginLimiter (channels/http/login_limiter.h) with the time passed in.
#include <gtest/gtest.h>

#include "supervisor/channels/http/login_limiter.h"

namespace laneway::supervisor::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RateLimitLogicTest, RefusesAfterMaxFailuresUntilTheWindowEnds) {
  LoginLimiter l({3, seconds(60), 100});
  LoginLimiter::Time t0{};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.RetryAfterSeconds("1.2.3.4", t0), 0);
    l.RecordFailure("1.2.3.4", t0 + seconds(i));
  }
  EXPECT_EQ(l.RetryAfterSeconds("1.2.3.4", t0 + seconds(2)), 58);
  EXPECT_EQ(l.RetryAfterSeconds("1.2.3.4", t0 + milliseconds(59'001)), 1);  // rounded up
  EXPECT_EQ(l.RetryAfterSeconds("1.2.3.4", t0 + seconds(60)), 0);
  EXPECT_EQ(l.RetryAfterSeconds("5.6.7.8", t0 + seconds(2)), 0) << "per address";
}

TEST(RateLimitLogicTest, ANewWindowStartsAfterTheOldOneEnds) {
  LoginLimiter l({2, seconds(10), 100});
  LoginLimiter::Time t0{};
  l.RecordFailure("a", t0);
  l.RecordFailure("a", t0 + seconds(11));  // old window over: count restarts at 1
  EXPECT_EQ(l.RetryAfterSeconds("a", t0 + seconds(11)), 0);
  l.RecordFailure("a", t0 + seconds(12));
  EXPECT_EQ(l.RetryAfterSeconds("a", t0 + seconds(12)), 9);
}

TEST(RateLimitLogicTest, RemembersAtMostMaxAddressesExpiredFirst) {
  LoginLimiter l({1, seconds(10), 3});
  LoginLimiter::Time t0{};
  l.RecordFailure("old", t0);
  l.RecordFailure("b", t0 + seconds(5));
  l.RecordFailure("c", t0 + seconds(6));
  l.RecordFailure("d", t0 + seconds(11));  // "old" has expired: it goes
  EXPECT_EQ(l.tracked(), 3u);
  EXPECT_GT(l.RetryAfterSeconds("b", t0 + seconds(11)), 0);
  EXPECT_GT(l.RetryAfterSeconds("d", t0 + seconds(11)), 0);
  l.RecordFailure("e", t0 + seconds(12));  // all live: the oldest ("b") goes
  EXPECT_EQ(l.tracked(), 3u);
  EXPECT_EQ(l.RetryAfterSeconds("b", t0 + seconds(12)), 0);
  EXPECT_GT(l.RetryAfterSeconds("e", t0 + seconds(12)), 0);
}

}  // namespace
}  // namespace laneway::supervisor::http
