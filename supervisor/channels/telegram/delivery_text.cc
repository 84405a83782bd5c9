#include "supervisor/channels/telegram/delivery_text.h"

#include <cstdint>

#include "supervisor/channels/telegram/message_split.h"

namespace laneway::supervisor::telegram {

namespace {

// Errors can be long (a runner's stderr); the chat gets the start of it.
std::string Short(const std::string& error) {
  constexpr size_t kMax = 300;
  if (error.empty()) return "no details";
  std::vector<std::string> head = SplitMessage(error, kMax);
  return head.size() > 1 ? head[0] + " …" : head[0];
}

}  // namespace

std::string DeliveryText(const std::string& status, const std::string& reply,
                         const std::string& error) {
  if (status == "replied") {
    bool blank = reply.find_first_not_of(" \t\r\n") == std::string::npos;
    return blank ? "(empty reply)" : reply;
  }
  if (status == "timed_out") return "Sorry, that took too long and was stopped. Please try again.";
  if (status == "cancelled") return "That message was cancelled before it was answered.";
  if (status == "interrupted") {
    return "Sorry, that message was interrupted by a restart. Please send it again.";
  }
  if (status == "rejected") return "Sorry, I could not take that message: " + Short(error);
  return "Sorry, that message failed: " + Short(error);
}

std::string RefusalText(int64_t user_id) {
  return "Sorry, this bot only answers its allowed users. Your Telegram user id is " +
         std::to_string(user_id) + "; ask the bot's owner to add it to allow_from.";
}

}  // namespace laneway::supervisor::telegram
