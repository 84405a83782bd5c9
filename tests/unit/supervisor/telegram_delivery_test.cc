#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "supervisor/channels/telegram/delivery_queue.h"

namespace laneway::supervisor::telegram {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

ApiReply Ok() {
  ApiReply r;
  r.kind = ApiReply::Kind::kOk;
  return r;
}

ApiReply ApiError(int64_t code, int64_t retry_after = 0) {
  ApiReply r;
  r.kind = ApiReply::Kind::kApiError;
  r.error_code = code;
  r.description = "error " + std::to_string(code);
  r.retry_after_s = retry_after;
  return r;
}

ApiReply NetworkError() {
  ApiReply r;
  r.kind = ApiReply::Kind::kNetwork;
  r.description = "Couldn't connect to server";
  return r;
}

// A scripted Bot API and core: every send is recorded; `replies` answers them in
// order (then Ok); every `delivered` gets the next request id.
struct Fixture {
  common::FakeClock clock;
  BotState state;
  int saves = 0;
  std::vector<SendRequest> sends;
  std::vector<ApiReply> replies;
  std::vector<int64_t> confirms;
  int64_t next_req = 100;
  DeliveryQueue q;

  explicit Fixture(std::string parse_mode = "")
      : q(
            Options(parse_mode), &state, [this] { ++saves; },
            [this](const SendRequest& r) {
              sends.push_back(r);
              if (replies.empty()) return Ok();
              ApiReply a = replies.front();
              replies.erase(replies.begin());
              return a;
            },
            [this](int64_t turn) {
              confirms.push_back(turn);
              return next_req++;
            },
            nullptr) {}

  static DeliveryQueue::Options Options(std::string parse_mode) {
    DeliveryQueue::Options o;
    o.parse_mode = std::move(parse_mode);
    o.backoff = milliseconds(100);
    o.backoff_max = milliseconds(1000);
    o.confirm_timeout = seconds(10);
    return o;
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const auto& s : sends) out.push_back(s.text);
    return out;
  }
};

std::string ThreePieces() {
  std::string text;
  for (int i = 0; i < 3; ++i) text += (i ? "\n\n" : "") + std::string(4000, 'a' + i);
  return text;
}

TEST(TelegramDeliveryTest, PiecesGoOutInOrderOnlyTheFirstAsAReplyThenDelivered) {
  Fixture f;
  f.q.Add(7, "42", "1001", "", ThreePieces(), f.clock.Now());
  f.q.Serve(f.clock.Now());
  ASSERT_EQ(f.sends.size(), 3u);
  EXPECT_EQ(f.sends[0].text, std::string(4000, 'a'));
  EXPECT_EQ(f.sends[2].text, std::string(4000, 'c'));
  EXPECT_EQ(f.sends[0].reply_to, "1001");
  EXPECT_EQ(f.sends[1].reply_to, "");
  EXPECT_EQ(f.state.sent.at(7), 2);
  EXPECT_EQ(f.saves, 2);  // one durable step per confirmed piece but the last
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
  EXPECT_EQ(f.q.OnConfirmed(100), 7);
  EXPECT_EQ(f.q.size(), 0u);
  EXPECT_EQ(f.state.sent.count(7), 0u);
  EXPECT_EQ(f.saves, 3);  // forgotten on disk too
}

TEST(TelegramDeliveryTest, AOnePieceReplyCostsNoStateWrite) {
  Fixture f;
  f.q.Add(7, "42", "1001", "", "short", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 1u);
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
  EXPECT_EQ(f.q.OnConfirmed(100), 7);
  EXPECT_EQ(f.saves, 0);
}

TEST(TelegramDeliveryTest, ServeSendsNoMoreThanItsBudgetAndTheRestStaysDue) {
  Fixture f;
  f.q.Add(7, "42", "1001", "", ThreePieces(), f.clock.Now());
  f.q.Add(8, "43", "", "", "other chat", f.clock.Now());
  f.q.Serve(f.clock.Now(), 2);
  EXPECT_EQ(f.sends.size(), 2u);
  EXPECT_TRUE(f.confirms.empty());
  EXPECT_EQ(f.q.NextDue(f.clock.Now(), seconds(1)), f.clock.Now());
  f.q.Serve(f.clock.Now(), 2);
  EXPECT_EQ(f.Texts().back(), "other chat");
  EXPECT_EQ(f.sends[2].text, std::string(4000, 'c'));  // piece 3, not piece 1 again
  EXPECT_EQ(f.confirms, (std::vector<int64_t>{7, 8}));
}

