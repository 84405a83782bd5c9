// TypingPinger: shows "typing" in the chats whose turns are pending, re-sent every
// `interval`, on a thread of its own with its own BotApi, so that a slow
// sendChatAction never delays a reply (sendMessage runs on the channel thread).
//
// Begin() / End() are called from the channel thread; the pinger thread only
// reads the set under its mutex. An entry ends by End() (the outcome arrived) or by
// itself at `until` (a turn whose outcome the channel never saw must not show
// typing forever). Stops within ~50 ms of `stop` (or the destructor).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TYPING_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TYPING_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"

namespace laneway::supervisor::telegram {

class TypingPinger {
 public:
  TypingPinger(std::string api_base, std::string token, std::chrono::milliseconds interval,
               const std::atomic<bool>* stop);
  ~TypingPinger();  // joins (set `stop` first, or it stops by itself here)
  TypingPinger(const TypingPinger&) = delete;
  TypingPinger& operator=(const TypingPinger&) = delete;

  void Begin(int64_t turn_id, const std::string& chat_id, const std::string& thread_id,
             common::SteadyTime until);
  void End(int64_t turn_id);
  size_t size() const;

 private:
  struct Entry {
    std::string chat_id, thread_id;
    common::SteadyTime next_at;
    common::SteadyTime until;
  };
  void Run();

  const std::string api_base_;
  const std::string token_;
  const std::chrono::milliseconds interval_;
  const std::atomic<bool>* stop_;
  std::atomic<bool> quit_{false};
  mutable std::mutex mu_;
  std::map<int64_t, Entry> entries_;  // by turn id
  std::thread thread_;                // last: starts once everything above exists
};

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_TYPING_H_
