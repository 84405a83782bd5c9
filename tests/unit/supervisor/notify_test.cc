// Notifier (supervisor/notify.h) with a recording sender and hand-made times: the
// watchdog ping at half of WATCHDOG_USEC, READY with the status line, STATUS only
// when changed and at most once a second, and nothing at all when disabled.
#include "supervisor/notify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace laneway::supervisor {
namespace {

using std::chrono::milliseconds;

struct Recorder {
  std::vector<std::string> sent;
  Notifier::Sender sender() {
    return [this](const std::string& d) { sent.push_back(d); };
  }
  int Count(const std::string& d) const {
    int n = 0;
    for (const auto& s : sent) n += s == d;
    return n;
  }
};

const common::SteadyTime kT0 = common::SteadyTime{} + std::chrono::hours(1);

TEST(NotifierTest, ReadySendsReadyWithTheStatusLineAndAFirstPing) {
  Recorder r;
  Notifier n(true, std::chrono::seconds(10), r.sender());
  n.Ready(kT0, "0 busy; healthy");
  ASSERT_EQ(r.sent.size(), 2u);
  EXPECT_EQ(r.sent[0], "READY=1\nSTATUS=0 busy; healthy");
  EXPECT_EQ(r.sent[1], "WATCHDOG=1");
}

TEST(NotifierTest, WatchdogPingsAtHalfTheIntervalAndNotBefore) {
  Recorder r;
  Notifier n(true, std::chrono::seconds(10), r.sender());
  n.Ready(kT0, "s");
  ASSERT_TRUE(n.NextPing().has_value());
  EXPECT_EQ(*n.NextPing(), kT0 + std::chrono::seconds(5));
  n.Tick(kT0 + milliseconds(4999));
  EXPECT_EQ(r.Count("WATCHDOG=1"), 1) << "only Ready's ping before half the interval";
  n.Tick(kT0 + milliseconds(5000));
  EXPECT_EQ(r.Count("WATCHDOG=1"), 2);
  n.Tick(kT0 + milliseconds(5001));
  EXPECT_EQ(r.Count("WATCHDOG=1"), 2) << "one ping per half interval, however often Tick runs";
  // 60 seconds of a loop iterating every 100 ms: 12 more pings, one per 5 s.
  for (int i = 1; i <= 600; ++i) n.Tick(kT0 + milliseconds(5000 + 100 * i));
  EXPECT_EQ(r.Count("WATCHDOG=1"), 14);
}

TEST(NotifierTest, NoWatchdogNoPingsAndNoDeadline) {
  Recorder r;
  Notifier n(true, std::chrono::microseconds(0), r.sender());
  n.Ready(kT0, "s");
  n.Tick(kT0 + std::chrono::hours(1));
  EXPECT_EQ(r.Count("WATCHDOG=1"), 0);
  EXPECT_FALSE(n.NextPing().has_value());
}

TEST(NotifierTest, StatusIsSentOnlyWhenChangedAndAtMostOnceASecond) {
  Recorder r;
  Notifier n(true, std::chrono::microseconds(0), r.sender());
  n.Ready(kT0, "a");
  int asked = 0;
  std::string line = "a";
  auto summary = [&] {
    ++asked;
    return line;
  };
  n.UpdateStatus(kT0 + milliseconds(500), summary);
  EXPECT_EQ(asked, 0) << "not due yet: the summary is not even computed";
  n.UpdateStatus(kT0 + milliseconds(1000), summary);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(r.sent.size(), 1u) << "unchanged line: nothing sent";
  line = "b";
  n.UpdateStatus(kT0 + milliseconds(1500), summary);
  EXPECT_EQ(r.sent.size(), 1u);
  n.UpdateStatus(kT0 + milliseconds(2000), summary);
  ASSERT_EQ(r.sent.size(), 2u);
  EXPECT_EQ(r.sent[1], "STATUS=b");
}

TEST(NotifierTest, DisabledNotifierSendsNothing) {
  Recorder r;
  Notifier n(false, std::chrono::seconds(10), r.sender());
  n.Ready(kT0, "s");
  n.Send("STOPPING=1");
  n.Tick(kT0 + std::chrono::hours(1));
  n.UpdateStatus(kT0 + std::chrono::hours(1), [] { return std::string("x"); });
  EXPECT_TRUE(r.sent.empty());
  EXPECT_FALSE(n.NextPing().has_value());
}

}  // namespace
}  // namespace laneway::supervisor
