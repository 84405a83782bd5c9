// The Telegram channel's fault tests: the supervisor SIGKILLed at each point of an
// update's life, the API unreachable, 429, 409, a hung poll, the offset reset, a
// journal that cannot be written.
// After each, every accepted update is answered exactly once: the test counts what
// the Bot API double received.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/telegram_double_client.h"

namespace laneway::testing {
namespace {

using nlohmann::json;

constexpr auto kLong = std::chrono::seconds(60);

bool LogHas(const SupervisorProcess& sup, const std::string& needle, int n = 1) {
  return WaitFor([&] { return CountOf(sup.Log(), needle) >= n; }, kLong);
}

bool WaitDelivered(const SupervisorProcess& sup, int n) {
  return LogHas(sup, "event=telegram_delivered ", n);
}

void Kill(SupervisorProcess& sup) {
  sup.Signal(SIGKILL);
  EXPECT_EQ(sup.WaitExit(), 128 + SIGKILL);
}

TEST(TelegramFaultsTest, KilledAfterAcceptingBeforeTheReplyAnswersOnceAfterRestart) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  const std::string config = TelegramConfig(home, tg);
  {
    SupervisorProcess sup(home, TelegramEnv());
    ASSERT_TRUE(sup.Start(config)) << sup.Log();
    tg.Inject(42, "gate a");
    ASSERT_TRUE(LogHas(sup, "event=telegram_turn_accepted ")) << sup.Log();
    ASSERT_TRUE(WaitForWorker(home, "agent:main:telegram:42", "busy")) << sup.Log();
    Kill(sup);
  }
  EXPECT_TRUE(tg.Sent().empty());
  home.OpenGate();
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start()) << sup.Log();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:gate a"}));
  ExpectEveryTurnSettled(home);
}

TEST(TelegramFaultsTest, KilledAfterTheReplyBeforeItWasSentSendsItOnceAfterRestart) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  const std::string config = TelegramConfig(home, tg);
  {
    SupervisorProcess sup(home, TelegramEnv());
    ASSERT_TRUE(sup.Start(config)) << sup.Log();
    tg.Control("faults", {{"fail_sends", 1000000}});  // every send fails (500)
    tg.Inject(42, "hello b");
    // The reply exists (the channel is trying to send it) but nothing got out.
    ASSERT_TRUE(WaitFor([&] { return tg.Stats()["send_errors"].get<int>() >= 1; })) << sup.Log();
    Kill(sup);
  }
  EXPECT_TRUE(tg.Sent().empty());
  tg.Control("faults", {{"fail_sends", 0}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start()) << sup.Log();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:hello b"}));
}

TEST(TelegramFaultsTest, KilledDuringTheSendSendsItOnceAfterRestart) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  const std::string config = TelegramConfig(home, tg);
  {
    SupervisorProcess sup(home, TelegramEnv());
    ASSERT_TRUE(sup.Start(config)) << sup.Log();
    tg.Control("faults", {{"hold_sends", 1}});
    tg.Inject(42, "hello c");
    // The sendMessage is at the double, its answer held back: kill now.
    ASSERT_TRUE(WaitFor([&] { return tg.Stats()["held_sends"].get<int>() == 1; })) << sup.Log();
    Kill(sup);
  }
  // The double saw the client go before it answered: not sent.
  ASSERT_TRUE(WaitFor([&] { return tg.Stats()["sends_aborted"].get<int>() == 1; }));
  EXPECT_TRUE(tg.Sent().empty());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start()) << sup.Log();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:hello c"}));
}

