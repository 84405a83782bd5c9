// RememberWindow as pure logic: the count, age and byte bounds and their edges.
#include "supervisor/remember_window.h"

#include <gtest/gtest.h>

#include <vector>

namespace laneway::supervisor {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

RememberWindow::Limits Limits(size_t turns, milliseconds age, uint64_t bytes = 1 << 20) {
  RememberWindow::Limits l;
  l.turns = turns;
  l.age = age;
  l.bytes = bytes;
  return l;
}

TEST(RememberWindowTest, KeepsExactlyRememberTurnsAndForgetsTheOldestFirst) {
  RememberWindow w;
  for (uint64_t id = 1; id <= 3; ++id) w.Add(id, 1000, 1);
  EXPECT_TRUE(w.Expire(Limits(3, hours(1)), 1000).empty()) << "three of three fit";
  w.Add(4, 1000, 1);
  w.Add(5, 1000, 1);
  EXPECT_EQ(w.Expire(Limits(3, hours(1)), 1000), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.size(), 3u);
}

TEST(RememberWindowTest, ATurnAtExactlyRememberForIsKeptAndOneMillisecondLaterForgotten) {
  RememberWindow w;
  w.Add(7, 10'000, 1);
  w.Add(8, 10'500, 1);
  const auto l = Limits(100, milliseconds(1000));
  EXPECT_TRUE(w.Expire(l, 11'000).empty()) << "ended exactly remember_for ago: still in";
  EXPECT_EQ(w.Expire(l, 11'001), (std::vector<uint64_t>{7}));
  EXPECT_TRUE(w.Expire(l, 11'500).empty());
  EXPECT_EQ(w.Expire(l, 11'501), (std::vector<uint64_t>{8}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.oldest_ended_unix_ms(), 0);
}

TEST(RememberWindowTest, TheByteBoundForgetsOldTextsButKeepsTheNewestTurn) {
  RememberWindow w;
  w.Add(1, 0, 600);
  w.Add(2, 0, 600);
  EXPECT_EQ(w.Expire(Limits(100, hours(1), 1000), 0), (std::vector<uint64_t>{1}));
  w.Add(3, 0, 5000);  // alone above the bound: kept, and it pushes 2 out
  EXPECT_EQ(w.Expire(Limits(100, hours(1), 1000), 0), (std::vector<uint64_t>{2}));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.bytes(), 5000u);
}

TEST(RememberWindowTest, AnAgeSweepDoesBoundedWorkAndFinishesOnTheNextCall) {
  RememberWindow w;
  for (uint64_t id = 1; id <= 10; ++id) w.Add(id, 0, 1);
  const auto l = Limits(100, milliseconds(1));
  EXPECT_EQ(w.Expire(l, 1000, 4).size(), 4u);
  EXPECT_EQ(w.Expire(l, 1000, 4).size(), 4u);
  EXPECT_EQ(w.Expire(l, 1000, 4), (std::vector<uint64_t>{9, 10}));
}

TEST(RememberWindowTest, AClockStepBackKeepsLaterTurnsUntilThoseAheadOfThemGo) {
  RememberWindow w;
  w.Add(1, 5000, 1);
  w.Add(2, 1000, 1);  // the wall clock stepped back between the two ends
  const auto l = Limits(100, milliseconds(1000));
  EXPECT_TRUE(w.Expire(l, 5000).empty()) << "2 waits behind 1";
  EXPECT_EQ(w.Expire(l, 6001), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace laneway::supervisor
