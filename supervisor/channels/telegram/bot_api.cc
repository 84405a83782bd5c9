// libcurl adapter: every curl call stays in this file. CURLOPT_NOSIGNAL because
// the supervisor is multi-threaded (curl's signal-based DNS timeout is not
// thread-safe); transfers run through a multi handle so `cancel` reaches a blocked one.
#include "supervisor/channels/telegram/bot_api.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <cstdlib>
#include <mutex>

namespace laneway::supervisor::telegram {

namespace {

using nlohmann::json;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  constexpr size_t kMaxBody = 64 << 20;
  if (body->size() + size * n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

// Every socket curl opens is close-on-exec from birth: the supervisor forks
// workers while this thread may be connecting.
curl_socket_t OpenCloexecSocket(void*, curlsocktype, curl_sockaddr* addr) {
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

// Runs one transfer through a multi handle so that `cancel` is seen within
// kCancelCheck even while the transfer is idle (a long poll): the easy interface
// only calls its progress callback about once a second.
CURLcode Perform(CURLM* m, CURL* c, const std::atomic<bool>* cancel) {
  constexpr int kCancelCheckMs = 50;
  curl_multi_add_handle(m, c);
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(m, &running);
    if (mc != CURLM_OK) {
      result = CURLE_SEND_ERROR;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    if (cancel != nullptr && cancel->load()) {
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(m, nullptr, 0, kCancelCheckMs, nullptr);
  }
  curl_multi_remove_handle(m, c);
  return result;
}

int64_t ToId(const std::string& s) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return end != s.c_str() && *end == '\0' ? v : 0;
}

ApiReply Failure(ApiReply::Kind kind, std::string what) {
  ApiReply r;
  r.kind = kind;
  r.description = std::move(what);
  return r;
}

}  // namespace

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

BotApi::BotApi(std::string api_base, std::string token, const std::atomic<bool>* cancel)
    : api_base_(std::move(api_base)), token_(std::move(token)), cancel_(cancel) {
  InitCurlOnce();
  curl_ = curl_easy_init();
  multi_ = curl_multi_init();  // owns the connection cache: connections are reused
}

BotApi::~BotApi() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

ApiReply BotApi::Call(const std::string& method, const json& params,
                      std::chrono::milliseconds timeout) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr || multi_ == nullptr) {
    return Failure(ApiReply::Kind::kNetwork, method + ": cannot initialise libcurl");
  }
  if (cancel_ != nullptr && cancel_->load()) return Failure(ApiReply::Kind::kCancelled, method);
  curl_easy_reset(c);
  const std::string url = api_base_ + "/bot" + token_ + "/" + method;
  // Invalid UTF-8 (an agent's raw output) is replaced, not thrown about.
  const std::string body = params.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(timeout.count(), 10'000)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenCloexecSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, nullptr);
  CURLcode rc = Perform(static_cast<CURLM*>(multi_), c, cancel_);
  curl_slist_free_all(headers);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Failure(ApiReply::Kind::kCancelled, method);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Failure(ApiReply::Kind::kTimeout,
                   method + ": no answer within " + std::to_string(timeout.count()) + "ms");
  }
  if (rc != CURLE_OK) {
    return Failure(ApiReply::Kind::kNetwork, method + ": " + curl_easy_strerror(rc));
  }
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  json j = json::parse(response, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
    return Failure(ApiReply::Kind::kNetwork,
                   method + ": HTTP " + std::to_string(http) + " without Bot API JSON");
  }
  ApiReply r;
  if (j["ok"].get<bool>()) {
    r.kind = ApiReply::Kind::kOk;
    if (j.contains("result")) r.result = std::move(j["result"]);
    return r;
  }
  r.kind = ApiReply::Kind::kApiError;
  r.error_code = j.contains("error_code") && j["error_code"].is_number_integer()
                     ? j["error_code"].get<int64_t>()
                     : http;
  r.description = j.contains("description") && j["description"].is_string()
                      ? j["description"].get<std::string>()
                      : "error " + std::to_string(r.error_code);
  if (auto p = j.find("parameters"); p != j.end() && p->is_object()) {
    if (auto ra = p->find("retry_after"); ra != p->end() && ra->is_number_integer()) {
      r.retry_after_s = ra->get<int64_t>();
    }
  }
  return r;
}

ApiReply BotApi::GetMe(std::chrono::milliseconds timeout) {
  return Call("getMe", json::object(), timeout);
}

ApiReply BotApi::GetUpdates(int64_t offset, int64_t poll_s, std::chrono::milliseconds timeout) {
  json p = {{"timeout", poll_s}, {"allowed_updates", json::array({"message"})}};
  if (offset != 0) p["offset"] = offset;
  return Call("getUpdates", p, timeout);
}

ApiReply BotApi::SendMessage(const std::string& chat_id, const std::string& text,
                             const std::string& reply_to, const std::string& thread_id,
                             const std::string& parse_mode, std::chrono::milliseconds timeout) {
  json p = {{"chat_id", chat_id}, {"text", text}};
  if (!reply_to.empty()) {
    // A reply to a message that was deleted meanwhile is still sent.
    p["reply_parameters"] = {{"message_id", ToId(reply_to)}, {"allow_sending_without_reply", true}};
  }
  if (!thread_id.empty()) p["message_thread_id"] = ToId(thread_id);
  if (!parse_mode.empty()) p["parse_mode"] = parse_mode;
  return Call("sendMessage", p, timeout);
}

ApiReply BotApi::SendChatAction(const std::string& chat_id, const std::string& thread_id,
                                std::chrono::milliseconds timeout) {
  json p = {{"chat_id", chat_id}, {"action", "typing"}};
  if (!thread_id.empty()) p["message_thread_id"] = ToId(thread_id);
  return Call("sendChatAction", p, timeout);
}

}  // namespace laneway::supervisor::telegram