TEST(TelegramFaultsTest, KilledBetweenThePiecesOfALongReplySendsOnlyTheRestAfterRestart) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  const std::string config = TelegramConfig(home, tg);
  {
    SupervisorProcess sup(home, TelegramEnv());
    ASSERT_TRUE(sup.Start(config)) << sup.Log();
    tg.Control("faults", {{"hold_skip", 1}, {"hold_sends", 1}});  // piece 1 out, piece 2 held
    tg.Inject(42, "long reply");
    ASSERT_TRUE(WaitFor([&] { return tg.Stats()["held_sends"].get<int>() == 1; })) << sup.Log();
    Kill(sup);
  }
  ASSERT_TRUE(WaitFor([&] { return tg.Stats()["sends_aborted"].get<int>() == 1; }));
  ASSERT_EQ(tg.SentTo(42).size(), 1u);
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start()) << sup.Log();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  std::vector<std::string> got = tg.SentTo(42);
  ASSERT_EQ(got.size(), 3u);  // piece 1 once, then 2 and 3: nothing twice
  EXPECT_EQ(got[0].rfind("para 000 ", 0), 0u);
  EXPECT_EQ(got[1].rfind("para 040 ", 0), 0u);
  EXPECT_EQ(got[2].rfind("para 080 ", 0), 0u);
  EXPECT_EQ(got[2].substr(got[2].size() - 10), "xxxxxxxxxx");
}

TEST(TelegramFaultsTest, ApiUnreachableForAWhileThenBackLosesNothing) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "one");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  tg.Control("faults", {{"down", true}});
  tg.Inject(42, "two");
  tg.Inject(43, "three");
  ASSERT_TRUE(LogHas(sup, "event=telegram_poll_failed", 2)) << sup.Log();
  tg.Control("faults", {{"down", false}});
  ASSERT_TRUE(WaitDelivered(sup, 3)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:one", "reply:two"}));
  EXPECT_EQ(tg.SentTo(43), (std::vector<std::string>{"reply:three"}));
}

// The journal cannot take the submit (RLIMIT_FSIZE at the file's size: every
// append fails with EFBIG, as a full disk fails with ENOSPC). The core refuses it
// as retryable; the channel says nothing in the chat, keeps the update unconfirmed
// and submits it again until the journal takes it: one real reply, no apology.
TEST(TelegramFaultsTest, AnUpdateTheJournalCannotTakeIsDeferredAndAnsweredOnceItCan) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "one");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  const std::string journal = home.paths().journal_dir + "/journal.log";
  struct stat st;
  ASSERT_EQ(::stat(journal.c_str(), &st), 0);
  ASSERT_EQ(SetFileSizeLimit(sup.pid(), st.st_size), "");
  tg.Inject(42, "two");
  // Refused, and refused again when resubmitted after the back-off (the log cannot
  // say so: its file is over the limit too; the control socket can).
  ASSERT_TRUE(WaitFor(
      [&] { return IntField(*Status(home).Find("counters"), "submits_rejected") >= 2; }, kLong))
      << common::ToJson(Status(home));
  EXPECT_GE(IntField(*Status(home).Find("counters"), "journal_errors"), 1);
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:one"}))
      << "nothing is said in the chat about a refusal the user cannot act on";
  ASSERT_EQ(SetFileSizeLimit(sup.pid(), kNoFileSizeLimit), "");
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:one", "reply:two"}));
  EXPECT_EQ(CountOf(sup.Log(), "event=telegram_submit_rejected"), 0) << sup.Log();
  EXPECT_EQ(IntField(*Status(home).Find("counters"), "turns_accepted"), 2);
  ExpectEveryTurnSettled(home);
}

TEST(TelegramFaultsTest, RateLimitsAreWaitedOutAndNothingIsSentTwice) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  tg.Control("faults", {{"rate_limit_polls", 1}, {"rate_limit_sends", 1}, {"retry_after", 1}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "rl");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:rl"}));
  EXPECT_EQ(tg.Stats()["rate_limited_sent"].get<int>(), 2);
  EXPECT_EQ(CountOf(sup.Log(), "event=telegram_rate_limited"), 2) << sup.Log();
}

