// BotApi: a blocking Telegram Bot API client on libcurl, one easy handle per
// instance (connections are kept alive between calls). Each thread that calls the
// API owns its own BotApi; an instance is not thread-safe.
//
// Every call is bounded: `timeout` covers the whole request (for getUpdates it is
// the long-poll time plus a margin, which makes it the poll watchdog: a poll that
// hangs past it is abandoned and the connection dropped), and `cancel` (if given)
// aborts a call in flight within ~50 ms once it turns true (Channel::Stop).
//
// The token is part of every URL (that is the Bot API), so URLs are never logged;
// errors name the method only.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BOT_API_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BOT_API_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace laneway::supervisor::telegram {

struct ApiReply {
  enum class Kind {
    kOk,         // {"ok": true, "result": ...}
    kApiError,   // {"ok": false, "error_code": ..., "description": ...}
    kNetwork,    // connect/transfer failure or a body that is not Bot API JSON
    kTimeout,    // the request did not complete within its timeout
    kCancelled,  // `cancel` turned true
  };
  Kind kind = Kind::kNetwork;
  nlohmann::json result;
  int64_t error_code = 0;     // kApiError: 400, 401, 403, 409, 429, ...
  std::string description;    // kApiError: Telegram's text; otherwise what failed
  int64_t retry_after_s = 0;  // kApiError 429: parameters.retry_after

  bool ok() const { return kind == Kind::kOk; }
};

class BotApi {
 public:
  // `api_base` like "https://api.telegram.org" (no trailing slash).
  BotApi(std::string api_base, std::string token, const std::atomic<bool>* cancel);
  ~BotApi();
  BotApi(const BotApi&) = delete;
  BotApi& operator=(const BotApi&) = delete;

  // POST <api_base>/bot<token>/<method> with a JSON body.
  ApiReply Call(const std::string& method, const nlohmann::json& params,
                std::chrono::milliseconds timeout);

  ApiReply GetMe(std::chrono::milliseconds timeout);
  // offset 0 = none. `poll_s` is the server-side long-poll time.
  ApiReply GetUpdates(int64_t offset, int64_t poll_s, std::chrono::milliseconds timeout);
  // `reply_to` / `thread_id` / `parse_mode` empty = not sent.
  ApiReply SendMessage(const std::string& chat_id, const std::string& text,
                       const std::string& reply_to, const std::string& thread_id,
                       const std::string& parse_mode, std::chrono::milliseconds timeout);
  ApiReply SendChatAction(const std::string& chat_id, const std::string& thread_id,
                          std::chrono::milliseconds timeout);

 private:
  std::string api_base_;
  std::string token_;
  const std::atomic<bool>* cancel_;
  void* curl_ = nullptr;   // CURL*; curl's types are kept out of this header
  void* multi_ = nullptr;  // CURLM*
};

// Once per process, before any BotApi is used from more than one thread.
void InitCurlOnce();

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_BOT_API_H_
