// Why this order: the bot id comes first (it keys the stored offset); the
// subscription next (outcomes of turns from before a restart may be waiting); the
// poller last, so that no update is taken from Telegram before its outcome has
// somewhere to go. One batch is in flight at a time: the poller asks for more only
// after the offset is stored past the whole batch, so the offset on disk never
// passes an update whose turn is not journaled.
#include "supervisor/channels/telegram/channel_loop.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <zmq.hpp>

#include "common/log.h"
#include "common/protocol.h"
#include "supervisor/channels/telegram/delivery_text.h"

namespace laneway::supervisor::telegram {

namespace {

using common::LogLevel;
using common::LogLine;
using common::Value;
using std::chrono::milliseconds;

constexpr milliseconds kApiTimeout{30'000};         // getMe, sendMessage, sendChatAction
constexpr milliseconds kCoreAnswerTimeout{10'000};  // resend a submit / delivered after this
constexpr milliseconds kSubscribeRetry{1'000};
constexpr milliseconds kMaxWait{100};  // how often `stop` is looked at
// Sends between two looks at the core and the poller: accepting new updates never
// waits behind a long queue of replies.
constexpr size_t kSendsPerRound = 4;
constexpr size_t kMaxMessageBytes = 64 << 20;

std::string Str(const Value* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return v->as_string();
  if (v->is_int()) return std::to_string(v->as_int());
  return "";
}

}  // namespace

ChannelLoop::ChannelLoop(const ChannelEnv& env, std::string token, const std::atomic<bool>* stop,
                         PollHealth* poll_health, ChannelHealth* health)
    : env_(env),
      cfg_(env.config.channels.telegram),
      token_(std::move(token)),
      stop_(stop),
      poll_health_(poll_health),
      health_(health),
      pair_endpoint_("inproc://laneway-telegram-poller"),
      api_(cfg_.api_base, token_, stop) {
  policy_.agent = cfg_.agent;
  policy_.allow_everyone = cfg_.allow_everyone;
  policy_.allow_from = cfg_.allow_from;
  policy_.groups = cfg_.groups;
  // "typing" stops by itself once the agent's run_timeout (+1 min) has passed
  // without an outcome: the outcome may come later, but the chat should not
  // show typing forever for a turn the channel lost track of.
  const common::AgentConfig* agent = env.config.FindAgent(cfg_.agent);
  typing_limit_ = (agent ? agent->run_timeout : std::chrono::minutes(10)) + std::chrono::minutes(1);
}

ChannelLoop::~ChannelLoop() {
  if (poller_.joinable()) poller_.join();  // `stop` is set before the loop returns
}

void ChannelLoop::Run() {
  try {
    dealer_ = std::make_unique<zmq::socket_t>(*env_.zmq_context, zmq::socket_type::dealer);
    dealer_->set(zmq::sockopt::routing_id, "ch:telegram");
    dealer_->set(zmq::sockopt::linger, 0);
    dealer_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxMessageBytes));
    dealer_->connect(env_.core_endpoint);
    pair_ = std::make_unique<zmq::socket_t>(*env_.zmq_context, zmq::socket_type::pair);
    pair_->set(zmq::sockopt::linger, 0);
    pair_->bind(pair_endpoint_);

    if (!ConnectBot()) return;
    auto store = StateStore::Open(env_.paths.home + "/channels/telegram", bot_.id);
    if (!store.ok()) {
      LogLine(LogLevel::kError, "telegram_state_unreadable").Kv("error", store.status().message());
      std::lock_guard<std::mutex> l(health_->mu);
      health_->error = store.status().message();
      return;
    }
    store_.emplace(std::move(*store));
    DeliveryQueue::Options dq;
    dq.parse_mode = cfg_.parse_mode;
    dq.backoff = cfg_.retry_backoff;
    dq.backoff_max = cfg_.retry_backoff_max;
    dq.confirm_timeout = kCoreAnswerTimeout;
    deliveries_ = std::make_unique<DeliveryQueue>(
        dq, &store_->mutable_state(), [this] { SaveState(); },
        [this](const SendRequest& r) {
          return api_.SendMessage(r.chat_id, r.text, r.reply_to, r.thread_id, r.parse_mode,
                                  kApiTimeout);
        },
        [this](int64_t turn) {
          Value m = common::NewMessage(common::msg::kDelivered);
          m.Set("turn_id", turn);
          int64_t id = 0;
          return SendCore(std::move(m), &id) ? id : int64_t{0};
        },
        stop_);
    typing_ = std::make_unique<TypingPinger>(cfg_.api_base, token_, cfg_.typing_interval, stop_);
    {
      std::lock_guard<std::mutex> l(health_->mu);
      health_->offset = store_->state().offset;
    }
    Subscribe();

    while (!stop_->load()) {
      Time now = clock_.Now();
      auto wait = std::chrono::duration_cast<milliseconds>(NextWake(now) - now);
      wait = std::clamp(wait, milliseconds(0), kMaxWait);
      zmq::pollitem_t items[] = {{dealer_->handle(), 0, ZMQ_POLLIN, 0},
                                 {pair_->handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, wait);
      for (;;) {
        zmq::message_t frame;
        if (!dealer_->recv(frame, zmq::recv_flags::dontwait)) break;
        auto m = common::DecodeMessage(frame.data(), frame.size(), kMaxMessageBytes);
        if (!m.ok()) {
          LogLine(LogLevel::kWarn, "telegram_bad_core_message").Kv("error", m.status().message());
          continue;
        }
        HandleCore(*m);
      }
      zmq::message_t batch;
      if (pair_->recv(batch, zmq::recv_flags::dontwait)) HandleBatch(batch.to_string());
      now = clock_.Now();
      // Subscribe() sets subscribe_retry_at_: an unanswered subscription is sent again.
      if (!subscribed_ && now >= subscribe_retry_at_) Subscribe();
      ResendStaleSubmits(now);
      deliveries_->Serve(now, kSendsPerRound);
      PublishHealth();
    }
  } catch (const std::exception& e) {
    // zmq::error_t (ETERM at shutdown) or a library surprise: the channel stops
    // and says so in State(); the supervisor goes on.
    if (!stop_->load()) {
      LogLine(LogLevel::kError, "telegram_channel_died").Kv("error", e.what());
      std::lock_guard<std::mutex> l(health_->mu);
      health_->error = std::string("channel thread stopped: ") + e.what();
      health_->connected = false;
    }
  }
}

bool ChannelLoop::ConnectBot() {
  Backoff backoff(cfg_.retry_backoff, cfg_.retry_backoff_max,
                  static_cast<uint32_t>(clock_.UnixMillis()));
  while (!stop_->load()) {
    ApiReply r = api_.GetMe(kApiTimeout);
    if (r.ok() && r.result.is_object() && r.result.contains("id") &&
        r.result["id"].is_number_integer()) {
      bot_.id = r.result["id"].get<int64_t>();
      if (r.result.contains("username") && r.result["username"].is_string()) {
        bot_.username = r.result["username"].get<std::string>();
      }
      std::lock_guard<std::mutex> l(health_->mu);
      health_->bot_id = bot_.id;
      health_->bot_username = bot_.username;
      health_->error.clear();
      LogLine(LogLevel::kInfo, "telegram_connected").Kv("bot_id", bot_.id).Kv("bot", bot_.username);
      return true;
    }
    if (r.kind == ApiReply::Kind::kCancelled) return false;
    std::string why = r.kind == ApiReply::Kind::kApiError
                          ? "getMe: " + std::to_string(r.error_code) + " " + r.description
                          : r.description;
    milliseconds wait = r.error_code == 429
                            ? std::chrono::seconds(std::max<int64_t>(1, r.retry_after_s))
                            : backoff.Next();
    {
      std::lock_guard<std::mutex> l(health_->mu);
      health_->error = why;
    }
    LogLine(LogLevel::kWarn, "telegram_getme_failed").Kv("error", why).Kv("retry_ms", wait.count());
    auto end = clock_.Now() + wait;
    while (!stop_->load() && clock_.Now() < end) {
      // Answers from the core are not expected yet; sleeping in poll keeps the
      // thread responsive to `stop`.
      zmq::pollitem_t item{dealer_->handle(), 0, 0, 0};
      zmq::poll(&item, 1, kMaxWait);
    }
  }
  return false;
}

void ChannelLoop::Subscribe() {
  Value m = common::NewMessage(common::msg::kSubscribe);
  m.Set("channel", "telegram");
  int64_t id = 0;
  if (SendCore(std::move(m), &id)) subscribe_req_ = id;
  subscribe_retry_at_ = clock_.Now() + kCoreAnswerTimeout;
}

void ChannelLoop::StartPoller() {
  if (poller_started_) return;
  poller_started_ = true;
  PollerOptions opt;
  opt.api_base = cfg_.api_base;
  opt.token = token_;
  opt.poll_timeout = cfg_.poll_timeout;
  opt.watchdog_margin = cfg_.watchdog_margin;
  opt.backoff = cfg_.retry_backoff;
  opt.backoff_max = cfg_.retry_backoff_max;
  const int64_t offset = store_->state().offset;
  poller_ = std::thread([opt, ctx = env_.zmq_context, ep = pair_endpoint_, offset, stop = stop_,
                         health = poll_health_] { RunPoller(opt, ctx, ep, offset, stop, health); });
}

void ChannelLoop::HandleBatch(const std::string& batch_json) {
  nlohmann::json batch = nlohmann::json::parse(batch_json, nullptr, false);
  if (!batch.is_array()) return;  // the poller only sends arrays
  std::vector<int64_t> ids;
  for (const auto& u : batch) {
    ids.push_back(u.is_object() && u.contains("update_id") && u["update_id"].is_number_integer()
                      ? u["update_id"].get<int64_t>()
                      : -1);
  }
  BotState& st = store_->mutable_state();
  BatchPlan plan = PlanBatch(st.offset, ids);
  if (plan.reset) {
    LogLine(LogLevel::kWarn, "telegram_offset_reset")
        .Kv("stored_offset", st.offset)
        .Kv("first_update", ids.front());
  }
  batch_open_ = true;
  // Derived from the stored epoch, not counted in memory: a batch re-read after a
  // crash gets the same keys again, and attaches.
  batch_epoch_ = plan.reset ? st.epoch + 1 : st.epoch;
  batch_next_offset_ = plan.reset ? 0 : st.offset;
  for (int64_t id : ids) batch_next_offset_ = std::max(batch_next_offset_, id + 1);
  for (size_t i : plan.process) {
    auto u = ParseUpdate(batch[i], bot_, policy_);
    if (!u.ok()) {
      LogLine(LogLevel::kWarn, "telegram_bad_update").Kv("error", u.status().message());
      continue;
    }
    switch (u->action) {
      case InboundUpdate::Action::kSubmit:
        SubmitUpdate(*u);
        break;
      case InboundUpdate::Action::kRefuse: {
        LogLine(LogLevel::kInfo, "telegram_refused")
            .Kv("user", u->from_id)
            .Kv("chat", u->chat_id)
            .Kv("update", u->update_id);
        std::lock_guard<std::mutex> l(health_->mu);
        ++health_->refused;
        if (st.refused.insert(u->from_id).second) {  // stored with the offset below
          QueueText(0, u->chat_id, u->message_id, u->thread_id, RefusalText(u->from_id));
        }
        break;
      }
      case InboundUpdate::Action::kIgnore: {
        LogLine(LogLevel::kDebug, "telegram_ignored")
            .Kv("update", u->update_id)
            .Kv("reason", u->reason);
        std::lock_guard<std::mutex> l(health_->mu);
        ++health_->ignored;
        break;
      }
    }
  }
  MaybeCommitBatch();
}

void ChannelLoop::SubmitUpdate(const InboundUpdate& u, bool deferred) {
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("agent", cfg_.agent);
  m.Set("session", u.session);
  m.Set("message", u.text);
  m.Set("wait", false);
  m.Set("idempotency_key", IdempotencyKey(bot_.id, u.update_id, batch_epoch_));
  Value origin = Value::MakeMap();
  origin.Set("kind", "channel");
  origin.Set("channel", "telegram");
  origin.Set("chat_id", u.chat_id);
  origin.Set("message_id", u.message_id);
  if (!u.thread_id.empty()) origin.Set("thread_id", u.thread_id);
  m.Set("origin", std::move(origin));
  int64_t id = 0;
  SendCore(std::move(m), &id);  // a failed send is retried by ResendStaleSubmits
  submits_[id] = PendingSubmit{u, clock_.Now() + kCoreAnswerTimeout, deferred};
}

void ChannelLoop::MaybeCommitBatch() {
  if (!batch_open_ || !submits_.empty()) return;
  batch_open_ = false;
  store_->mutable_state().offset = batch_next_offset_;
  store_->mutable_state().epoch = batch_epoch_;
  SaveState();
  {
    std::lock_guard<std::mutex> l(health_->mu);
    health_->offset = batch_next_offset_;
  }
  const std::string text = std::to_string(batch_next_offset_);
  (void)pair_->send(zmq::buffer(text), zmq::send_flags::dontwait);
}

void ChannelLoop::HandleCore(const Value& m) {
  const std::string& type = common::MessageType(m);
  const int64_t id = m.GetIntOr("id", 0).value();
  if (type == common::msg::kAccepted) {
    auto it = submits_.find(id);
    if (it == submits_.end()) return;  // a resent submit answered twice
    const int64_t turn = m.GetIntOr("turn_id", 0).value();
    const InboundUpdate& u = it->second.update;
    const bool attached = m.GetBoolOr("attached", false).value();
    LogLine(LogLevel::kInfo, "telegram_turn_accepted")
        .Kv("turn", turn)
        .Kv("update", u.update_id)
        .Kv("session", u.session)
        .Kv("attached", attached ? "yes" : "no");
    // A re-submit after a restart attaches to a turn that may have ended (and been
    // delivered) long ago: no "typing" for it, as no outcome may follow to stop it.
    if (turn > 0 && !attached) {
      typing_->Begin(turn, u.chat_id, u.thread_id, clock_.Now() + typing_limit_);
    }
    {
      std::lock_guard<std::mutex> l(health_->mu);
      ++health_->submitted;
    }
    submits_.erase(it);
    MaybeCommitBatch();
  } else if (type == common::msg::kOutcome) {
    if (m.GetBoolOr("delivery", false).value()) {
      OnDelivery(m);
      return;
    }
    auto it = submits_.find(id);
    if (it == submits_.end()) return;
    const InboundUpdate& u = it->second.update;
    const std::string error = m.GetStringOr("error", "").value();
    if (m.GetBoolOr("retryable", false).value()) {
      // Refused for now (the journal cannot be written): not the user's to retry.
      // The update stays unconfirmed (the offset does not pass it) and is submitted
      // again after the back-off, until it is taken; nothing is said in the chat.
      if (!it->second.deferred) {
        LogLine(LogLevel::kWarn, "telegram_submit_deferred")
            .Kv("update", u.update_id)
            .Kv("error", error)
            .Kv("retry_ms", cfg_.retry_backoff.count());
      }
      it->second.deferred = true;
      it->second.resend_at = clock_.Now() + cfg_.retry_backoff;
      return;
    }
    // Rejected before acceptance (queue full, unknown agent...): there is no turn
    // for the core to deliver, so the channel answers it itself.
    LogLine(LogLevel::kWarn, "telegram_submit_rejected")
        .Kv("update", u.update_id)
        .Kv("error", error);
    QueueText(0, u.chat_id, u.message_id, u.thread_id,
              DeliveryText(m.GetStringOr("status", "rejected").value(), "", error));
    {
      std::lock_guard<std::mutex> l(health_->mu);
      ++health_->rejected;
    }
    submits_.erase(it);
    MaybeCommitBatch();
  } else if (type == common::msg::kResult) {
    if (id != 0 && id == subscribe_req_) {
      subscribe_req_ = 0;
      subscribed_ = true;
      const Value* data = m.Find("data");
      LogLine(LogLevel::kInfo, "telegram_subscribed")
          .Kv("pending", data ? data->GetIntOr("pending", 0).value() : 0);
      {
        std::lock_guard<std::mutex> l(health_->mu);
        health_->connected = true;
        health_->error.clear();
      }
      StartPoller();
      return;
    }
    if (deliveries_->OnConfirmed(id) != 0) {
      std::lock_guard<std::mutex> l(health_->mu);
      ++health_->delivered;
    }
  } else if (type == common::msg::kError) {
    const std::string error = m.GetStringOr("error", "").value();
    if (id != 0 && id == subscribe_req_) {
      subscribe_req_ = 0;
      subscribe_retry_at_ = clock_.Now() + kSubscribeRetry;
      LogLine(LogLevel::kError, "telegram_subscribe_failed").Kv("error", error);
      std::lock_guard<std::mutex> l(health_->mu);
      health_->error = "subscribe: " + error;
      return;
    }
    auto it = submits_.find(id);
    if (it != submits_.end()) {
      const InboundUpdate& u = it->second.update;
      LogLine(LogLevel::kWarn, "telegram_submit_error")
          .Kv("update", u.update_id)
          .Kv("error", error);
      QueueText(0, u.chat_id, u.message_id, u.thread_id, DeliveryText("rejected", "", error));
      submits_.erase(it);
      MaybeCommitBatch();
      return;
    }
    deliveries_->OnConfirmFailed(id, clock_.Now());
  }
}

void ChannelLoop::OnDelivery(const Value& m) {
  const int64_t turn = m.GetIntOr("turn_id", 0).value();
  if (turn <= 0) return;
  typing_->End(turn);
  if (deliveries_->Has(turn)) return;  // re-offered by the core while we still work on it
  const Value* origin = m.Find("origin");
  const std::string chat = origin ? Str(origin->Find("chat_id")) : "";
  const std::string status = m.GetStringOr("status", "failed").value();
  if (chat.empty()) {
    // Nowhere to send it: confirm, or the core re-sends it forever.
    LogLine(LogLevel::kWarn, "telegram_delivery_without_chat").Kv("turn", turn);
    QueueText(turn, "", "", "", "");
    return;
  }
  QueueText(
      turn, chat, Str(origin->Find("message_id")), Str(origin->Find("thread_id")),
      DeliveryText(status, m.GetStringOr("reply", "").value(), m.GetStringOr("error", "").value()));
}

void ChannelLoop::QueueText(int64_t turn_id, const std::string& chat_id,
                            const std::string& reply_to, const std::string& thread_id,
                            const std::string& text) {
  deliveries_->Add(turn_id, chat_id, reply_to, thread_id, text, clock_.Now());
}

void ChannelLoop::ResendStaleSubmits(Time now) {
  std::vector<int64_t> stale;
  for (const auto& [id, p] : submits_) {
    if (now >= p.resend_at) stale.push_back(id);
  }
  for (int64_t id : stale) {
    InboundUpdate u = submits_[id].update;
    const bool deferred = submits_[id].deferred;
    submits_.erase(id);
    if (!deferred) LogLine(LogLevel::kWarn, "telegram_submit_resent").Kv("update", u.update_id);
    SubmitUpdate(u, deferred);  // the idempotency key attaches it to the first, if that got in
  }
}

bool ChannelLoop::SendCore(Value m, int64_t* id_out) {
  const int64_t id = next_req_++;
  m.Set("id", id);
  if (id_out != nullptr) *id_out = id;
  const std::string bytes = common::EncodeMessage(m);
  if (!dealer_->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
    LogLine(LogLevel::kWarn, "telegram_core_send_failed").Kv("type", common::MessageType(m));
    return false;
  }
  return true;
}

void ChannelLoop::SaveState() {
  common::Status st = store_->Save();
  if (!st.ok()) {
    // Not fatal for this run (memory is ahead of disk); after a crash the older
    // offset re-reads updates, and their idempotency keys attach them.
    LogLine(LogLevel::kError, "telegram_state_write_failed").Kv("error", st.message());
    std::lock_guard<std::mutex> l(health_->mu);
    health_->error = st.message();
  }
}

void ChannelLoop::PublishHealth() {
  std::lock_guard<std::mutex> l(health_->mu);
  health_->pending_deliveries = static_cast<int64_t>(deliveries_->size());
  health_->messages_sent = deliveries_->messages_sent();
  health_->send_errors = deliveries_->send_errors();
  health_->pending_turns = static_cast<int64_t>(typing_->size());
}

ChannelLoop::Time ChannelLoop::NextWake(Time now) const {
  return deliveries_ ? deliveries_->NextDue(now, kMaxWait) : now + kMaxWait;
}

}  // namespace laneway::supervisor::telegram
