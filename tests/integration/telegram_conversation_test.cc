// The Telegram channel against the local Bot API double: conversations, queues,
// long replies, allow_from and --deliver. Every check counts what the double
// received, after the channel confirmed its deliveries to the core.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/telegram_double_client.h"

namespace laneway::testing {
namespace {

using nlohmann::json;

constexpr auto kLong = std::chrono::seconds(60);

// Waits until the supervisor log shows `n` confirmed deliveries.
bool WaitDelivered(const SupervisorProcess& sup, int n, std::chrono::milliseconds timeout = kLong) {
  return WaitFor([&] { return CountOf(sup.Log(), "event=telegram_delivered ") >= n; }, timeout);
}

TEST(TelegramConversationTest, AnswersAMessageAsAReplyInTheChatSession) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "hello");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  json sent = tg.Sent();
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["chat_id"], "42");
  EXPECT_EQ(sent[0]["text"], "reply:hello");
  EXPECT_EQ(sent[0]["reply_to"], 1001);  // the user's message (the double's first id in chat 42)
  EXPECT_TRUE(WaitForWorker(home, "agent:main:telegram:42", ""));
  ExpectEveryTurnSettled(home);
}

TEST(TelegramConversationTest, TwoMessagesToABusyChatAreBothAnsweredInOrder) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg, "typing_interval = \"200ms\"\n"))) << sup.Log();
  tg.Inject(42, "gate one");
  tg.Inject(42, "two");
  // Both are accepted while the first is still running: the second queues.
  ASSERT_TRUE(WaitFor([&] { return CountOf(sup.Log(), "event=telegram_turn_accepted ") == 2; }))
      << sup.Log();
  ASSERT_TRUE(WaitForWorker(home, "agent:main:telegram:42", "busy", 1)) << sup.Log();
  // While it runs, the chat shows "typing" (again and again).
  ASSERT_TRUE(WaitFor([&] { return tg.Stats()["actions"].get<int>() >= 2; })) << sup.Log();
  EXPECT_TRUE(tg.SentTo(42).empty());
  home.OpenGate();
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42), (std::vector<std::string>{"reply:gate one", "reply:two"}));
  json actions = tg.Control("actions")["actions"];
  for (const json& a : actions) {
    EXPECT_EQ(a["chat_id"], "42");
    EXPECT_EQ(a["action"], "typing");
  }
  ExpectEveryTurnSettled(home);
}

TEST(TelegramConversationTest, FiftyChatsAtOnceEachGetTheirOwnAnswerOnce) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  for (int chat = 1000; chat < 1050; ++chat) tg.Inject(chat, "m" + std::to_string(chat));
  ASSERT_TRUE(WaitDelivered(sup, 50, std::chrono::seconds(100))) << sup.Log();
  for (int chat = 1000; chat < 1050; ++chat) {
    EXPECT_EQ(tg.SentTo(chat), (std::vector<std::string>{"reply:m" + std::to_string(chat)}))
        << chat;
  }
  EXPECT_EQ(tg.Sent().size(), 50u);
  ExpectEveryTurnSettled(home);
}

TEST(TelegramConversationTest, TenThousandCharacterReplyArrivesAsThreeMessagesInOrder) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "long please");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  std::vector<std::string> got = tg.SentTo(42);
  ASSERT_EQ(got.size(), 3u);
  std::string joined;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(got[i].size(), 4096u);  // ASCII: bytes = UTF-16 units
    EXPECT_EQ(got[i].rfind("para ", 0), 0u) << "piece " << i << " does not start a paragraph";
    joined += (i ? "\n\n" : "") + got[i];
  }
  // Every paragraph, in order, nothing lost.
  size_t pos = 0;
  for (int p = 0; p < 100; ++p) {
    char head[16];
    std::snprintf(head, sizeof head, "para %03d ", p);
    size_t at = joined.find(head, pos);
    ASSERT_NE(at, std::string::npos) << head;
    pos = at;
  }
  EXPECT_EQ(joined.size(), 100u * 99 + 99 * 2);
  // Only the first piece is a reply to the user's message.
  json sent = tg.Sent();
  EXPECT_EQ(sent[0]["reply_to"], 1001);
  EXPECT_TRUE(sent[1]["reply_to"].is_null());
}

