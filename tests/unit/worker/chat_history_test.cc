#include "worker/runners/chat_history.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/temp_dir.h"

namespace laneway::worker {
namespace {

std::string User(int turn, const std::string& text) {
  return "{\"ts\":1,\"turn_id\":" + std::to_string(turn) + ",\"role\":\"user\",\"text\":\"" + text +
         "\"}\n";
}
std::string Assistant(int turn, const std::string& text) {
  return "{\"ts\":2,\"turn_id\":" + std::to_string(turn) + ",\"role\":\"assistant\",\"text\":\"" +
         text + "\"}\n";
}
std::string Error(int turn) {
  return "{\"ts\":2,\"turn_id\":" + std::to_string(turn) +
         ",\"role\":\"error\",\"text\":\"boom\"}\n";
}
std::string Outcome(int turn, const char* status) {
  return "{\"ts\":3,\"turn_id\":" + std::to_string(turn) + ",\"role\":\"outcome\",\"status\":\"" +
         status + "\",\"error\":\"killed\"}\n";
}

std::vector<ChatMessage> Pairs(std::initializer_list<std::pair<const char*, const char*>> p) {
  std::vector<ChatMessage> out;
  for (auto [u, a] : p) {
    out.push_back({"user", u});
    out.push_back({"assistant", a});
  }
  return out;
}

TEST(ChatHistoryTest, RebuildsExchangesOldestFirst) {
  std::string t = User(1, "hi") + Assistant(1, "hello") + User(2, "how?") + Assistant(2, "fine");
  HistoryStats st;
  EXPECT_EQ(BuildHistory(t, 0, {}, &st), Pairs({{"hi", "hello"}, {"how?", "fine"}}));
  EXPECT_EQ(st.exchanges, 2u);
  EXPECT_EQ(st.bytes, 2u + 5u + 4u + 4u);
}

TEST(ChatHistoryTest, FailedTimedOutAndUnansweredTurnsAreLeftOut) {
  std::string t = User(1, "a") + Assistant(1, "A") +  // kept
                  User(2, "b") + Error(2) +           // failed
                  User(3, "c") +                      // timed out: no reply, outcome later
                  User(4, "d") + Assistant(4, "D") +  // kept
                  Outcome(3, "timed_out") +           //
                  User(5, "e") + Assistant(5, "E") + Outcome(5, "cancelled") +  // cancelled
                  User(6, "running");                                           // the running turn
  HistoryStats st;
  EXPECT_EQ(BuildHistory(t, 6, {}, &st), Pairs({{"a", "A"}, {"d", "D"}}));
  EXPECT_EQ(st.left_out, 3u);
}

TEST(ChatHistoryTest, TurnBudgetKeepsTheNewest) {
  std::string t;
  for (int i = 1; i <= 5; ++i)
    t += User(i, "u" + std::to_string(i)) + Assistant(i, "a" + std::to_string(i));
  HistoryStats st;
  EXPECT_EQ(BuildHistory(t, 0, {2, 1 << 20}, &st), Pairs({{"u4", "a4"}, {"u5", "a5"}}));
  EXPECT_EQ(st.over_budget, 3u);
  EXPECT_TRUE(BuildHistory(t, 0, {0, 1 << 20}, nullptr).empty());
}

TEST(ChatHistoryTest, ByteBudgetKeepsTheNewestWithoutGaps) {
  // Exchange sizes, oldest to newest: 2, 20, 2. A budget of 10 keeps only the
  // newest: the 20-byte one does not fit, and skipping it would leave a gap.
  std::string t = User(1, "a") + Assistant(1, "A") + User(2, "0123456789") +
                  Assistant(2, "0123456789") + User(3, "c") + Assistant(3, "C");
  EXPECT_EQ(BuildHistory(t, 0, {100, 10}, nullptr), Pairs({{"c", "C"}}));
  EXPECT_EQ(BuildHistory(t, 0, {100, 24}, nullptr),
            Pairs({{"a", "A"}, {"0123456789", "0123456789"}, {"c", "C"}}));
  EXPECT_EQ(BuildHistory(t, 0, {100, 23}, nullptr).size(), 4u);
}

TEST(ChatHistoryTest, TornLastLineAndGarbageAreSkipped) {
  std::string t = User(1, "a") + Assistant(1, "A") + "not json\n" + "[1,2]\n" +
                  "{\"role\":\"user\"}\n" + User(2, "b") + Assistant(2, "B") +
                  "{\"ts\":1,\"turn_id\":3,\"role\":\"user\",\"te";
  HistoryStats st;
  EXPECT_EQ(BuildHistory(t, 0, {}, &st), Pairs({{"a", "A"}, {"b", "B"}}));
  EXPECT_EQ(st.bad_lines, 4u);
}

TEST(ChatHistoryTest, ARepliedOutcomeLineKeepsTheExchange) {
  std::string t = User(1, "a") + Assistant(1, "A") + Outcome(1, "replied") + User(2, "b") +
                  Assistant(2, "B") + Outcome(2, "failed");
  EXPECT_EQ(BuildHistory(t, 0, {}, nullptr), Pairs({{"a", "A"}}));
}

TEST(ChatHistoryTest, ATurnRunTwiceCountsOnce) {
  // Re-run after a supervisor restart: the user line is written again.
  std::string t = User(1, "a") + User(1, "a") + Assistant(1, "A");
  EXPECT_EQ(BuildHistory(t, 0, {}, nullptr), Pairs({{"a", "A"}}));
}

TEST(ChatHistoryTest, EscapedTextComesBackDecoded) {
  std::string t = User(1, "line\\nbreak \\\"q\\\" \\u00e9") + Assistant(1, "ok");
  auto h = BuildHistory(t, 0, {}, nullptr);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].content, "line\nbreak \"q\" \xC3\xA9");
}

