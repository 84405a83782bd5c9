#include "supervisor/channels/http/http_session.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstring>

#include "common/log.h"
#include "common/protocol.h"
#include "supervisor/channels/http/auth.h"
#include "supervisor/channels/http/core_link.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/openai_http.h"
#include "supervisor/channels/http/page_assets.h"
#include "supervisor/channels/http/ws_session.h"

namespace laneway::supervisor::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

constexpr const char* kJson = "application/json";
constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kReadyzTimeout = std::chrono::seconds(2);
constexpr auto kWriteTimeout = std::chrono::seconds(30);

std::string Serialize(unsigned status, const std::string& content_type, const std::string& body,
                      bool keep_alive, const std::string& extra_headers = "") {
  std::string reason(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  out += "Server: " + std::string(kGatewayVersion) + "\r\n";
  out += "Content-Type: " + content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

std::string ErrorBody(unsigned status, const std::string& type, const std::string& code,
                      const std::string& message) {
  HttpError e;
  e.status = status;
  e.type = type;
  e.code = code;
  e.message = message;
  return OpenAiErrorBody(e);
}

// True when `origin` is empty (not a browser) or names the host the request was
// sent to ("http://127.0.0.1:18789" against Host "127.0.0.1:18789").
bool SameOrigin(const std::string& origin, const std::string& host) {
  if (origin.empty()) return true;
  for (const char* scheme : {"http://", "https://"}) {
    if (origin.rfind(scheme, 0) == 0) return !host.empty() && origin.substr(std::strlen(scheme)) == host;
  }
  return false;
}

}  // namespace

namespace {

// The client's IP address (the login limiter's key), or "unknown".
std::string PeerAddress(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : ep.address().to_string();
}

}  // namespace

HttpSession::HttpSession(Gateway& gw, boost::asio::ip::tcp::socket socket, ConnSlot slot)
    : gw_(gw), stream_(std::move(socket)), slot_(std::move(slot)), conn_id_(NewUuid()) {}

void HttpSession::Run() { Read(); }

void HttpSession::Read() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(gw_.http.max_payload);
  // Slow or idle clients: the whole request (headers and body) within this bound.
  stream_.expires_after(gw_.http.handshake_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->OnRead(ec);
                    });
}

void HttpSession::OnRead(const boost::system::error_code& ec) {
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
      ec == boost::asio::error::operation_aborted) {
    return Close();
  }
  if (ec == bhttp::error::body_limit) {
    keep_alive_ = false;
    return Respond(413, kJson,
                   ErrorBody(413, "invalid_request_error", "payload_too_large",
                             "request body is larger than " + std::to_string(gw_.http.max_payload) +
                                 " bytes"));
  }
  if (ec == bhttp::error::header_limit) {
    keep_alive_ = false;
    return Respond(431, kJson,
                   ErrorBody(431, "invalid_request_error", "headers_too_large",
                             "request headers are larger than 16 KiB"));
  }
  if (ec) {
    keep_alive_ = false;
    return Respond(400, kJson,
                   ErrorBody(400, "invalid_request_error", "bad_request",
                             "malformed HTTP request: " + ec.message()));
  }
  stream_.expires_never();
  ++gw_.requests_total;
  Route();
}