TEST(TelegramConversationTest, UserNotInAllowFromIsRefusedOnceAndTheAgentNeverSeesIt) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg, "allow_from = [1]\n"))) << sup.Log();
  tg.Inject(42, "let me in");
  tg.Inject(42, "please");
  tg.Inject(1, "hi");  // after the stranger's: answered means theirs were handled
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  ASSERT_TRUE(WaitFor([&] { return !tg.SentTo(42).empty(); })) << sup.Log();
  EXPECT_EQ(tg.SentTo(1), (std::vector<std::string>{"reply:hi"}));
  std::vector<std::string> refusals = tg.SentTo(42);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_NE(refusals[0].find("42"), std::string::npos) << refusals[0];
  common::Value st = Status(home);
  EXPECT_EQ(Counter(st, "turns_accepted"), 1) << common::ToJson(st);
  EXPECT_EQ(sup.Log().find("let me in"), std::string::npos);
}

TEST(TelegramConversationTest, DeliverSendsACliTurnsOutcomeToTheChat) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  ASSERT_TRUE(
      WaitFor([&] { return sup.Log().find("event=telegram_subscribed") != std::string::npos; }));
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "from cron", "--deliver",
                              "--channel", "telegram", "--to", "77"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "reply:from cron\n");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  json sent = tg.Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["chat_id"], "77");
  EXPECT_EQ(sent[0]["text"], "reply:from cron");
  EXPECT_TRUE(sent[0]["reply_to"].is_null());
  EXPECT_TRUE(WaitForWorker(home, "agent:main:telegram:77", ""));

  CliResult alone = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--deliver"});
  EXPECT_EQ(alone.code, 0) << alone.err;  // as before: printed here, sent nowhere
  CliResult half = RunCli(
      home, {"agent", "--agent", "main", "--message", "x", "--deliver", "--channel", "telegram"});
  EXPECT_EQ(half.code, 2);
  CliResult no_deliver = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--to", "77"});
  EXPECT_EQ(no_deliver.code, 2);
  CliResult bad_to = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--deliver",
                                   "--channel", "telegram", "--to", "abc"});
  EXPECT_EQ(bad_to.code, 2);
  EXPECT_EQ(tg.Sent().size(), 1u);  // none of these reached the chat
}

TEST(TelegramConversationTest, AFailedTurnGetsAShortMessage) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "fail now");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  std::vector<std::string> got = tg.SentTo(42);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("Sorry, that message failed", 0), 0u) << got[0];
}

TEST(TelegramConversationTest, AReplyThatIsNotUtf8IsSentWithReplacementCharacters) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "bin");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  std::vector<std::string> got = tg.SentTo(42);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("bad:", 0), 0u);
  EXPECT_EQ(got[0].back(), '!');
  tg.Inject(42, "still here");  // the channel thread survived it
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  EXPECT_EQ(tg.SentTo(42).back(), "reply:still here");
}

TEST(TelegramConversationTest, AFormattingRejectionIsRetriedAsPlainText) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  tg.Control("faults", {{"reject_parse", 1}});
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg, "parse_mode = \"HTML\"\n"))) << sup.Log();
  tg.Inject(42, "<b>bold");
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
  json sent = tg.Sent();
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["text"], "reply:<b>bold");
  EXPECT_TRUE(sent[0]["parse_mode"].is_null());  // the retry went out as plain text
  EXPECT_EQ(CountOf(sup.Log(), "event=telegram_format_rejected"), 1);
  tg.Inject(42, "next");  // later replies use the configured formatting again
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  EXPECT_EQ(tg.Sent()[1]["parse_mode"], "HTML");
}

