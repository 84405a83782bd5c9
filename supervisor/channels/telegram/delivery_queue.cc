#include "supervisor/channels/telegram/delivery_queue.h"

#include <algorithm>
#include <set>

#include "common/log.h"
#include "supervisor/channels/telegram/message_split.h"

namespace laneway::supervisor::telegram {

using common::LogLevel;
using common::LogLine;

DeliveryQueue::DeliveryQueue(Options opt, BotState* state, std::function<void()> save, SendFn send,
                             ConfirmFn confirm, const std::atomic<bool>* stop)
    : opt_(std::move(opt)),
      state_(state),
      save_(std::move(save)),
      send_(std::move(send)),
      confirm_(std::move(confirm)),
      stop_(stop) {}

bool DeliveryQueue::Has(int64_t turn_id) const {
  return turn_id > 0 && std::any_of(entries_.begin(), entries_.end(),
                                    [&](const Entry& e) { return e.turn_id == turn_id; });
}

void DeliveryQueue::Add(int64_t turn_id, const std::string& chat_id, const std::string& reply_to,
                        const std::string& thread_id, const std::string& text, Time now) {
  Entry e;
  e.turn_id = turn_id;
  e.chat_id = chat_id;
  e.reply_to = reply_to;
  e.thread_id = thread_id;
  if (!chat_id.empty()) e.pieces = SplitMessage(text);
  if (auto it = state_->sent.find(turn_id); turn_id > 0 && it != state_->sent.end()) {
    e.done = static_cast<size_t>(std::max<int64_t>(0, it->second));
  }
  e.next_at = now;
  e.backoff = std::make_unique<Backoff>(opt_.backoff, opt_.backoff_max,
                                        seed_++ * 7919u + static_cast<uint32_t>(turn_id));
  entries_.push_back(std::move(e));
}

void DeliveryQueue::Serve(Time now, size_t max_sends) {
  sends_left_ = max_sends;
  std::set<std::string> blocked;
  for (auto it = entries_.begin(); it != entries_.end() && sends_left_ > 0;) {
    Entry& e = *it;
    if (blocked.count(e.chat_id)) {
      ++it;
      continue;
    }
    if (e.confirm_req != 0) {
      // Every piece is out; only the core's answer to `delivered` is missing.
      if (now - e.confirm_sent_at > opt_.confirm_timeout) Confirm(e, now);
      ++it;
      continue;
    }
    if (now < e.next_at || !SendPieces(e, now)) {
      blocked.insert(e.chat_id);
      ++it;
      continue;
    }
    if (e.turn_id == 0) {
      it = entries_.erase(it);
      continue;
    }
    Confirm(e, now);
    ++it;
  }
}

bool DeliveryQueue::SendPieces(Entry& e, Time now) {
  size_t& done = e.done;
  while (done < e.pieces.size()) {
    if (stop_ != nullptr && stop_->load()) return false;
    if (sends_left_ == 0) return false;  // still due: the next Serve() goes on
    --sends_left_;
    const std::string parse_mode = e.plain ? "" : opt_.parse_mode;
    ApiReply r = send_(SendRequest{e.chat_id, e.pieces[done], done == 0 ? e.reply_to : "",
                                   e.thread_id, parse_mode});
    if (r.ok()) {
      ++done;
      ++messages_sent_;
      e.backoff->Reset();
      if (e.turn_id > 0 && done < e.pieces.size()) {
        // Stored before the next piece: after a crash, the pieces Telegram confirmed
        // are not sent again. Not after the last one: `delivered` follows at once and
        // the core's journal sync is as short a window as ours, so a one-piece
        // reply costs no fsync here.
        state_->sent[e.turn_id] = static_cast<int64_t>(done);
        save_();
      }
      continue;
    }
    if (r.kind == ApiReply::Kind::kCancelled) return false;
    ++send_errors_;
    if (r.kind == ApiReply::Kind::kApiError && r.error_code == 400 && !parse_mode.empty()) {
      LogLine(LogLevel::kWarn, "telegram_format_rejected")
          .Kv("turn", e.turn_id)
          .Kv("error", r.description);
      e.plain = true;  // the same piece again, as plain text
      continue;
    }
    if (r.kind == ApiReply::Kind::kApiError && r.error_code == 429) {
      e.next_at = now + std::chrono::seconds(std::max<int64_t>(1, r.retry_after_s));
      LogLine(LogLevel::kWarn, "telegram_rate_limited")
          .Kv("method", "sendMessage")
          .Kv("retry_after_s", r.retry_after_s);
      return false;
    }
    if (r.kind == ApiReply::Kind::kApiError && r.error_code >= 400 && r.error_code < 500) {
      LogLine(LogLevel::kError, "telegram_delivery_abandoned")
          .Kv("turn", e.turn_id)
          .Kv("chat", e.chat_id)
          .Kv("code", r.error_code)
          .Kv("error", r.description);
      return true;
    }
    std::chrono::milliseconds wait = e.backoff->Next();
    e.next_at = now + wait;
    LogLine(LogLevel::kWarn, "telegram_send_failed")
        .Kv("turn", e.turn_id)
        .Kv("chat", e.chat_id)
        .Kv("error", r.description)
        .Kv("retry_ms", wait.count());
    return false;
  }
  return true;
}

void DeliveryQueue::Confirm(Entry& e, Time now) {
  e.confirm_req = confirm_(e.turn_id);
  e.confirm_sent_at = now;
  if (e.confirm_req == 0) e.next_at = now + opt_.backoff;  // not sent: Serve tries again
}

int64_t DeliveryQueue::OnConfirmed(int64_t req) {
  if (req == 0) return 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->confirm_req != req) continue;
    const int64_t turn = it->turn_id;
    LogLine(LogLevel::kInfo, "telegram_delivered")
        .Kv("turn", turn)
        .Kv("pieces", static_cast<int64_t>(it->pieces.size()));
    if (state_->sent.erase(turn) > 0) save_();
    entries_.erase(it);
    return turn;
  }
  return 0;
}

void DeliveryQueue::OnConfirmFailed(int64_t req, Time now) {
  for (Entry& e : entries_) {
    if (req != 0 && e.confirm_req == req) {
      e.confirm_req = 0;
      e.next_at = now + opt_.backoff;
    }
  }
}

DeliveryQueue::Time DeliveryQueue::NextDue(Time now, std::chrono::milliseconds cap) const {
  Time next = now + cap;
  for (const Entry& e : entries_) {
    if (e.confirm_req == 0) next = std::min(next, e.next_at);
  }
  return next;
}

}  // namespace laneway::supervisor::telegram
