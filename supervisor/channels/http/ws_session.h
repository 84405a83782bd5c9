// WsSession: one WebSocket client speaking protocol 3 (GATEWAY-PROTOCOL.md).
//
// Life: accept the upgrade -> send connect.challenge -> the first request must be
// `connect` within handshake_timeout (else close 1008) -> protocol range checked
// (close 1002) -> credentials checked (close 1008) -> hello-ok, then a tick every
// tick_interval until the socket closes, and every other request through the
// MethodTable. A frame over max_payload is closed with 1009 by Beast itself.
//
// Output is queued; a client whose unsent bytes pass max_buffered_bytes (one that
// stopped reading) is cut off instead of growing memory. Runs on the channel
// thread only; kept alive by its pending operations (shared_from_this).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_WS_SESSION_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_WS_SESSION_H_

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

#include "supervisor/channels/http/conn_slot.h"
#include "supervisor/channels/http/connection.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/gateway.h"

namespace laneway::supervisor::http {

class WsSession : public std::enable_shared_from_this<WsSession>, public Connection {
 public:
  WsSession(Gateway& gw, boost::beast::tcp_stream stream, ConnSlot slot);
  ~WsSession() override;

  // Completes the upgrade of `req` (already read by the HTTP session).
  void Run(boost::beast::http::request<boost::beast::http::string_body> req);

  void SendFrame(std::string frame) override;
  void SendEvent(const std::string& event, const Json& payload) override;
  const std::string& conn_id() const override { return conn_id_; }

 private:
  void OnAccept(const boost::system::error_code& ec);
  void Read();
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void HandleText(const std::string& text);
  void HandleConnect(const ReqFrame& req);
  void ArmTick();
  void Write();
  // Sends what is queued, then closes with `code`.
  void CloseAfterFlush(boost::beast::websocket::close_code code, std::string reason);
  void Abort();

  Gateway& gw_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  ConnSlot slot_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;
  bool writing_ = false;
  bool connected_ = false;  // `connect` accepted
  bool closing_ = false;
  bool close_pending_ = false;
  boost::beast::websocket::close_reason close_reason_;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer tick_timer_;
  int64_t seq_ = 0;
  std::string conn_id_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_WS_SESSION_H_
