#include <gtest/gtest.h>

#include <fstream>

#include "supervisor/channels/telegram/backoff.h"
#include "supervisor/channels/telegram/delivery_text.h"
#include "supervisor/channels/telegram/state_store.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor::telegram {
namespace {

using testing_util::TempDir;

TEST(TelegramStateTest, MissingFileIsAnEmptyState) {
  TempDir dir;
  auto s = StateStore::Open(dir.path() + "/channels/telegram", 777);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->state().offset, 0);
  EXPECT_TRUE(s->state().refused.empty());
  EXPECT_TRUE(s->state().sent.empty());
}

TEST(TelegramStateTest, SaveThenOpenRoundTripsKeyedByBotId) {
  TempDir dir;
  {
    auto s = StateStore::Open(dir.path(), 777);
    ASSERT_TRUE(s.ok());
    s->mutable_state().offset = 1234;
    s->mutable_state().epoch = 2;
    s->mutable_state().refused = {5, 6};
    s->mutable_state().sent[17] = 2;
    ASSERT_TRUE(s->Save().ok());
  }
  auto again = StateStore::Open(dir.path(), 777);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state().offset, 1234);
  EXPECT_EQ(again->state().epoch, 2);
  EXPECT_EQ(again->state().refused, (std::set<int64_t>{5, 6}));
  EXPECT_EQ(again->state().sent.at(17), 2);
  auto other_bot = StateStore::Open(dir.path(), 888);
  ASSERT_TRUE(other_bot.ok());
  EXPECT_EQ(other_bot->state().offset, 0);
}

TEST(TelegramStateTest, MalformedFileIsAnErrorNotAReset) {
  TempDir dir;
  std::ofstream(dir.path() + "/bot-777.json") << "{\"offset\": \"x\"";
  auto s = StateStore::Open(dir.path(), 777);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bot-777.json"), std::string::npos);
}

TEST(TelegramStateTest, BatchAtOrAboveTheOffsetIsProcessed) {
  BatchPlan p = PlanBatch(10, {10, 11, 12});
  EXPECT_FALSE(p.reset);
  EXPECT_EQ(p.process, (std::vector<size_t>{0, 1, 2}));
}

TEST(TelegramStateTest, IdsBelowTheOffsetBesideNewOnesAreDropped) {
  BatchPlan p = PlanBatch(10, {8, 9, 10});
  EXPECT_FALSE(p.reset);
  EXPECT_EQ(p.process, (std::vector<size_t>{2}));
}

TEST(TelegramStateTest, BatchEntirelyBelowTheOffsetResetsIt) {
  BatchPlan p = PlanBatch(5000, {1, 2, 3});
  EXPECT_TRUE(p.reset);
  EXPECT_EQ(p.process, (std::vector<size_t>{0, 1, 2}));
  EXPECT_FALSE(PlanBatch(0, {1, 2}).reset);  // nothing stored: nothing to reset
  EXPECT_FALSE(PlanBatch(10, {}).reset);
}

TEST(TelegramStateTest, IdempotencyKeyNamesBotAndUpdateAndTheResetEpoch) {
  EXPECT_EQ(IdempotencyKey(777, 42, 0), "tg:777:42");
  EXPECT_EQ(IdempotencyKey(777, 42, 1), "tg:777:42:r1");
  EXPECT_NE(IdempotencyKey(777, 42, 1), IdempotencyKey(777, 42, 2));
}

TEST(TelegramStateTest, BackoffDoublesWithJitterUpToTheCap) {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 1);
  int64_t expected_max[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t max : expected_max) {
    int64_t d = b.Next().count();
    EXPECT_GE(d, max / 2);
    EXPECT_LE(d, max);
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 100);
}

TEST(TelegramStateTest, FailedTurnsGetAShortSentence) {
  EXPECT_EQ(DeliveryText("replied", "hello", ""), "hello");
  EXPECT_EQ(DeliveryText("replied", "  \n", ""), "(empty reply)");
  EXPECT_NE(DeliveryText("failed", "", "exit 3").find("exit 3"), std::string::npos);
  EXPECT_NE(DeliveryText("timed_out", "", "").find("too long"), std::string::npos);
  std::string long_error(5000, 'e');
  EXPECT_LT(DeliveryText("failed", "", long_error).size(), 400u);
  EXPECT_NE(RefusalText(42).find("42"), std::string::npos);
}

}  // namespace
}  // namespace laneway::supervisor::telegram