TEST(ChatHistoryTest, LoadHistoryOfMissingFileIsEmpty) {
  testing_util::TempDir dir;
  auto h = LoadHistory(dir.path() + "/none.jsonl", 0, {}, nullptr);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_TRUE(h->empty());
}

TEST(ChatHistoryTest, LoadHistoryReadsOnlyTheTailOfALongTranscript) {
  testing_util::TempDir dir;
  const std::string path = dir.path() + "/t.jsonl";
  {
    std::ofstream f(path);
    const std::string big(1000, 'x');
    for (int i = 1; i <= 2000; ++i) f << User(i, big) << Assistant(i, big);
    f << User(2001, "last") << Assistant(2001, "LAST") << User(2002, "now");
  }
  HistoryStats st;
  auto h = LoadHistory(path, 2002, {1000, 4100}, &st);
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ(h->size(), 6u);  // two big exchanges (4000 bytes) and the last one
  EXPECT_EQ(h->back().content, "LAST");
  EXPECT_EQ(st.exchanges, 3u);
  // 4 MB of transcript, but the tail read holds far fewer exchanges than 2000.
  EXPECT_LT(st.over_budget, 500u);
}

}  // namespace
}  // namespace laneway::worker

namespace laneway::worker {
namespace {

std::string Line(int turn, const char* role, const std::string& text) {
  return "{\"ts\":1,\"turn_id\":" + std::to_string(turn) + ",\"role\":\"" + role +
         "\",\"text\":\"" + text + "\"}\n";
}

TEST(ChatHistoryTest, FollowerSeesAppendedTurnsLikeAFreshRead) {
  testing_util::TempDir dir;
  const std::string path = dir.path() + "/t.jsonl";
  const HistoryBudget budget{3, 1 << 20};
  TranscriptHistory follower(path, budget);
  std::ofstream f(path);
  f << Line(1, "user", "a") << std::flush;
  auto h = follower.Load(1, nullptr);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->empty());
  for (int turn = 1; turn <= 8; ++turn) {
    f << Line(turn, "assistant", "A" + std::to_string(turn));
    if (turn == 4) f << "{\"ts\":3,\"turn_id\":4,\"role\":\"outcome\",\"status\":\"failed\"}\n";
    f << Line(turn + 1, "user", "u" + std::to_string(turn + 1));
    if (turn == 6) f << "{\"ts\":1,\"turn_id\":9";  // half a line: whole at the next turn
    f << std::flush;
    auto followed = follower.Load(turn + 1, nullptr);
    auto fresh = LoadHistory(path, turn + 1, budget, nullptr);
    ASSERT_TRUE(followed.ok() && fresh.ok());
    EXPECT_EQ(*followed, *fresh) << "after turn " << turn;
    if (turn == 6) f << ",\"role\":\"user\",\"text\":\"late\"}\n";
  }
  auto last = follower.Load(9, nullptr);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 6u);  // turns 6, 7, 8 (4 failed; budget 3)
  EXPECT_EQ((*last)[0].content, "u6");
  EXPECT_EQ((*last)[5].content, "A8");
}

TEST(ChatHistoryTest, FollowerRereadsAShrunkFile) {
  testing_util::TempDir dir;
  const std::string path = dir.path() + "/t.jsonl";
  TranscriptHistory follower(path, {});
  std::ofstream(path) << Line(1, "user", "a") << Line(1, "assistant", "A") << Line(2, "user", "b")
                      << Line(2, "assistant", "B");
  ASSERT_EQ(follower.Load(0, nullptr)->size(), 4u);
  std::filesystem::remove(path);
  std::ofstream(path) << Line(7, "user", "x") << Line(7, "assistant", "X");
  auto h = follower.Load(0, nullptr);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].content, "x");
}

}  // namespace
}  // namespace laneway::worker
