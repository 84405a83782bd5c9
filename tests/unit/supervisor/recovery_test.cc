#include "supervisor/recovery.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/supervisor/journal_records.h"

namespace laneway::supervisor {
namespace {

using namespace ::laneway::supervisor::test_records;

using Type = JournalRecord::Type;

std::vector<uint64_t> Ids(const std::vector<RecoveredTurn>& turns) {
  std::vector<uint64_t> ids;
  for (const RecoveredTurn& t : turns) ids.push_back(t.turn_id);
  return ids;
}

TEST(RecoveryTest, EmptyJournalRecoversNothing) {
  RecoveredState state = Recover({});
  EXPECT_TRUE(state.turns.empty());
  EXPECT_EQ(state.max_turn_id, 0u);
  EXPECT_EQ(state.orphan_records, 0u);
}

TEST(RecoveryTest, TellsQueuedFromRunningFromDone) {
  RecoveredState state = Recover(
      {Accept(1), Accept(2), Accept(3), Start(2, 1), Start(3, 1), Outcome(3, "replied", "hi")});
  ASSERT_EQ(state.turns.size(), 3u);
  const RecoveredTurn& queued = state.turns[0];
  EXPECT_EQ(queued.turn_id, 1u);
  EXPECT_EQ(queued.session, "agent:main:s1");
  EXPECT_EQ(queued.agent, "main");
  EXPECT_EQ(queued.message, "hello");
  EXPECT_EQ(queued.accepted_unix_ms, 1700000000001);
  EXPECT_EQ(queued.attempts, 0u);
  EXPECT_FALSE(queued.was_running);
  EXPECT_FALSE(queued.done);

  const RecoveredTurn& running = state.turns[1];
  EXPECT_EQ(running.attempts, 1u);
  EXPECT_TRUE(running.was_running);
  EXPECT_FALSE(running.done);

  const RecoveredTurn& done = state.turns[2];
  EXPECT_EQ(done.attempts, 1u);
  EXPECT_FALSE(done.was_running);
  EXPECT_TRUE(done.done);
  EXPECT_EQ(done.status, "replied");
  EXPECT_EQ(done.text, "hi");
}

TEST(RecoveryTest, AttemptsIsTheHighestStartSeen) {
  RecoveredState state = Recover({Accept(1), Start(1, 1), Start(1, 3), Start(1, 2)});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_EQ(state.turns[0].attempts, 3u);
  EXPECT_TRUE(state.turns[0].was_running);
}

TEST(RecoveryTest, StartWithoutAttemptNumberCountsAsOneRun) {
  RecoveredState state = Recover({Accept(1), Start(1, 0)});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_EQ(state.turns[0].attempts, 1u);
  EXPECT_TRUE(state.turns[0].was_running);
}

TEST(RecoveryTest, FirstOutcomeWins) {
  RecoveredState state = Recover({Accept(1), Start(1, 1), Outcome(1, "timed_out", "after 600s"),
                                  Outcome(1, "replied", "late")});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_TRUE(state.turns[0].done);
  EXPECT_EQ(state.turns[0].status, "timed_out");
  EXPECT_EQ(state.turns[0].text, "after 600s");
}

TEST(RecoveryTest, OutcomeWithoutStartIsDone) {
  RecoveredState state = Recover({Accept(1), Outcome(1, "cancelled", "by user")});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_TRUE(state.turns[0].done);
  EXPECT_FALSE(state.turns[0].was_running);
  EXPECT_EQ(state.turns[0].attempts, 0u);
}

TEST(RecoveryTest, CountsAndIgnoresOrphanStartsAndOutcomes) {
  RecoveredState state =
      Recover({Start(7, 1), Accept(1), Outcome(8, "replied", "x"), Start(1, 1), Start(9, 2)});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_EQ(state.turns[0].turn_id, 1u);
  EXPECT_EQ(state.orphan_records, 3u);
  // Orphans still count for the highest id: a new turn must not reuse theirs.
  EXPECT_EQ(state.max_turn_id, 9u);
}

TEST(RecoveryTest, MatchesStartsThatPrecedeTheirAcceptInTheFile) {
  RecoveredState state = Recover({Start(2, 1), Accept(2)});
  EXPECT_EQ(state.orphan_records, 0u);
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_TRUE(state.turns[0].was_running);
}

TEST(RecoveryTest, KeepsFirstOfRepeatedAccepts) {
  JournalRecord again = Accept(1);
  again.message = "second copy";
  RecoveredState state = Recover({Accept(1), again});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_EQ(state.turns[0].message, "hello");
}

TEST(RecoveryTest, OrdersTurnsByIdAndReportsMaxId) {
  RecoveredState state = Recover({Accept(30), Accept(4), Accept(12), Start(4, 1)});
  EXPECT_EQ(Ids(state.turns), (std::vector<uint64_t>{4, 12, 30}));
  EXPECT_EQ(state.max_turn_id, 30u);
}

TEST(RecoveryTest, CompactionKeepsUnfinishedAndNewestFinishedTurns) {
  // 1, 3, 5 finished (in id order); 2 queued; 4 running on its second attempt.
  RecoveredState state =
      Recover({Accept(1), Accept(2), Accept(3), Accept(4), Accept(5), Start(1, 1),
               Outcome(1, "replied", "r1"), Start(3, 1), Outcome(3, "failed", "boom"), Start(4, 1),
               Start(4, 2), Outcome(5, "rejected", "queue full")});
  std::vector<JournalRecord> set = CompactionSet(state, 2);
  const std::vector<JournalRecord> expected = {
      Accept(2),   Accept(3), Outcome(3, "failed", "boom"),         Accept(4),
      Start(4, 2), Accept(5), Outcome(5, "rejected", "queue full"), HighWater(5),
  };
  EXPECT_EQ(set, expected);

  // Recovering the compacted set gives the same answer for every kept turn.
  RecoveredState again = Recover(set);
  EXPECT_EQ(Ids(again.turns), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_FALSE(again.turns[0].was_running);
  EXPECT_TRUE(again.turns[2].was_running);
  EXPECT_EQ(again.turns[2].attempts, 2u);
  EXPECT_EQ(again.turns[3].status, "rejected");
  EXPECT_EQ(again.max_turn_id, 5u);
}

TEST(RecoveryTest, CompactionWithKeepDoneZeroDropsEveryFinishedTurn) {
  RecoveredState state = Recover({Accept(1), Outcome(1, "replied", "a"), Accept(2)});
  EXPECT_EQ(CompactionSet(state, 0), (std::vector<JournalRecord>{Accept(2), HighWater(2)}));
}

TEST(RecoveryTest, CompactionKeepsAllFinishedWhenFewerThanKeepDone) {
  RecoveredState state = Recover(
      {Accept(1), Outcome(1, "replied", "a"), Accept(2), Outcome(2, "interrupted", "restart")});
  EXPECT_EQ(CompactionSet(state, 10),
            (std::vector<JournalRecord>{Accept(1), Outcome(1, "replied", "a"), Accept(2),
                                        Outcome(2, "interrupted", "restart"), HighWater(2)}));
}

}  // namespace
}  // namespace laneway::supervisor
