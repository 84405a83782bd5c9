// TelegramChannel: [channels.telegram], a Bot API long-polling front door.
//
// Threads: the channel thread (owns the DEALER "ch:telegram" to the core, the state
// store and deliveries; every sendMessage happens here), the poller (poller.h;
// getUpdates only) and the typing pinger (typing.h; sendChatAction only). The core thread only
// calls Start/Stop/State/Ready.
//
// The flow, and why it loses nothing and answers nothing twice (docs/telegram.md):
//  1. getMe gives the bot id; the state store for that id gives the offset.
//  2. `subscribe` {channel: "telegram"}: the core sends every unconfirmed outcome of a
//     telegram-origin turn (also from before a restart) as a delivery.
//  3. Each batch from the poller: every message update becomes a `submit` (wait:
//     false, idempotency_key "tg:<bot_id>:<update_id>", origin {kind: channel,
//     channel: telegram, chat_id, message_id, thread_id}); the offset moves past the
//     batch, on disk, only after each of its submits was answered `accepted` (or
//     rejected, which is answered in the chat). A crash before that re-reads the
//     batch, and the idempotency keys attach the re-submits to the same turns.
//  4. Each delivery is split (message_split.h) and sent as a reply to the user's
//     message; after each piece Telegram confirmed, the count of sent pieces is
//     stored, so a delivery cut by a crash resumes after the last confirmed piece;
//     then `delivered` {turn_id}.
//  5. While a turn is pending, "typing" every typing_interval.
//
// Thread-safety: Start/Stop from the core thread; State/Ready from any thread.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TELEGRAM_CHANNEL_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TELEGRAM_CHANNEL_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "supervisor/channels/channel.h"
#include "supervisor/channels/telegram/poller.h"

namespace laneway::supervisor::telegram {

// Counters and status of the channel thread, for State().
struct ChannelHealth {
  mutable std::mutex mu;
  bool connected = false;  // getMe succeeded and the subscription is sent
  int64_t bot_id = 0;
  std::string bot_username;
  std::string error;
  int64_t submitted = 0;
  int64_t rejected = 0;
  int64_t refused = 0;
  int64_t ignored = 0;
  int64_t messages_sent = 0;
  int64_t send_errors = 0;
  int64_t delivered = 0;
  int64_t pending_deliveries = 0;
  int64_t pending_turns = 0;  // accepted, outcome not yet here
  int64_t offset = 0;
};

class TelegramChannel : public Channel {
 public:
  explicit TelegramChannel(const ChannelEnv& env);
  ~TelegramChannel() override;

  const char* kind() const override { return "telegram"; }
  common::Status Start() override;
  void Stop() override;
  common::Value State() const override;
  bool Ready() const override;

 private:
  void Run();

  ChannelEnv env_;
  std::string token_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  PollHealth poll_health_;
  ChannelHealth health_;
};

std::unique_ptr<Channel> MakeTelegramChannel(const ChannelEnv& env);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TELEGRAM_CHANNEL_H_
