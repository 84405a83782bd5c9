#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/channels/telegram/update_parse.h"

namespace laneway::supervisor::telegram {
namespace {

using nlohmann::json;
using Action = InboundUpdate::Action;

const BotIdentity kBot{777, "laneway_bot"};

json Private(int64_t update_id, int64_t user, const std::string& text) {
  return json{{"update_id", update_id},
              {"message",
               {{"message_id", 10},
                {"date", 1700000000},
                {"from", {{"id", user}, {"is_bot", false}, {"first_name", "U"}}},
                {"chat", {{"id", user}, {"type", "private"}}},
                {"text", text}}}};
}

json Group(int64_t update_id, int64_t user, const std::string& text) {
  json u = Private(update_id, user, text);
  u["message"]["chat"] = {{"id", -100123}, {"type", "supergroup"}, {"title", "g"}};
  return u;
}

UpdatePolicy Policy(bool groups = false) {
  UpdatePolicy p;
  p.agent = "main";
  p.groups = groups;
  return p;
}

TEST(TelegramUpdateTest, PrivateTextMessageBecomesASubmitOnTheChatSession) {
  auto u = ParseUpdate(Private(5, 42, "hi there"), kBot, Policy());
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->action, Action::kSubmit);
  EXPECT_EQ(u->update_id, 5);
  EXPECT_EQ(u->chat_id, "42");
  EXPECT_EQ(u->message_id, "10");
  EXPECT_EQ(u->thread_id, "");
  EXPECT_EQ(u->from_id, 42);
  EXPECT_EQ(u->text, "hi there");
  EXPECT_EQ(u->session, "agent:main:telegram:42");
}

TEST(TelegramUpdateTest, ForumTopicGetsItsOwnSession) {
  json j = Group(6, 42, "@laneway_bot hello");
  j["message"]["is_topic_message"] = true;
  j["message"]["message_thread_id"] = 99;
  auto u = ParseUpdate(j, kBot, Policy(true));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->action, Action::kSubmit);
  EXPECT_EQ(u->thread_id, "99");
  EXPECT_EQ(u->session, "agent:main:telegram:-100123:99");
  EXPECT_EQ(u->text, "hello");
}

TEST(TelegramUpdateTest, UserOutsideAllowFromIsRefusedAndTheTextDropped) {
  UpdatePolicy p = Policy();
  p.allow_everyone = false;
  p.allow_from = {1, 2};
  auto u = ParseUpdate(Private(7, 42, "secret"), kBot, p);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->action, Action::kRefuse);
  EXPECT_EQ(u->from_id, 42);
  EXPECT_TRUE(u->text.empty());
  EXPECT_TRUE(u->session.empty());
  p.allow_from = {42};
  EXPECT_EQ(ParseUpdate(Private(7, 42, "secret"), kBot, p)->action, Action::kSubmit);
}

TEST(TelegramUpdateTest, GroupsAreOffByDefault) {
  auto u = ParseUpdate(Group(8, 42, "@laneway_bot hi"), kBot, Policy(false));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->action, Action::kIgnore);
  EXPECT_EQ(u->reason, "groups_off");
}

TEST(TelegramUpdateTest, InAGroupOnlyAMentionOrAReplyToTheBotIsAnswered) {
  auto plain = ParseUpdate(Group(9, 42, "just chatting"), kBot, Policy(true));
  EXPECT_EQ(plain->action, Action::kIgnore);
  EXPECT_EQ(plain->reason, "group_not_addressed");

  auto other = ParseUpdate(Group(9, 42, "@laneway_botany hi"), kBot, Policy(true));
  EXPECT_EQ(other->action, Action::kIgnore);

  auto mention = ParseUpdate(Group(9, 42, "hey @Laneway_Bot what's up"), kBot, Policy(true));
  EXPECT_EQ(mention->action, Action::kSubmit);
  EXPECT_EQ(mention->text, "hey  what's up");

  json reply = Group(9, 42, "and this?");
  reply["message"]["reply_to_message"] = {{"message_id", 3}, {"from", {{"id", 777}}}};
  EXPECT_EQ(ParseUpdate(reply, kBot, Policy(true))->action, Action::kSubmit);
  reply["message"]["reply_to_message"]["from"]["id"] = 5;
  EXPECT_EQ(ParseUpdate(reply, kBot, Policy(true))->action, Action::kIgnore);
}

TEST(TelegramUpdateTest, NonMessagesAndOddShapesAreIgnoredNotErrors) {
  EXPECT_EQ(ParseUpdate(json{{"update_id", 1}, {"edited_message", json::object()}}, kBot, Policy())
                ->reason,
            "edited");
  EXPECT_EQ(
      ParseUpdate(json{{"update_id", 1}, {"channel_post", json::object()}}, kBot, Policy())->reason,
      "channel_post");
  EXPECT_EQ(ParseUpdate(json{{"update_id", 1}, {"message", "text"}}, kBot, Policy())->reason,
            "not_a_message");
  json no_chat = Private(1, 42, "x");
  no_chat["message"]["chat"]["id"] = "forty-two";
  EXPECT_EQ(ParseUpdate(no_chat, kBot, Policy())->reason, "malformed_message");
  json sticker = Private(1, 42, "");
  sticker["message"].erase("text");
  EXPECT_EQ(ParseUpdate(sticker, kBot, Policy())->reason, "no_text");
  json bot = Private(1, 42, "x");
  bot["message"]["from"]["is_bot"] = true;
  EXPECT_EQ(ParseUpdate(bot, kBot, Policy())->reason, "from_bot");
}

TEST(TelegramUpdateTest, CaptionCountsAsText) {
  json photo = Private(1, 42, "");
  photo["message"].erase("text");
  photo["message"]["caption"] = "look";
  auto u = ParseUpdate(photo, kBot, Policy());
  EXPECT_EQ(u->action, Action::kSubmit);
  EXPECT_EQ(u->text, "look");
}

TEST(TelegramUpdateTest, MissingUpdateIdIsAnError) {
  EXPECT_FALSE(ParseUpdate(json{{"message", json::object()}}, kBot, Policy()).ok());
  EXPECT_FALSE(ParseUpdate(json::array(), kBot, Policy()).ok());
  EXPECT_FALSE(ParseUpdate(json{{"update_id", "5"}}, kBot, Policy()).ok());
}

}  // namespace
}  // namespace laneway::supervisor::telegram
