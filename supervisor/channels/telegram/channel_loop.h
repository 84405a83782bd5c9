// ChannelLoop: the body of the Telegram channel thread (see telegram_channel.h for
// the whole flow). Owns the DEALER to the core, the PAIR to the poller (and the
// poller thread itself), the state store, the delivery queue and the typing timers.
// Constructed, run and destroyed on the channel thread; nothing in it is shared
// except the two health structs (mutex-guarded) and the stop flag.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_CHANNEL_LOOP_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_CHANNEL_LOOP_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/value.h"
#include "supervisor/channels/channel.h"
#include "supervisor/channels/telegram/backoff.h"
#include "supervisor/channels/telegram/bot_api.h"
#include "supervisor/channels/telegram/delivery_queue.h"
#include "supervisor/channels/telegram/poller.h"
#include "supervisor/channels/telegram/state_store.h"
#include "supervisor/channels/telegram/telegram_channel.h"
#include "supervisor/channels/telegram/typing.h"
#include "supervisor/channels/telegram/update_parse.h"

namespace zmq {
class socket_t;
}

namespace laneway::supervisor::telegram {

class ChannelLoop {
 public:
  ChannelLoop(const ChannelEnv& env, std::string token, const std::atomic<bool>* stop,
              PollHealth* poll_health, ChannelHealth* health);
  ~ChannelLoop();
  // Returns when `stop` is set (or the zmq context is terminated).
  void Run();

 private:
  using Time = common::SteadyTime;

  // A submit the core has not answered yet.
  struct PendingSubmit {
    InboundUpdate update;
    Time resend_at;         // sent again then, unless answered (accepted or rejected)
    bool deferred = false;  // refused as retryable at least once (logged once)
  };
  bool ConnectBot();  // getMe with back-off; false once stopping
  void Subscribe();
  void StartPoller();
  void HandleBatch(const std::string& batch_json);
  // `deferred`: a resubmit of an update the core refused as retryable.
  void SubmitUpdate(const InboundUpdate& u, bool deferred = false);
  void MaybeCommitBatch();
  void HandleCore(const common::Value& m);
  void OnDelivery(const common::Value& m);
  void QueueText(int64_t turn_id, const std::string& chat_id, const std::string& reply_to,
                 const std::string& thread_id, const std::string& text);
  void ResendStaleSubmits(Time now);
  bool SendCore(common::Value m, int64_t* id_out = nullptr);
  void SaveState();
  void PublishHealth();
  Time NextWake(Time now) const;

  ChannelEnv env_;
  common::TelegramChannelConfig cfg_;
  std::string token_;
  const std::atomic<bool>* stop_;
  PollHealth* poll_health_;
  ChannelHealth* health_;
  common::SystemClock clock_;
  std::unique_ptr<zmq::socket_t> dealer_;
  std::unique_ptr<zmq::socket_t> pair_;
  std::string pair_endpoint_;
  BotApi api_;
  BotIdentity bot_;
  UpdatePolicy policy_;
  std::optional<StateStore> store_;
  std::thread poller_;
  bool poller_started_ = false;

  int64_t next_req_ = 1;
  int64_t subscribe_req_ = 0;
  bool subscribed_ = false;
  Time subscribe_retry_at_{};
  std::map<int64_t, PendingSubmit> submits_;  // by request id
  bool batch_open_ = false;
  int64_t batch_next_offset_ = 0;
  int64_t batch_epoch_ = 0;
  std::unique_ptr<DeliveryQueue> deliveries_;  // once the state store is open
  std::unique_ptr<TypingPinger> typing_;       // once connected
  std::chrono::milliseconds typing_limit_;
};

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_CHANNEL_LOOP_H_
