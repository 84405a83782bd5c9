#include "supervisor/scheduler.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace laneway::supervisor {
namespace {

using Ids = std::vector<uint64_t>;

// Pops every batch, in order.
std::vector<Ids> Drain(SessionQueue& q) {
  std::vector<Ids> out;
  while (std::optional<Batch> b = q.Pop()) out.push_back(b->turn_ids);
  return out;
}

// ---- SessionQueue --------------------------------------------------------------

TEST(SessionQueueTest, StartsEmpty) {
  SessionQueue q(10);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.turns(), 0u);
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(SessionQueueTest, PopsTurnsInFifoOrderOneBatchEach) {
  SessionQueue q(10);
  for (uint64_t id : {5, 3, 9, 1}) ASSERT_TRUE(q.Push(id, /*merge=*/false));
  EXPECT_EQ(q.turns(), 4u);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{5}, {3}, {9}, {1}}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.turns(), 0u);
}

TEST(SessionQueueTest, PopDecrementsTurnCount) {
  SessionQueue q(10);
  q.Push(1, false);
  q.Push(2, false);
  ASSERT_TRUE(q.Pop().has_value());
  EXPECT_EQ(q.turns(), 1u);
  EXPECT_FALSE(q.empty());
}

TEST(SessionQueueTest, RejectsPushBeyondMaxTurns) {
  SessionQueue q(3);
  EXPECT_TRUE(q.Push(1, false));
  EXPECT_TRUE(q.Push(2, false));
  EXPECT_TRUE(q.Push(3, false));
  EXPECT_FALSE(q.Push(4, false));
  EXPECT_EQ(q.turns(), 3u);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{1}, {2}, {3}}));  // 4 was not queued
}

TEST(SessionQueueTest, MaxTurnsAlsoBoundsMergedTurns) {
  SessionQueue q(2);
  EXPECT_TRUE(q.Push(1, true));
  EXPECT_TRUE(q.Push(2, true));
  EXPECT_FALSE(q.Push(3, true));
  EXPECT_EQ(q.turns(), 2u);
}

TEST(SessionQueueTest, ForcedPushIgnoresMaxTurns) {
  SessionQueue q(1);
  EXPECT_TRUE(q.Push(1, false));
  EXPECT_FALSE(q.Push(2, false));
  EXPECT_TRUE(q.Push(2, false, /*force=*/true));
  EXPECT_TRUE(q.Push(3, false, /*force=*/true));
  EXPECT_EQ(q.turns(), 3u);
  EXPECT_FALSE(q.Push(4, false));
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{1}, {2}, {3}}));
}

TEST(SessionQueueTest, PopFreesRoomForAnotherPush) {
  SessionQueue q(1);
  ASSERT_TRUE(q.Push(1, false));
  ASSERT_FALSE(q.Push(2, false));
  q.Pop();
  EXPECT_TRUE(q.Push(2, false));
}

TEST(SessionQueueTest, ZeroMaxTurnsRejectsEverythingButForced) {
  SessionQueue q(0);
  EXPECT_FALSE(q.Push(1, false));
  EXPECT_TRUE(q.Push(1, false, true));
}

TEST(SessionQueueTest, SetMaxTurnsAppliesToTheNextPush) {
  SessionQueue q(1);
  ASSERT_TRUE(q.Push(1, false));
  q.set_max_turns(2);
  EXPECT_TRUE(q.Push(2, false));
  q.set_max_turns(1);
  EXPECT_FALSE(q.Push(3, false));
  EXPECT_EQ(q.turns(), 2u);  // lowering the bound drops nothing
}

TEST(SessionQueueTest, MergeJoinsTheLastBatch) {
  SessionQueue q(10);
  q.Push(1, false);
  q.Push(2, false);
  q.Push(3, /*merge=*/true);
  q.Push(4, /*merge=*/true);
  EXPECT_EQ(q.turns(), 4u);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{1}, {2, 3, 4}}));
}

TEST(SessionQueueTest, MergeIntoAnEmptyQueueStartsABatch) {
  SessionQueue q(10);
  ASSERT_TRUE(q.Push(7, /*merge=*/true));
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.turns(), 1u);
  q.Push(8, true);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{7, 8}}));
}

TEST(SessionQueueTest, PushWithoutMergeAfterMergesStartsANewBatch) {
  SessionQueue q(10);
  q.Push(1, true);
  q.Push(2, true);
  q.Push(3, false);
  q.Push(4, true);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{1, 2}, {3, 4}}));
}