void HttpSession::Route() {
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  std::string target(req.target());
  if (size_t q = target.find('?'); q != std::string::npos) target.resize(q);
  const bool needs_auth = beast::websocket::is_upgrade(req) ||
                          target.rfind("/v1/models", 0) == 0 ||
                          target.rfind("/v1/chat/completions", 0) == 0;
  if (needs_auth) {
    // An address past its failed-login budget is not even heard (login_limiter.h).
    const std::string peer = PeerAddress(stream_.socket());
    if (int64_t after = gw_.login_limiter.RetryAfterSeconds(peer, std::chrono::steady_clock::now());
        after > 0) {
      ++gw_.logins_rate_limited;
      gw_.login_limiter.CountRefusal();
      keep_alive_ = false;
      close_after_write_ = true;
      return Queue(Serialize(429, kJson,
                             ErrorBody(429, "rate_limit_error", "rate_limited",
                                       "too many failed logins from this address; retry after " +
                                           std::to_string(after) + " s"),
                             false, "Retry-After: " + std::to_string(after) + "\r\n"));
    }
  }
  if (beast::websocket::is_upgrade(req)) {
    // A browser says which page opened the socket: only the gateway's own page (or
    // a client that sends no Origin, like the CLI) may, so another site open in the
    // operator's browser cannot drive the gateway.
    if (!SameOrigin(std::string(req[bhttp::field::origin]), std::string(req[bhttp::field::host]))) {
      keep_alive_ = false;
      return Respond(403, kJson,
                     ErrorBody(403, "invalid_request_error", "forbidden_origin",
                               "WebSocket from another origin refused"));
    }
    auto ws = std::make_shared<WsSession>(gw_, std::move(stream_), std::move(slot_));
    closed_ = true;  // the socket now belongs to the WebSocket session
    ws->Run(parser_->release());
    return;
  }
  const auto method = req.method();
  auto only = [&](bhttp::verb v) {
    if (method == v) return true;
    Respond(405, kJson,
            ErrorBody(405, "invalid_request_error", "method_not_allowed",
                      std::string(bhttp::to_string(method)) + " is not allowed on " + target));
    return false;
  };
  if (target == "/healthz") {
    if (only(bhttp::verb::get)) Respond(200, kJson, R"({"ok":true})");
    return;
  }
  if (target == "/readyz") {
    if (only(bhttp::verb::get)) Readyz();
    return;
  }
  if (target == "/metrics") {
    if (!only(bhttp::verb::get)) return;
    if (!AuthorizeBearer(gw_.creds, std::string(req[bhttp::field::authorization]))) {
      ++gw_.auth_failures;
      return Respond(401, kJson,
                     ErrorBody(401, "invalid_request_error", "invalid_api_key",
                               "missing or wrong bearer token"));
    }
    return Metrics();
  }
  if (const PageAsset* asset = FindPageAsset(target)) {
    if (!only(bhttp::verb::get)) return;
    // The page itself is public (it holds no secret); what it shows needs the token.
    if (closed_ || streaming_) return;
    close_after_write_ = !keep_alive_;
    return Queue(Serialize(200, asset->content_type, std::string(asset->body), keep_alive_,
                           kPageHeaders));
  }
  if (target == "/v1/models" || target == "/v1/chat/completions") {
    if (!AuthorizeBearer(gw_.creds, std::string(req[bhttp::field::authorization]))) {
      ++gw_.auth_failures;
      gw_.login_limiter.RecordFailure(PeerAddress(stream_.socket()),
                                      std::chrono::steady_clock::now());
      return Respond(401, kJson,
                     ErrorBody(401, "invalid_request_error", "invalid_api_key",
                               "missing or wrong bearer token"));
    }
    if (target == "/v1/models") {
      if (only(bhttp::verb::get)) Respond(200, kJson, ModelsBody(gw_.config));
      return;
    }
    if (!only(bhttp::verb::post)) return;
    ChatRequest chat;
    std::string header(req["x-laneway-session"]);
    if (auto err = ParseChatRequest(req.body(), header, gw_.config, &chat)) {
      return Respond(err->status, kJson, OpenAiErrorBody(*err));
    }
    return ServeChatCompletion(gw_, std::move(chat), shared_from_this());
  }
  Respond(404, kJson,
          ErrorBody(404, "invalid_request_error", "not_found", "no such endpoint: " + target));
}

void HttpSession::Metrics() {
  // The handler holds the session: nothing else does while the core renders (the
  // core answers every request; CoreLink answers a failed send with an error).
  auto self = shared_from_this();
  gw_.core->Call(common::NewMessage(common::msg::kMetrics), [self](const common::Value& msg) {
    const common::Value* data = msg.Find("data");
    auto text = data ? data->GetStringOr("text", "") : common::Result<std::string>(std::string());
    auto type = data ? data->GetStringOr("content_type", "text/plain")
                     : common::Result<std::string>(std::string("text/plain"));
    if (common::MessageType(msg) != common::msg::kResult || !text.ok() || !type.ok()) {
      self->Respond(503, kJson,
                    ErrorBody(503, "server_error", "unavailable", "the core did not answer"));
    } else {
      self->Respond(200, *type, *text);
    }
    return true;
  });
}

