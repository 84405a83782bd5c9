// Every field is read with a type check: the Bot API is outside input, and a
// surprising shape must become kIgnore (or an error), never an exception.
#include "supervisor/channels/telegram/update_parse.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace laneway::supervisor::telegram {

namespace {

using nlohmann::json;

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool GetInt(const json& obj, const char* key, int64_t* out) {
  const json* f = Field(obj, key);
  if (f == nullptr || !f->is_number_integer()) return false;
  *out = f->get<int64_t>();
  return true;
}

std::string GetString(const json& obj, const char* key) {
  const json* f = Field(obj, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

bool GetBool(const json& obj, const char* key) {
  const json* f = Field(obj, key);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Removes every "@username" (any case, not a prefix of a longer name) from text
// and trims it; true if there was one.
bool StripMention(std::string* text, const std::string& username) {
  if (username.empty()) return false;
  const std::string needle = "@" + Lower(username);
  const std::string lower = Lower(*text);
  std::string out;
  bool found = false;
  size_t i = 0;
  while (i < text->size()) {
    if (lower.compare(i, needle.size(), needle) == 0) {
      size_t end = i + needle.size();
      bool longer = end < lower.size() &&
                    (std::isalnum(static_cast<unsigned char>(lower[end])) || lower[end] == '_');
      if (!longer) {
        found = true;
        i = end;
        continue;
      }
    }
    out.push_back((*text)[i++]);
  }
  if (!found) return false;
  size_t b = out.find_first_not_of(" \t\n");
  size_t e = out.find_last_not_of(" \t\n");
  *text = b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
  return true;
}

InboundUpdate Ignore(InboundUpdate u, const char* reason) {
  u.action = InboundUpdate::Action::kIgnore;
  u.reason = reason;
  return u;
}

}  // namespace

std::string SessionFor(const std::string& agent, const std::string& chat_id,
                       const std::string& thread_id) {
  std::string s = "agent:" + agent + ":telegram:" + chat_id;
  if (!thread_id.empty()) s += ":" + thread_id;
  return s;
}

common::Result<InboundUpdate> ParseUpdate(const json& update, const BotIdentity& bot,
                                          const UpdatePolicy& policy) {
  InboundUpdate u;
  if (!GetInt(update, "update_id", &u.update_id)) {
    return common::Status::InvalidArgument("update without an integer update_id");
  }
  const json* message = Field(update, "message");
  if (message == nullptr || !message->is_object()) {
    if (Field(update, "edited_message") != nullptr) return Ignore(u, "edited");
    if (Field(update, "channel_post") != nullptr) return Ignore(u, "channel_post");
    return Ignore(u, "not_a_message");
  }
  const json* chat = Field(*message, "chat");
  int64_t chat_id = 0, message_id = 0;
  if (chat == nullptr || !GetInt(*chat, "id", &chat_id) ||
      !GetInt(*message, "message_id", &message_id)) {
    return Ignore(u, "malformed_message");
  }
  u.chat_id = std::to_string(chat_id);
  u.message_id = std::to_string(message_id);
  int64_t thread = 0;
  if (GetBool(*message, "is_topic_message") && GetInt(*message, "message_thread_id", &thread)) {
    u.thread_id = std::to_string(thread);
  }
  const json* from = Field(*message, "from");
  if (from == nullptr || !GetInt(*from, "id", &u.from_id)) return Ignore(u, "no_sender");
  if (GetBool(*from, "is_bot")) return Ignore(u, "from_bot");

  u.text = GetString(*message, "text");
  if (u.text.empty()) u.text = GetString(*message, "caption");

  const std::string type = GetString(*chat, "type");
  if (type == "group" || type == "supergroup") {
    if (!policy.groups) return Ignore(u, "groups_off");
    bool mentioned = StripMention(&u.text, bot.username);
    bool replied_to_bot = false;
    if (const json* replied = Field(*message, "reply_to_message")) {
      int64_t replied_from = 0;
      const json* rfrom = Field(*replied, "from");
      replied_to_bot = rfrom != nullptr && GetInt(*rfrom, "id", &replied_from) &&
                       replied_from == bot.id && bot.id != 0;
    }
    if (!mentioned && !replied_to_bot) return Ignore(u, "group_not_addressed");
  } else if (type != "private") {
    return Ignore(u, "chat_type");
  }
  if (u.text.empty()) return Ignore(u, "no_text");

  bool allowed = policy.allow_everyone ||
                 std::find(policy.allow_from.begin(), policy.allow_from.end(), u.from_id) !=
                     policy.allow_from.end();
  if (!allowed) {
    u.action = InboundUpdate::Action::kRefuse;
    u.text.clear();  // the agent never sees it, and neither do the logs
    return u;
  }
  u.action = InboundUpdate::Action::kSubmit;
  u.session = SessionFor(policy.agent, u.chat_id, u.thread_id);
  return u;
}

}  // namespace laneway::supervisor::telegram
