// Helpers for the gateway-port tests (gateway_*_test.cc): a supervisor with
// [channels.http] on an ephemeral port, the Python WebSocket client
// (gateway/ws_client.py, Debian python3-websockets) and curl, all on loopback.
//
// With LANEWAY_GATEWAY_TEST_HOST=1 the channel runs in gateway_host against the
// supervisor's control socket instead of inside the supervisor (for a core that
// does not start channels yet); by default the supervisor's own channel is used.
#ifndef LANEWAY_TESTS_INTEGRATION_GATEWAY_SUPPORT_H_
#define LANEWAY_TESTS_INTEGRATION_GATEWAY_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace laneway::testing {

inline constexpr const char* kGatewayToken = "gw-test-token-1234";

struct ProcResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path) with the extra environment; kills it after `timeout`.
ProcResult RunProgram(const std::vector<std::string>& argv, const Env& env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(90));

class GatewayServer {
 public:
  explicit GatewayServer(const TempHome& home, Env env = {{"LANEWAY_TOKEN", kGatewayToken}});
  ~GatewayServer();

  // Starts the supervisor with `config` (which must enable [channels.http]) and
  // waits for the bound address in run/http.addr.
  bool Start(const std::string& config);
  SupervisorProcess& supervisor() { return *sup_; }
  const std::string& addr() const { return addr_; }
  std::string ws_url() const { return "ws://" + addr_; }
  std::string http_url(const std::string& path) const { return "http://" + addr_ + path; }
  std::string Log() const;

 private:
  const TempHome& home_;
  Env env_;
  std::unique_ptr<SupervisorProcess> sup_;
  pid_t host_pid_ = -1;
  std::string addr_;
};

// ws_client.py MODE URL TOKEN ARGS...; its one JSON line (null on failure, with
// the output in *raw if given).
nlohmann::json WsClient(const std::vector<std::string>& args, std::string* raw = nullptr,
                        std::chrono::milliseconds timeout = std::chrono::seconds(90));
std::future<nlohmann::json> WsClientAsync(std::vector<std::string> args);

struct HttpResult {
  int status = 0;
  std::string body;
};
// curl with `args` (method, headers, data) against `url`.
HttpResult Curl(const std::string& url, const std::vector<std::string>& args = {});

// ExecConfig plus a [channels.http] table with `http_extra` lines.
std::string GatewayConfig(const TempHome& home, const std::string& http_extra = "",
                          const std::string& agent_extra = "");
// The `status` payload's `laneway` object is laneway's own status: a shortcut.
nlohmann::json WsCall(const GatewayServer& gw, const std::string& method,
                      const std::string& params_json = "{}");

}  // namespace laneway::testing

#endif  // LANEWAY_TESTS_INTEGRATION_GATEWAY_SUPPORT_H_