void HttpSession::Readyz() {
  struct Once {
    bool done = false;
    int64_t id = 0;
  };
  auto once = std::make_shared<Once>();
  auto timer = std::make_shared<boost::asio::steady_timer>(gw_.io);
  // The timer's handler holds the session for at most kReadyzTimeout.
  std::weak_ptr<HttpSession> weak = shared_from_this();
  std::shared_ptr<HttpSession> strong = shared_from_this();
  once->id = gw_.core->Call(
      common::NewMessage(common::msg::kStatus), [weak, once, timer](const common::Value& msg) {
        if (once->done) return true;
        once->done = true;
        timer->cancel();
        auto self = weak.lock();
        if (!self) return true;
        const common::Value* data = msg.Find("data");
        const common::Value* journal = data ? data->Find("journal") : nullptr;
        const common::Value* journal_ok = journal ? journal->Find("ok") : nullptr;
        const common::Value* draining = data ? data->Find("shutting_down") : nullptr;
        std::string why;
        if (common::MessageType(msg) != common::msg::kResult) {
          why = "core error";
        } else if (!journal_ok || !journal_ok->is_bool() || !journal_ok->as_bool()) {
          why = "journal not writable";
        } else if (draining && draining->is_bool() && draining->as_bool()) {
          why = "draining";
        }
        if (why.empty()) {
          self->Respond(200, kJson, R"({"ready":true})");
        } else {
          self->Respond(503, kJson, R"({"ready":false,"reason":")" + why + "\"}");
        }
        return true;
      });
  CoreLink* core = gw_.core;
  timer->expires_after(kReadyzTimeout);
  timer->async_wait([strong, once, core](const boost::system::error_code& ec) {
    if (ec || once->done) return;
    std::weak_ptr<HttpSession> weak = strong;
    once->done = true;
    core->Forget(once->id);
    if (auto self = weak.lock()) {
      self->Respond(503, kJson, R"({"ready":false,"reason":"core does not answer"})");
    }
  });
}

void HttpSession::Respond(unsigned status, const std::string& content_type, std::string body) {
  if (closed_ || streaming_) return;
  close_after_write_ = !keep_alive_;
  Queue(Serialize(status, content_type, body, keep_alive_));
}

void HttpSession::BeginEvents() {
  if (closed_ || streaming_) return;
  streaming_ = true;
  keep_alive_ = false;
  Queue("HTTP/1.1 200 OK\r\nServer: " + std::string(kGatewayVersion) +
        "\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: "
        "close\r\n\r\n");
}

void HttpSession::SendEventData(const std::string& data) {
  if (closed_ || !streaming_) return;
  Queue("data: " + data + "\n\n");
}

void HttpSession::EndEvents() {
  if (closed_ || !streaming_) return;
  close_after_write_ = true;
  if (!writing_ && out_.empty()) Close();
}

void HttpSession::Queue(std::string bytes) {
  if (closed_) return;
  if (out_bytes_ + bytes.size() > gw_.http.max_buffered_bytes + gw_.http.max_payload) {
    // A client that stopped reading: cut it rather than grow. (One full response
    // of max_payload always fits.)
    ++gw_.slow_clients_cut;
    common::LogLine(common::LogLevel::kWarn, "http_slow_client_cut")
        .Kv("conn", conn_id_)
        .Kv("buffered_bytes", static_cast<uint64_t>(out_bytes_));
    return Close();
  }
  out_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
  if (!writing_) Write();
}

void HttpSession::Write() {
  if (closed_) return;
  if (out_.empty()) {
    if (close_after_write_) return Close();
    if (!streaming_) Read();  // keep-alive: the next request
    return;
  }
  writing_ = true;
  stream_.expires_after(kWriteTimeout);
  boost::asio::async_write(
      stream_, boost::asio::buffer(out_.front()),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
        self->writing_ = false;
        if (ec) return self->Close();
        self->stream_.expires_never();
        self->out_bytes_ -= self->out_.front().size();
        self->out_.pop_front();
        self->Write();
      });
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace laneway::supervisor::http
