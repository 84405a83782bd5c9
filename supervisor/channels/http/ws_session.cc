#include "supervisor/channels/http/ws_session.h"

#include "common/log.h"
#include "supervisor/channels/http/auth.h"
#include "supervisor/channels/http/methods.h"
#include "supervisor/channels/http/payloads.h"

namespace laneway::supervisor::http {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using websocket::close_code;

WsSession::WsSession(Gateway& gw, beast::tcp_stream stream, ConnSlot slot)
    : gw_(gw),
      ws_(std::move(stream)),
      slot_(std::move(slot)),
      handshake_timer_(gw.io),
      tick_timer_(gw.io),
      conn_id_(NewUuid()) {
  ++gw_.websockets;
}

WsSession::~WsSession() { --gw_.websockets; }

void WsSession::Run(beast::http::request<beast::http::string_body> req) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = gw_.http.handshake_timeout;
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(gw_.http.max_payload);
  ws_.auto_fragment(false);
  ws_.text(true);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, kGatewayVersion); }));
  ws_.async_accept(req, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->OnAccept(ec);
  });
}

void WsSession::OnAccept(const boost::system::error_code& ec) {
  if (ec) return;  // a bad upgrade; Beast answered it
  SendFrame(EventFrame("connect.challenge", {{"nonce", NewUuid()}, {"ts", UnixMillis()}}, -1));
  handshake_timer_.expires_after(gw_.http.handshake_timeout);
  handshake_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self || self->connected_ || self->closing_) return;
    self->CloseAfterFlush(close_code::policy_error, "connect timeout");
  });
  Read();
}

void WsSession::Read() {
  if (closing_) return;
  ws_.async_read(buffer_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
}

void WsSession::OnRead(const boost::system::error_code& ec, size_t bytes) {
  if (ec) {
    // Closed by the peer, cut by us, or failed by Beast (a frame over
    // read_message_max is answered with close 1009 before we get here).
    if (ec == websocket::error::message_too_big) {
      common::LogLine(common::LogLevel::kInfo, "http_ws_frame_too_large").Kv("conn", conn_id_);
    }
    closing_ = true;
    handshake_timer_.cancel();
    tick_timer_.cancel();
    return;
  }
  if (!ws_.got_text()) {
    buffer_.consume(bytes);
    SendFrame(ResError("", kInvalidRequest, "malformed frame: binary frames are not accepted"));
    return Read();
  }
  std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(bytes);
  HandleText(text);
  Read();
}

void WsSession::HandleText(const std::string& text) {
  std::string id;
  auto req = ParseReq(text, &id);
  if (!req.ok()) {
    SendFrame(ResError(id, kInvalidRequest, req.status().message()));
    if (!connected_) CloseAfterFlush(close_code::policy_error, "invalid handshake");
    return;
  }
  if (!connected_) {
    if (req->method != "connect") {
      SendFrame(ResError(req->id, kInvalidRequest,
                         "invalid handshake: first request must be connect, got " + req->method));
      CloseAfterFlush(close_code::policy_error, "invalid handshake");
      return;
    }
    return HandleConnect(*req);
  }
  gw_.methods->Dispatch(*req, shared_from_this());
}

void WsSession::HandleConnect(const ReqFrame& req) {
  ++gw_.requests_total;
  int64_t min = IntOr(req.params, "minProtocol", kProtocolVersion);
  int64_t max = IntOr(req.params, "maxProtocol", kProtocolVersion);
  if (min > kProtocolVersion || max < kProtocolVersion) {
    SendFrame(ResError(req.id, kInvalidRequest, "protocol mismatch"));
    CloseAfterFlush(close_code::protocol_error, "protocol mismatch");
    return;
  }
  boost::system::error_code ep_ec;
  const auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ep_ec);
  const std::string peer = ep_ec ? std::string("unknown") : ep.address().to_string();
  const auto now = std::chrono::steady_clock::now();
  if (int64_t after = gw_.login_limiter.RetryAfterSeconds(peer, now); after > 0) {
    ++gw_.logins_rate_limited;
    gw_.login_limiter.CountRefusal();
    SendFrame(ResError(req.id, "RATE_LIMITED",
                       "too many failed logins from this address; retry after " +
                           std::to_string(after) + " s"));
    CloseAfterFlush(close_code::policy_error, "rate limited");
    return;
  }
  if (!AuthorizeConnect(gw_.creds, req.params)) {
    ++gw_.auth_failures;
    gw_.login_limiter.RecordFailure(peer, now);
    common::LogLine(common::LogLevel::kWarn, "http_ws_auth_failed").Kv("conn", conn_id_);
    SendFrame(ResError(req.id, kInvalidRequest, "unauthorized: gateway token mismatch"));
    CloseAfterFlush(close_code::policy_error, "unauthorized");
    return;
  }
  connected_ = true;
  handshake_timer_.cancel();
  const int64_t tick_ms = gw_.http.tick_interval.count();
  Json hello = {
      {"type", "hello-ok"},
      {"protocol", kProtocolVersion},
      {"server", {{"version", kGatewayVersion}, {"connId", conn_id_}}},
      {"features",
       {{"methods", ServedMethods()}, {"events", {"connect.challenge", "tick", "agent"}}}},
      {"snapshot",
       {{"presence", Json::array()},
        {"health", Json::object()},
        {"stateVersion", {{"presence", 0}, {"health", 0}}},
        {"uptimeMs", gw_.uptime_ms()}}},
      {"policy",
       {{"maxPayload", gw_.http.max_payload},
        {"maxBufferedBytes", gw_.http.max_buffered_bytes},
        {"tickIntervalMs", tick_ms}}}};
  SendFrame(ResOk(req.id, hello));
  ArmTick();
}

