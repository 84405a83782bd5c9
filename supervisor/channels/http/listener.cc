#include "supervisor/channels/http/listener.h"

#include <memory>

#include "common/log.h"
#include "supervisor/channels/http/conn_slot.h"
#include "supervisor/channels/http/http_session.h"

namespace laneway::supervisor::http {

namespace asio = boost::asio;
using asio::ip::tcp;

common::Status ParseListen(const std::string& listen, std::string* host, uint16_t* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) {
    return common::Status::InvalidArgument("bad listen address \"" + listen +
                                           "\" (expected host:port)");
  }
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  uint32_t p = 0;
  for (char ch : listen.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || (p = p * 10 + (ch - '0')) > 65535) {
      return common::Status::InvalidArgument("bad listen address \"" + listen +
                                             "\" (port must be 0..65535)");
    }
  }
  if (h.empty()) return common::Status::InvalidArgument("bad listen address \"" + listen + "\"");
  *host = h;
  *port = static_cast<uint16_t>(p);
  return common::Status::Ok();
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

Listener::Listener(Gateway& gw) : gw_(gw), acceptor_(gw.io), retry_(gw.io) {}

common::Status Listener::Bind(const std::string& listen) {
  std::string host;
  uint16_t port = 0;
  if (auto st = ParseListen(listen, &host, &port); !st.ok()) return st;
  boost::system::error_code ec;
  // No DNS: only literal addresses (and "localhost") are accepted.
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return common::Status::InvalidArgument("listen address \"" + listen +
                                           "\": host must be an IP address or localhost");
  }
  tcp::endpoint ep(addr, port);
  const std::string what = "cannot listen on " + listen + ": ";
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return common::Status::Unavailable(what + ec.message());
  }
  tcp::endpoint local = acceptor_.local_endpoint(ec);
  std::string a = local.address().to_string();
  bound_ = (local.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(local.port());
  return common::Status::Ok();
}

void Listener::Accept() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      ++gw_.connections_total;
      boost::system::error_code ep_ec;
      const auto ep = socket.remote_endpoint(ep_ec);
      const std::string peer = ep_ec ? std::string("unknown") : ep.address().to_string();
      // One address cannot take every slot: others keep getting in.
      if (gw_.connections.load() >= static_cast<int64_t>(gw_.http.max_connections) ||
          gw_.per_address.Of(peer) >= static_cast<int64_t>(gw_.http.max_connections_per_address)) {
        ++gw_.connections_refused;
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<HttpSession>(gw_, std::move(socket),
                                      ConnSlot(&gw_.connections, &gw_.per_address, peer))
            ->Run();
      }
    } else {
      // EMFILE and friends: log, and try again shortly instead of spinning.
      common::LogLine(common::LogLevel::kWarn, "http_accept_failed").Kv("error", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([this](const boost::system::error_code& e) {
        if (!e) Accept();
      });
      return;
    }
    Accept();
  });
}

void Listener::Close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

}  // namespace laneway::supervisor::http
