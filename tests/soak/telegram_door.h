// TelegramDoor: the soak's Telegram front door. Run() injects user messages (one
// turn of the budget each) into tests/doubles/telegram_double.py, in `chats`
// private chats, keeping at most `max_outstanding` unanswered. Check() waits
// (bounded) until every injected update was answered, then checks what the bot
// sent: each update answered exactly once (a repeat is tolerated only as often as
// the supervisor was SIGKILLed, the window docs/telegram.md names), every reply
// in the chat it came from and carrying its own token.
//
// Thread-safety: Run() on one thread; Check() after it returned.
#ifndef LANEWAY_TESTS_SOAK_TELEGRAM_DOOR_H_
#define LANEWAY_TESTS_SOAK_TELEGRAM_DOOR_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "tests/integration/telegram_double_client.h"
#include "tests/soak/soak.h"

namespace laneway::soak {

class TelegramDoor {
 public:
  explicit TelegramDoor(testing::TelegramDouble& d);
  ~TelegramDoor();

  void Run(Shared& sh, int chats, int max_outstanding);

  struct Result {
    int64_t answered = 0;
    int64_t unanswered = 0;
    int64_t repeated = 0;             // replies sent more than once
    int64_t unexplained_repeats = 0;  // of those, not soon after a supervisor kill
  };
  // `kill_times`: Shared::kill_times.
  Result Check(Ledger& ledger, const std::vector<double>& kill_times, std::chrono::seconds wait);

 private:
  struct State;
  int64_t Answered(const nlohmann::json& sent);
  testing::TelegramDouble& double_;
  std::unique_ptr<State> state_;
};

}  // namespace laneway::soak

#endif  // LANEWAY_TESTS_SOAK_TELEGRAM_DOOR_H_