void WsSession::ArmTick() {
  tick_timer_.expires_after(gw_.http.tick_interval);
  tick_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self || self->closing_) return;
    self->SendEvent("tick", {{"ts", UnixMillis()}});
    self->ArmTick();
  });
}

void WsSession::SendFrame(std::string frame) {
  if (closing_ || close_pending_) return;
  if (out_bytes_ + frame.size() > gw_.http.max_buffered_bytes) {
    ++gw_.slow_clients_cut;
    common::LogLine(common::LogLevel::kWarn, "http_slow_client_cut")
        .Kv("conn", conn_id_)
        .Kv("buffered_bytes", static_cast<uint64_t>(out_bytes_));
    return Abort();
  }
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (!writing_) Write();
}

void WsSession::SendEvent(const std::string& event, const Json& payload) {
  SendFrame(EventFrame(event, payload, ++seq_));
}

void WsSession::Write() {
  if (closing_) return;
  if (out_.empty()) {
    if (close_pending_) {
      closing_ = true;
      handshake_timer_.cancel();
      tick_timer_.cancel();
      ws_.async_close(close_reason_,
                      [self = shared_from_this()](const boost::system::error_code&) {});
    }
    return;
  }
  writing_ = true;
  ws_.async_write(boost::asio::buffer(out_.front()),
                  [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                    self->writing_ = false;
                    if (ec) return self->Abort();
                    self->out_bytes_ -= self->out_.front().size();
                    self->out_.pop_front();
                    self->Write();
                  });
}

void WsSession::CloseAfterFlush(close_code code, std::string reason) {
  if (closing_ || close_pending_) return;
  close_pending_ = true;
  close_reason_ = websocket::close_reason(code, reason);
  if (!writing_) Write();
}

void WsSession::Abort() {
  if (closing_ && !writing_) return;
  closing_ = true;
  handshake_timer_.cancel();
  tick_timer_.cancel();
  boost::system::error_code ec;
  beast::get_lowest_layer(ws_).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace laneway::supervisor::http
