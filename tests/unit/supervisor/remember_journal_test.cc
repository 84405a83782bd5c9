// The journal's part of the remembered window: outcome records carry their end time
// (key "e"), and compaction ends with a high-water record (type 5) so that the next
// supervisor issues ids after every id ever handed out, even when no turn is left.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supervisor/journal.h"
#include "supervisor/recovery.h"
#include "tests/unit/supervisor/journal_records.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using namespace ::laneway::supervisor::test_records;
using ::laneway::testing_util::TempDir;

Journal::Options OptionsFor(const TempDir& dir) {
  Journal::Options o;
  o.dir = dir.path();
  o.sync = false;
  return o;
}

JournalRecord EndedOutcome(uint64_t id, int64_t ended) {
  JournalRecord r = Outcome(id, "replied", "r" + std::to_string(id));
  r.ended_unix_ms = ended;
  return r;
}

TEST(RememberJournalTest, EndTimesAndHighWaterRecordsSurviveTheFile) {
  TempDir dir;
  const std::vector<JournalRecord> written = {Accept(1), EndedOutcome(1, 1'700'000'123'456),
                                              HighWater(41)};
  {
    JournalRecovery rec;
    auto j = Journal::Open(OptionsFor(dir), &rec);
    ASSERT_TRUE(j.ok()) << j.status().message();
    for (const JournalRecord& r : written) (*j)->Append(r);
    ASSERT_TRUE((*j)->Commit().ok());
  }
  JournalRecovery rec;
  auto j = Journal::Open(OptionsFor(dir), &rec);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(rec.records, written);
  EXPECT_EQ(rec.corrupt_records, 0u);
  RecoveredState state = Recover(rec.records);
  EXPECT_EQ(state.max_turn_id, 41u) << "ids go on after the high-water mark";
  EXPECT_EQ(state.orphan_records, 0u) << "a high-water record is not an orphan";
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_EQ(state.turns[0].ended_unix_ms, 1'700'000'123'456);
}

TEST(RememberJournalTest, AnOutcomeWithoutAnEndTimeStillReads) {
  RecoveredState state = Recover({Accept(3), Outcome(3, "failed", "x")});
  ASSERT_EQ(state.turns.size(), 1u);
  EXPECT_TRUE(state.turns[0].done);
  EXPECT_EQ(state.turns[0].ended_unix_ms, 0) << "the ledger ages it from its acceptance";
}

TEST(RememberJournalTest, CompactionThatKeepsNoTurnKeepsTheHighestId) {
  // Every turn finished and none kept (all forgotten): only the mark remains.
  RecoveredState state =
      Recover({Accept(1), Outcome(1, "replied", "a"), Accept(2), Outcome(2, "replied", "b")});
  const std::vector<JournalRecord> set = CompactionSet(state, 0);
  EXPECT_EQ(set, std::vector<JournalRecord>{HighWater(2)});
  EXPECT_EQ(Recover(set).max_turn_id, 2u);
  EXPECT_TRUE(Recover(set).turns.empty());
  // A later compaction of a recovered mark carries it on.
  EXPECT_EQ(CompactionSet(Recover(set), 0), std::vector<JournalRecord>{HighWater(2)});
  // Nothing ever issued: nothing written.
  EXPECT_TRUE(CompactionSet(Recover({}), 0).empty());
}

TEST(RememberJournalTest, CompactionKeepsTheEndTimesOfKeptTurns) {
  RecoveredState state = Recover({Accept(1), EndedOutcome(1, 5), Accept(2), EndedOutcome(2, 9)});
  RecoveredState again = Recover(CompactionSet(state, 1));
  ASSERT_EQ(again.turns.size(), 1u);
  EXPECT_EQ(again.turns[0].turn_id, 2u);
  EXPECT_EQ(again.turns[0].ended_unix_ms, 9);
}

}  // namespace
}  // namespace laneway::supervisor
