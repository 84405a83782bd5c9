// DeliveryText: what the chat sees for a turn's outcome (pure). A reply is sent as
// the agent wrote it; every other status becomes one short sentence, so that a
// user is never left without an answer. Empty replies become "(empty reply)":
// Telegram refuses empty messages, and silence would look like a lost message.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_TEXT_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_TEXT_H_

#include <string>

namespace laneway::supervisor::telegram {

// `status` is an outcome status of docs/protocol.md (replied, failed, timed_out, ...).
std::string DeliveryText(const std::string& status, const std::string& reply,
                         const std::string& error);

// The one refusal a user outside allow_from gets.
std::string RefusalText(int64_t user_id);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_TEXT_H_