TEST(SessionQueueTest, PushFrontPutsABatchBackFirstAndCountsItsTurns) {
  SessionQueue q(10);
  q.Push(3, false);
  q.Push(4, false);
  std::optional<Batch> running = q.Pop();
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->turn_ids, Ids{3});
  q.PushFront(Batch{{1, 2}});
  EXPECT_EQ(q.turns(), 3u);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{1, 2}, {4}}));
}

TEST(SessionQueueTest, PushFrontIntoAnEmptyQueue) {
  SessionQueue q(10);
  q.PushFront(Batch{{9}});
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.turns(), 1u);
  EXPECT_EQ(Drain(q), (std::vector<Ids>{{9}}));
}

TEST(SessionQueueTest, PushFrontIsNeverRefusedByMaxTurns) {
  SessionQueue q(1);
  q.Push(2, false);
  q.PushFront(Batch{{1}});
  EXPECT_EQ(q.turns(), 2u);
  EXPECT_FALSE(q.Push(3, false));
}

TEST(SessionQueueTest, ClearReturnsAllTurnIdsInOrder) {
  SessionQueue q(10);
  q.Push(1, false);
  q.Push(2, false);
  q.Push(3, true);
  q.PushFront(Batch{{7, 8}});
  q.Push(4, false);
  EXPECT_EQ(q.Clear(), (Ids{7, 8, 1, 2, 3, 4}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.turns(), 0u);
  EXPECT_FALSE(q.Pop().has_value());
  EXPECT_TRUE(q.Clear().empty());
  EXPECT_TRUE(q.Push(5, false));
}

// ---- Admission -----------------------------------------------------------------

TEST(AdmissionTest, NextOnEmptyReturnsNullopt) {
  Admission a;
  EXPECT_FALSE(a.Next().has_value());
  EXPECT_EQ(a.size(), 0u);
}

TEST(AdmissionTest, ServesSessionsInFifoOrder) {
  Admission a;
  a.Enqueue("c");
  a.Enqueue("a");
  a.Enqueue("b");
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.Next(), "c");
  EXPECT_EQ(a.Next(), "a");
  EXPECT_EQ(a.Next(), "b");
  EXPECT_FALSE(a.Next().has_value());
  EXPECT_EQ(a.size(), 0u);
}

TEST(AdmissionTest, EnqueueIgnoresASessionAlreadyWaiting) {
  Admission a;
  a.Enqueue("a");
  a.Enqueue("b");
  a.Enqueue("a");
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.Next(), "a");
  EXPECT_EQ(a.Next(), "b");
  EXPECT_FALSE(a.Next().has_value());
}

TEST(AdmissionTest, ContainsTracksWaitingSessions) {
  Admission a;
  EXPECT_FALSE(a.Contains("a"));
  a.Enqueue("a");
  EXPECT_TRUE(a.Contains("a"));
  EXPECT_FALSE(a.Contains("b"));
  a.Next();
  EXPECT_FALSE(a.Contains("a"));
}

TEST(AdmissionTest, RemovedSessionIsSkipped) {
  Admission a;
  a.Enqueue("a");
  a.Enqueue("b");
  a.Enqueue("c");
  a.Remove("b");
  EXPECT_FALSE(a.Contains("b"));
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.Next(), "a");
  EXPECT_EQ(a.Next(), "c");
  EXPECT_FALSE(a.Next().has_value());
}

TEST(AdmissionTest, RemoveOfAnUnknownSessionIsHarmless) {
  Admission a;
  a.Enqueue("a");
  a.Remove("zzz");
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.Next(), "a");
}

TEST(AdmissionTest, RemoveThenEnqueuePutsTheSessionAtTheBack) {
  Admission a;
  a.Enqueue("a");
  a.Enqueue("b");
  a.Enqueue("c");
  a.Remove("a");
  a.Enqueue("a");
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.Next(), "b");
  EXPECT_EQ(a.Next(), "c");
  EXPECT_EQ(a.Next(), "a");
  EXPECT_FALSE(a.Next().has_value());
}

TEST(AdmissionTest, RepeatedRemoveAndEnqueueYieldsTheSessionOnce) {
  Admission a;
  a.Enqueue("x");
  for (int i = 0; i < 5; ++i) {
    a.Remove("x");
    a.Enqueue("x");
  }
  a.Enqueue("y");
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.Next(), "x");
  EXPECT_EQ(a.Next(), "y");
  EXPECT_FALSE(a.Next().has_value());
}

TEST(AdmissionTest, SessionServedCanWaitAgainAtTheBack) {
  Admission a;
  a.Enqueue("a");
  a.Enqueue("b");
  EXPECT_EQ(a.Next(), "a");
  a.Enqueue("a");
  EXPECT_EQ(a.Next(), "b");
  EXPECT_EQ(a.Next(), "a");
}

}  // namespace
}  // namespace laneway::supervisor