TEST(TelegramConversationTest, InAGroupOnlyMentionsAreAnsweredAndATopicHasItsOwnSession) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg, "groups = true\n"))) << sup.Log();
  const int64_t group = -1001234;
  tg.Control("inject", {{"chat_id", group},
                        {"from_id", 42},
                        {"chat_type", "supergroup"},
                        {"text", "people talking"}});
  tg.Control("inject", {{"chat_id", group},
                        {"from_id", 42},
                        {"chat_type", "supergroup"},
                        {"text", "@laneway_test_bot hi"}});
  tg.Control("inject", {{"chat_id", group},
                        {"from_id", 43},
                        {"chat_type", "supergroup"},
                        {"thread_id", 7},
                        {"text", "@laneway_test_bot in a topic"}});
  ASSERT_TRUE(WaitDelivered(sup, 2)) << sup.Log();
  json sent = tg.Sent();
  ASSERT_EQ(sent.size(), 2u) << sent.dump();
  // Two sessions run side by side: either may answer first.
  if (sent[0]["text"] != "reply:hi") std::swap(sent[0], sent[1]);
  EXPECT_EQ(sent[0]["text"], "reply:hi");
  EXPECT_TRUE(sent[0]["thread_id"].is_null());
  EXPECT_EQ(sent[1]["text"], "reply:in a topic");
  EXPECT_EQ(sent[1]["thread_id"], 7);
  EXPECT_TRUE(WaitForWorker(home, "agent:main:telegram:-1001234", ""));
  EXPECT_TRUE(WaitForWorker(home, "agent:main:telegram:-1001234:7", ""));
  EXPECT_EQ(Counter(Status(home), "turns_accepted"), 2);
}

TEST(TelegramConversationTest, StartFailsNamingTheKeyWhenTheTokenIsMissing) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  home.Write("laneway.toml", TelegramConfig(home, tg, "bot_token_env = \"NO_SUCH_TOKEN_VAR\"\n"));
  SupervisorProcess sup(home, TelegramEnv());
  EXPECT_NE(sup.RunToExit(), 0);
  EXPECT_NE(sup.Log().find("channels.telegram.bot_token_env"), std::string::npos) << sup.Log();
  EXPECT_NE(sup.Log().find("NO_SUCH_TOKEN_VAR"), std::string::npos) << sup.Log();
  EXPECT_EQ(sup.Log().find(TelegramDouble::kToken), std::string::npos);  // never logged
  EXPECT_EQ(tg.Stats()["get_me"].get<int>(), 0);
}

// Inodes of the TCP sockets (v4 and v6) that `pid` holds open.
std::set<std::string> TcpSocketsOf(pid_t pid) {
  std::set<std::string> tcp_inodes;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::ifstream f("/proc/" + std::to_string(pid) + table);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream in(line);
      std::string field;
      for (int i = 0; i < 10 && in >> field; ++i) {
      }
      tcp_inodes.insert(field);  // the 10th column is the inode
    }
  }
  std::set<std::string> held;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return held;
  while (dirent* e = ::readdir(d)) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;
    std::string target(buf, static_cast<size_t>(n));
    if (target.rfind("socket:[", 0) != 0) continue;
    std::string inode = target.substr(8, target.size() - 9);
    if (tcp_inodes.count(inode)) held.insert(inode);
  }
  ::closedir(d);
  return held;
}

TEST(TelegramConversationTest, AWorkerInheritsNoConnectionOfTheChannel) {
  TempHome home;
  TelegramDouble tg;
  ASSERT_TRUE(tg.ok());
  SupervisorProcess sup(home, TelegramEnv());
  ASSERT_TRUE(sup.Start(TelegramConfig(home, tg))) << sup.Log();
  tg.Inject(42, "gate hold");  // the poll, typing and send connections are open now
  ASSERT_TRUE(WaitForWorker(home, "agent:main:telegram:42", "busy")) << sup.Log();
  ASSERT_TRUE(WaitFor([&] { return tg.Stats()["actions"].get<int>() >= 1; }));
  EXPECT_FALSE(TcpSocketsOf(sup.pid()).empty()) << "the supervisor holds its Bot API connections";
  const pid_t worker =
      static_cast<pid_t>(IntField(WorkerOf(home, "agent:main:telegram:42"), "pid"));
  EXPECT_TRUE(TcpSocketsOf(worker).empty());
  home.OpenGate();
  ASSERT_TRUE(WaitDelivered(sup, 1)) << sup.Log();
}

}  // namespace
}  // namespace laneway::testing
