// Gateway: what every part of the HTTP channel shares, owned by HttpChannel and
// used only on the channel's io_context thread (the atomics excepted: State()
// reads them from the core thread).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_GATEWAY_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_GATEWAY_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/paths.h"
#include "supervisor/channels/http/auth.h"
#include "supervisor/channels/http/conn_slot.h"
#include "supervisor/channels/http/login_limiter.h"

namespace laneway::supervisor::http {

class CoreLink;
class MethodTable;

inline constexpr const char* kGatewayVersion = "laneway-0.1.0";

struct Gateway {
  explicit Gateway(boost::asio::io_context& io_context) : io(io_context) {}

  boost::asio::io_context& io;
  common::HttpChannelConfig http;
  common::Config config;
  common::Paths paths;
  Credentials creds;
  LoginLimiter login_limiter;  // failed logins per client address
  AddressCounts per_address;   // open connections per client address
  CoreLink* core = nullptr;
  MethodTable* methods = nullptr;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::atomic<int64_t> connections{0};  // open TCP connections (HTTP and WebSocket)
  std::atomic<int64_t> websockets{0};   // of which WebSocket
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};  // over max_connections or the per-address bound
  std::atomic<uint64_t> requests_total{0};       // WS requests and HTTP requests
  std::atomic<uint64_t> slow_clients_cut{0};     // over max_buffered_bytes
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> logins_rate_limited{0};  // refused with 429 / rate_limited

  int64_t uptime_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started)
        .count();
  }
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_GATEWAY_H_
