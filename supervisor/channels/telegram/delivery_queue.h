// DeliveryQueue: what the channel owes to chats, and the sending of it. An entry is
// a turn's outcome (turn_id > 0: resumable after a crash through BotState::sent,
// confirmed to the core with `delivered`) or a notice (turn_id 0: a refusal or a
// rejection, best effort).
//
// Serve(now) sends whatever is due, piece by piece (message_split.h), the first
// piece as a reply to the user's message. After each piece but the last that
// Telegram confirmed, the count is written to BotState::sent and `save` is called,
// so a crash resumes after the last confirmed piece. Then `confirm` sends `delivered`;
// OnConfirmed() forgets the turn. Failures: 429 waits retry_after; a formatting rejection (400 with
// a parse_mode) is retried as plain text; any other 4xx abandons the entry (logged, still
// confirmed: retrying cannot help and the core would offer it forever); network errors and 5xx back
// off with jitter. One chat's entries go out in order; an entry waiting for a retry holds back only
// its own chat.
//
// Time comes in as arguments and sending through SendFn, so unit tests drive it
// with a fake clock and a scripted Bot API. Single-threaded (the channel thread).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_QUEUE_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_QUEUE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "supervisor/channels/telegram/backoff.h"
#include "supervisor/channels/telegram/bot_api.h"
#include "supervisor/channels/telegram/state_store.h"

namespace laneway::supervisor::telegram {

struct SendRequest {
  std::string chat_id, text, reply_to, thread_id, parse_mode;
};

class DeliveryQueue {
 public:
  using Time = common::SteadyTime;
  using SendFn = std::function<ApiReply(const SendRequest&)>;
  // Sends `delivered` {turn_id}; returns its request id (0 if it could not be sent).
  using ConfirmFn = std::function<int64_t(int64_t turn_id)>;

  struct Options {
    std::string parse_mode;  // "" = plain text
    std::chrono::milliseconds backoff{std::chrono::seconds(1)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
    std::chrono::milliseconds confirm_timeout{std::chrono::seconds(10)};  // resend `delivered`
  };

  DeliveryQueue(Options opt, BotState* state, std::function<void()> save, SendFn send,
                ConfirmFn confirm, const std::atomic<bool>* stop);

  // True if `turn_id` is queued (the core re-offers outcomes; they are not queued twice).
  bool Has(int64_t turn_id) const;
  // `chat_id` empty: nothing to send, only to confirm.
  void Add(int64_t turn_id, const std::string& chat_id, const std::string& reply_to,
           const std::string& thread_id, const std::string& text, Time now);
  // Sends at most `max_sends` messages (attempts, failed ones included), so that the
  // caller's loop gets back to the core's messages and new updates between sends;
  // what is left stays due (NextDue() says now).
  void Serve(Time now, size_t max_sends = SIZE_MAX);
  // The core answered `delivered` request `req`. Returns the turn it confirmed (0 if
  // `req` is not one of ours); the turn is forgotten, also in BotState::sent.
  int64_t OnConfirmed(int64_t req);
  // The core refused `delivered` request `req`: confirm again a little later.
  void OnConfirmFailed(int64_t req, Time now);

  size_t size() const { return entries_.size(); }
  // When Serve() next has something to do (at most `now + cap`).
  Time NextDue(Time now, std::chrono::milliseconds cap) const;
  int64_t messages_sent() const { return messages_sent_; }
  int64_t send_errors() const { return send_errors_; }

 private:
  struct Entry {
    int64_t turn_id = 0;
    std::string chat_id, reply_to, thread_id;
    std::vector<std::string> pieces;
    size_t done = 0;  // pieces Telegram confirmed (from BotState::sent at Add)
    bool plain = false;
    Time next_at{};
    std::unique_ptr<Backoff> backoff;
    int64_t confirm_req = 0;
    Time confirm_sent_at{};
  };
  // Sends what is left of `e`; true when every piece is out (or it was abandoned).
  bool SendPieces(Entry& e, Time now);
  void Confirm(Entry& e, Time now);

  Options opt_;
  BotState* state_;
  std::function<void()> save_;
  SendFn send_;
  ConfirmFn confirm_;
  const std::atomic<bool>* stop_;
  std::deque<Entry> entries_;
  uint32_t seed_ = 1;
  size_t sends_left_ = 0;  // this Serve() call's budget
  int64_t messages_sent_ = 0;
  int64_t send_errors_ = 0;
};

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_DELIVERY_QUEUE_H_
