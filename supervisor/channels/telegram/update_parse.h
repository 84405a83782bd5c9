// ParseUpdate: what the channel does with one Bot API `Update` object. A pure
// function of the update, the bot's identity and the config's policy; no I/O.
//
//  - kSubmit: a text message (or a captioned one) from an allowed user in a private
//    chat, or in a group when `groups` is on and the bot is mentioned
//    (@username, removed from the text) or replied to. Session:
//    agent:<agent>:telegram:<chat_id>, with :<thread_id> for a forum topic.
//  - kRefuse: the same from a user not in allow_from; nothing reaches the agent.
//  - kIgnore: everything else (edits, channel posts, joins, stickers, groups that
//    are off or do not address the bot); `reason` says which.
// An update without an integer update_id is an error: the caller cannot even move
// past it, and drops the batch's remainder after logging.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_UPDATE_PARSE_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_UPDATE_PARSE_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace laneway::supervisor::telegram {

struct BotIdentity {
  int64_t id = 0;
  std::string username;  // without '@'
};

struct UpdatePolicy {
  std::string agent = "main";
  bool allow_everyone = true;
  std::vector<int64_t> allow_from;
  bool groups = false;
};

struct InboundUpdate {
  enum class Action { kSubmit, kRefuse, kIgnore };
  int64_t update_id = 0;
  Action action = Action::kIgnore;
  std::string reason;      // kIgnore: why ("edited", "no_text", "group_not_addressed", ...)
  std::string chat_id;     // decimal, as the Bot API ids are (may be negative)
  std::string message_id;  // the user's message: the reply is threaded to it
  std::string thread_id;   // forum topic; empty when none
  int64_t from_id = 0;
  std::string text;
  std::string session;  // kSubmit only
};

common::Result<InboundUpdate> ParseUpdate(const nlohmann::json& update, const BotIdentity& bot,
                                          const UpdatePolicy& policy);

// agent:<agent>:telegram:<chat_id>[:<thread_id>]
std::string SessionFor(const std::string& agent, const std::string& chat_id,
                       const std::string& thread_id);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_UPDATE_PARSE_H_
