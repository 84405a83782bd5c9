#include "supervisor/channels/telegram/typing.h"

#include <vector>

#include "common/log.h"
#include "supervisor/channels/telegram/bot_api.h"

namespace laneway::supervisor::telegram {

namespace {
constexpr std::chrono::milliseconds kTick{50};
constexpr std::chrono::milliseconds kActionTimeout{5'000};
}  // namespace

TypingPinger::TypingPinger(std::string api_base, std::string token,
                           std::chrono::milliseconds interval, const std::atomic<bool>* stop)
    : api_base_(std::move(api_base)),
      token_(std::move(token)),
      interval_(interval),
      stop_(stop),
      thread_([this] { Run(); }) {}

TypingPinger::~TypingPinger() {
  quit_ = true;
  thread_.join();
}

void TypingPinger::Begin(int64_t turn_id, const std::string& chat_id, const std::string& thread_id,
                         common::SteadyTime until) {
  std::lock_guard<std::mutex> l(mu_);
  if (entries_.count(turn_id)) return;
  entries_[turn_id] = Entry{chat_id, thread_id, std::chrono::steady_clock::now(), until};
}

void TypingPinger::End(int64_t turn_id) {
  std::lock_guard<std::mutex> l(mu_);
  entries_.erase(turn_id);
}

size_t TypingPinger::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

void TypingPinger::Run() {
  // A call in flight aborts when the channel stops (quit_ alone only ends the loop:
  // the destructor runs after `stop` in the channel's order of shutdown).
  BotApi api(api_base_, token_, stop_);
  while (!quit_.load() && !stop_->load()) {
    std::vector<std::pair<std::string, std::string>> due;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (now >= it->second.until) {
          it = entries_.erase(it);
          continue;
        }
        if (now >= it->second.next_at) {
          it->second.next_at = now + interval_;
          due.emplace_back(it->second.chat_id, it->second.thread_id);
        }
        ++it;
      }
    }
    for (const auto& [chat, thread] : due) {
      if (quit_.load() || stop_->load()) break;
      ApiReply r = api.SendChatAction(chat, thread, kActionTimeout);
      if (!r.ok() && r.kind != ApiReply::Kind::kCancelled) {
        common::LogLine(common::LogLevel::kDebug, "telegram_typing_failed")
            .Kv("error", r.description);
      }
    }
    std::this_thread::sleep_for(kTick);
  }
}

}  // namespace laneway::supervisor::telegram