TEST(TelegramFaultsTest, ConflictIsReportedAsDuplicatePollerAndBackedOff) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  tg.Control("faults", {{"conflict", 3}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  ASSERT_TRUE(LogHas(sup, "event=telegram_duplicate_poller", 3)) << sup.Log();
  // Backed off, not a tight loop: three conflicts, three polls, then normal polling.
  EXPECT_EQ(tg.Stats()["conflicts_sent"].get<int>(), 3);
  tg.Inject(42, "after conflict");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:after conflict"}));
  // Each retry waited longer than the one before (retry_ms doubles, with jitter).
  EXPECT_NE(sup.Log().find("retry_ms="), std::string::npos);
}

// The channel's row in `status` (null if absent).
common::Value TelegramState(const TempHome& home) {
  common::Value st = Status(home);
  const common::Value* channels = st.Find("channels");
  if (channels == nullptr || !channels->is_array()) return common::Value();
  for (const common::Value& ch : channels->as_array()) {
    if (StrField(ch, "kind") == "telegram") return ch;
  }
  return common::Value();
}

TEST(TelegramFaultsTest, APersistentConflictShowsInStatusUntilItEnds) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  tg.Control("faults", {{"conflict", 1000000}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  ASSERT_TRUE(WaitFor([&] { return StrField(TelegramState(home), "fault") == "duplicate_poller"; }))
      << common::ToJson(Status(home));
  common::Value ch = TelegramState(home);
  EXPECT_FALSE(ch.Find("ok")->as_bool());
  EXPECT_NE(StrField(ch, "error").find("duplicate_poller"), std::string::npos);
  EXPECT_GE(IntField(*ch.Find("poll"), "conflicts"), 1);
  tg.Inject(42, "while conflicted");
  tg.Control("faults", {{"conflict", 0}});
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:while conflicted"}));
  ASSERT_TRUE(WaitFor([&] {
    common::Value now = TelegramState(home);
    return now.is_map() && now.Find("ok")->as_bool() && now.Find("fault")->is_null();
  })) << common::ToJson(TelegramState(home));
  ch = TelegramState(home);
  EXPECT_GT(IntField(*ch.Find("poll"), "last_ok_unix_ms"), 0);
  EXPECT_EQ(IntField(ch, "messages_sent"), 1);
  EXPECT_EQ(IntField(ch, "delivered"), 1);
  EXPECT_EQ(IntField(ch, "bot_id"), TelegramDouble::kBotId);
  EXPECT_EQ(common::ToJson(ch).find(TelegramDouble::kToken), std::string::npos);
}

TEST(TelegramFaultsTest, AHungPollIsRestartedByTheWatchdog) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  tg.Control("faults", {{"hang_polls", 1}});
  SupervisorProcess sup(home, TelegramEnv());
  // poll_timeout 1s + watchdog_margin 2s (TelegramTable).
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  ASSERT_TRUE(WaitFor([&] { return tg.Stats()["held_polls"].get<int>() == 1; })) << sup.Log();
  tg.Inject(42, "are you there");
  ASSERT_TRUE(LogHas(sup, "event=telegram_poll_watchdog")) << sup.Log();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:are you there"}));
  // The abandoned poll's connection was dropped (the double saw it go).
  EXPECT_TRUE(WaitFor([&] { return tg.Stats()["held_polls"].get<int>() == 0; }));
}

TEST(TelegramFaultsTest, BatchBelowTheStoredOffsetResetsItInsteadOfDroppingMessages) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  const std::string config = TelegramConfig(home, tg);
  {
    SupervisorProcess sup(home, TelegramEnv());
    ASSERT_TRUE(sup.Start(config)) << sup.Log();
    tg.Inject(42, "first");
    ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
    sup.Signal(SIGTERM);
    EXPECT_EQ(sup.WaitExit(), 0);
  }
  // As if the stored offset came from long ago, and Telegram started its numbering
  // again: the next update reuses id 1, far below the stored offset.
  home.Write("channels/telegram/bot-123456.json",
             "{\"offset\": 5000, \"epoch\": 0, \"refused\": [], \"sent\": {}}\n");
  tg.Control("reset_ids", {{"next", 1}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start()) << sup.Log();
  EXPECT_EQ(tg.Inject(42, "second"), 1);
  ASSERT_TRUE(LogHas(sup, "event=telegram_offset_reset")) << sup.Log();
  // A new turn, not attached to the first message's turn (same update id).
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:first", "reply:second"}));
  EXPECT_EQ(CountOf(sup.Log(), "event=telegram_turn_accepted"), 2);  // both runs' logs
  EXPECT_EQ(CountOf(sup.Log(), "attached=yes"), 0);
  // And the next message after the reset is an ordinary one.
  tg.Inject(42, "third");
  ASSERT_TRUE(WaitDelivered(sup, 3)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42).back(), "reply:third");
}

}  // namespace
}  // namespace laneway::testing
