// Listener: the gateway port's acceptor. Bind() runs on the core thread in
// Start() (so a taken port fails `laneway up` with the address in the message);
// Accept() then runs on the channel thread and hands each connection to an
// HttpSession, or closes it at once when max_connections are open.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_LISTENER_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_LISTENER_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>

#include "common/status.h"
#include "supervisor/channels/http/gateway.h"

namespace laneway::supervisor::http {

// Splits "host:port" / "[v6]:port" (port 0 allowed: an ephemeral port).
common::Status ParseListen(const std::string& listen, std::string* host, uint16_t* port);
bool IsLoopbackHost(const std::string& host);

class Listener {
 public:
  explicit Listener(Gateway& gw);

  common::Status Bind(const std::string& listen);
  // "127.0.0.1:43121": the address actually bound.
  const std::string& bound() const { return bound_; }
  void Accept();
  void Close();

 private:
  Gateway& gw_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  std::string bound_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_LISTENER_H_