TEST(TelegramDeliveryTest, ResumesAfterTheLastPieceTelegramConfirmed) {
  Fixture f;
  f.state.sent[7] = 1;  // stored before a crash
  f.q.Add(7, "42", "1001", "", ThreePieces(), f.clock.Now());
  f.q.Serve(f.clock.Now());
  ASSERT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.sends[0].text, std::string(4000, 'b'));
  EXPECT_EQ(f.sends[0].reply_to, "");
}

TEST(TelegramDeliveryTest, AFullySentTurnIsOnlyConfirmed) {
  Fixture f;
  f.state.sent[7] = 1;
  f.q.Add(7, "42", "1001", "", "short", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_TRUE(f.sends.empty());
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
}

TEST(TelegramDeliveryTest, RateLimitWaitsExactlyRetryAfter) {
  Fixture f;
  f.replies = {ApiError(429, 3)};
  f.q.Add(7, "42", "", "", "hi", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 1u);
  f.clock.Advance(milliseconds(2999));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 1u);
  f.clock.Advance(milliseconds(1));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
}

TEST(TelegramDeliveryTest, NetworkErrorsBackOffAndHoldOnlyThatChat) {
  Fixture f;
  f.replies = {NetworkError()};
  f.q.Add(1, "42", "", "", "first for 42", f.clock.Now());
  f.q.Add(2, "42", "", "", "second for 42", f.clock.Now());
  f.q.Add(3, "43", "", "", "for 43", f.clock.Now());
  f.q.Serve(f.clock.Now());
  // 42's first failed; its second waits behind it; 43 is not held back.
  EXPECT_EQ(f.Texts(), (std::vector<std::string>{"first for 42", "for 43"}));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 2u);  // still backing off: no tight loop
  f.clock.Advance(milliseconds(100));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.Texts(),
            (std::vector<std::string>{"first for 42", "for 43", "first for 42", "second for 42"}));
}

TEST(TelegramDeliveryTest, AFormattingRejectionIsRetriedAsPlainText) {
  Fixture f("MarkdownV2");
  f.replies = {ApiError(400)};
  f.q.Add(7, "42", "", "", "*bold", f.clock.Now());
  f.q.Serve(f.clock.Now());
  ASSERT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.sends[0].parse_mode, "MarkdownV2");
  EXPECT_EQ(f.sends[1].parse_mode, "");
  EXPECT_EQ(f.sends[1].text, "*bold");
}

TEST(TelegramDeliveryTest, AChatThatCannotBeReachedIsAbandonedAndConfirmed) {
  Fixture f;
  f.replies = {ApiError(403)};  // the user blocked the bot
  f.q.Add(7, "42", "", "", "hi", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 1u);
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
}

TEST(TelegramDeliveryTest, NoticesAreSentOnceAndNeverConfirmed) {
  Fixture f;
  f.q.Add(0, "42", "1001", "", "refused", f.clock.Now());
  f.q.Serve(f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.sends.size(), 1u);
  EXPECT_TRUE(f.confirms.empty());
  EXPECT_EQ(f.q.size(), 0u);
  EXPECT_TRUE(f.state.sent.empty());
}

TEST(TelegramDeliveryTest, AnUnansweredOrRefusedConfirmationIsSentAgain) {
  Fixture f;
  f.q.Add(7, "42", "", "", "hi", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.confirms.size(), 1u);
  f.clock.Advance(seconds(10) + milliseconds(1));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.confirms.size(), 2u);
  f.q.OnConfirmFailed(101, f.clock.Now());
  f.clock.Advance(milliseconds(100));
  f.q.Serve(f.clock.Now());
  EXPECT_EQ(f.confirms.size(), 3u);
  EXPECT_EQ(f.sends.size(), 1u);  // the message itself went out once
  EXPECT_EQ(f.q.OnConfirmed(999), 0);
  EXPECT_EQ(f.q.OnConfirmed(102), 7);
}

TEST(TelegramDeliveryTest, ADeliveryWithoutAChatIsOnlyConfirmed) {
  Fixture f;
  f.q.Add(7, "", "", "", "lost", f.clock.Now());
  f.q.Serve(f.clock.Now());
  EXPECT_TRUE(f.sends.empty());
  EXPECT_EQ(f.confirms, std::vector<int64_t>{7});
  EXPECT_TRUE(f.q.Has(7));
  f.q.OnConfirmed(100);
  EXPECT_FALSE(f.q.Has(7));
}

}  // namespace
}  // namespace laneway::supervisor::telegram
