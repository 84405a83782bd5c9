// The CLI's client for the gateway port (WebSocket protocol 3, docs/gateway.md):
// `laneway agent --url ws://HOST:PORT --token T` runs the same turn as over the
// control socket, from any host that can reach the port. Beast stays in
// gateway_client.cc.
#ifndef LANEWAY_CLI_GATEWAY_CLIENT_H_
#define LANEWAY_CLI_GATEWAY_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>

namespace laneway::cli {

struct GatewayTurn {
  std::string url;    // ws://host:port[/path]
  std::string token;  // "" = none
  std::string agent;
  std::string message;
  std::string session;                               // "" = agent:<agent>:main
  std::string idempotency_key;                       // "" = a fresh one
  std::optional<std::chrono::milliseconds> timeout;  // for the outcome
  bool json = false;
};

// Connects, sends `agent` and prints the outcome like `laneway agent`. Returns the
// exit code: 0 replied, 1 failed, 2 bad URL, 3 gateway unreachable or refused the
// connection, 4 --timeout passed (the run id is printed; `agent.wait` finds it).
int RunGatewayTurn(const GatewayTurn& turn);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_GATEWAY_CLIENT_H_
