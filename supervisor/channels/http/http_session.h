// HttpSession: one TCP connection on the gateway port until it upgrades to a
// WebSocket (handed to WsSession) or closes. Serves, one request at a time:
//   GET  /healthz               the process answers (no auth)
//   GET  /readyz                200 when the core answers, its journal is writable
//                               and it is not draining; 503 otherwise (no auth)
//   GET  /v1/models             (Bearer token)
//   POST /v1/chat/completions   (Bearer token; openai_http.h)
//   GET  /metrics               Prometheus text 0.0.4 from the core (Bearer token)
//   GET  /, /page.css, /page.js the control page (page_assets.h; it logs in over
//                               the WebSocket with the token)
// A WebSocket upgrade whose Origin is not this host is refused with 403.
// Bodies over max_payload get 413; a request not read whole within
// handshake_timeout is dropped; queued output over max_buffered_bytes cuts the
// connection. Runs on the channel thread only.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_SESSION_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_SESSION_H_

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "supervisor/channels/http/conn_slot.h"
#include "supervisor/channels/http/gateway.h"
#include "supervisor/channels/http/http_responder.h"

namespace laneway::supervisor::http {

class HttpSession : public std::enable_shared_from_this<HttpSession>, public HttpResponder {
 public:
  HttpSession(Gateway& gw, boost::asio::ip::tcp::socket socket, ConnSlot slot);

  void Run();

  void Respond(unsigned status, const std::string& content_type, std::string body) override;
  void BeginEvents() override;
  void SendEventData(const std::string& data) override;
  void EndEvents() override;
  const std::string& conn_id() const override { return conn_id_; }

 private:
  void Read();
  void OnRead(const boost::system::error_code& ec);
  void Route();
  void Readyz();
  void Metrics();
  void Queue(std::string bytes);
  void Write();
  void Close();

  Gateway& gw_;
  boost::beast::tcp_stream stream_;
  ConnSlot slot_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;
  bool writing_ = false;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  bool streaming_ = false;
  bool closed_ = false;
  std::string conn_id_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_SESSION_H_
