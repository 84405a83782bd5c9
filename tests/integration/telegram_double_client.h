// TelegramDouble: starts tests/doubles/telegram_double.py (a local Bot API server on
// 127.0.0.1, ephemeral port) for one test, and speaks its control API: inject a
// user's message, read and count what the bot sent. Killed (with its process
// group) when it goes out of scope.
#ifndef LANEWAY_TESTS_INTEGRATION_TELEGRAM_DOUBLE_CLIENT_H_
#define LANEWAY_TESTS_INTEGRATION_TELEGRAM_DOUBLE_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace laneway::testing {

class TelegramDouble {
 public:
  static constexpr const char* kToken = "123456:TEST-token";
  static constexpr int64_t kBotId = 123456;

  TelegramDouble();
  ~TelegramDouble();
  TelegramDouble(const TelegramDouble&) = delete;
  TelegramDouble& operator=(const TelegramDouble&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string api_base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // POST /control/<op> with `body`; the parsed answer (null on a transport error).
  nlohmann::json Control(const std::string& op,
                         const nlohmann::json& body = nlohmann::json::object());
  // A private-chat message from `user` (chat id = user id); returns the update id.
  int64_t Inject(int64_t user, const std::string& text);
  nlohmann::json Sent();  // array of {chat_id, text, reply_to, ...}
  nlohmann::json Stats();
  // Messages the bot sent to `chat` (in order).
  std::vector<std::string> SentTo(int64_t chat);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// The [channels.telegram] table for a double (token from TELEGRAM_BOT_TOKEN).
std::string TelegramTable(const TelegramDouble& d, const std::string& extra = "");

// A whole config: agent "main" runs the Telegram test agent (retry_on_restart on),
// and the channel points at `d`. The agent, by message:
//   gate...  wait for the home's gate (TempHome::OpenGate), then reply
//   long...  reply with 100 paragraphs of 99 characters (10,100 characters)
//   bin...   reply "bad:" + two bytes that are not UTF-8 + "!"
//   fail...  exit 3
//   other    reply at once; every reply is "reply:<message>"
std::string TelegramConfig(const TempHome& home, const TelegramDouble& d,
                           const std::string& channel_extra = "");

// The environment the supervisor needs for it (the bot token).
Env TelegramEnv();

// How often `needle` occurs in `text`.
int CountOf(const std::string& text, const std::string& needle);

}  // namespace laneway::testing

#endif  // LANEWAY_TESTS_INTEGRATION_TELEGRAM_DOUBLE_CLIENT_H_
