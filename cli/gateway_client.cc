// Beast and nlohmann throw; everything here is behind one catch in RunGatewayTurn.
#include "cli/gateway_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "common/token_file.h"

namespace laneway::cli {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::asio::ip::tcp;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

struct Url {
  std::string host, port, path;
};

bool ParseWsUrl(const std::string& url, Url* out) {
  const std::string scheme = "ws://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  out->path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostport.size()) return false;
  out->host = hostport.substr(0, colon);
  if (out->host.size() > 2 && out->host.front() == '[')
    out->host = out->host.substr(1, out->host.size() - 2);
  out->port = hostport.substr(colon + 1);
  return true;
}

std::string NewId() {
  auto h = common::RandomHex(16);
  return h.ok() ? *h : "laneway-cli";
}

class Conn {
 public:
  Conn() : ws_(io_) {}

  void Open(const Url& u) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(u.host, u.port);
    boost::asio::connect(beast::get_lowest_layer(ws_), results);
    ws_.read_message_max(64 << 20);
    ws_.handshake(u.host + ":" + u.port, u.path);
    ws_.text(true);
  }

  void Send(const Json& j) { ws_.write(boost::asio::buffer(j.dump())); }

  // The next frame, or nullopt when `deadline` passed first.
  std::optional<Json> Read(Clock::time_point deadline) {
    bool done = false;
    boost::system::error_code ec;
    buffer_.clear();
    ws_.async_read(buffer_, [&](const boost::system::error_code& e, size_t) {
      ec = e;
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one_until(deadline) > 0) {
    }
    if (!done) {
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
      return std::nullopt;
    }
    if (ec) throw boost::system::system_error(ec);
    return Json::parse(beast::buffers_to_string(buffer_.data()));
  }

  void Close() {
    boost::system::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

 private:
  boost::asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
};

std::string ErrorMessage(const Json& res) {
  if (res.contains("error") && res["error"].is_object()) {
    return res["error"].value("message", std::string("error"));
  }
  return "error";
}

}  // namespace

int RunGatewayTurn(const GatewayTurn& turn) {
  Url url;
  if (!ParseWsUrl(turn.url, &url)) {
    std::cerr << "laneway agent: --url must look like ws://HOST:PORT, not '" << turn.url << "'\n";
    return kExitUsage;
  }
  const std::string run_id = turn.idempotency_key.empty() ? NewId() : turn.idempotency_key;
  Conn conn;
  // Phase 1: connect and handshake; any failure here means the gateway is unreachable.
  try {
    conn.Open(url);
    auto hs_deadline = Clock::now() + kHandshakeTimeout;
    std::optional<Json> first = conn.Read(hs_deadline);
    if (!first) throw std::runtime_error("no connect.challenge from the gateway");
    Json connect = {
        {"type", "req"},
        {"id", "connect-1"},
        {"method", "connect"},
        {"params",
         {{"minProtocol", 3},
          {"maxProtocol", 3},
          {"client",
           {{"id", "laneway-cli"}, {"version", "0.1.0"}, {"platform", "linux"}, {"mode", "cli"}}},
          {"caps", Json::array()},
          {"auth", {{"token", turn.token}}},
          {"role", "operator"},
          {"scopes", {"operator.admin"}}}}};
    conn.Send(connect);
    for (;;) {
      std::optional<Json> f = conn.Read(hs_deadline);
      if (!f) throw std::runtime_error("no answer to connect");
      if (f->value("type", "") != "res" || f->value("id", "") != "connect-1") continue;
      if (!f->value("ok", false)) {
        std::cerr << "laneway: the gateway refused the connection: " << ErrorMessage(*f) << "\n";
        return kExitUnreachable;
      }
      break;
    }
  } catch (const std::exception& e) {
    std::cerr << "laneway: cannot reach the gateway at " << turn.url << ": " << e.what() << "\n";
    return kExitUnreachable;
  }
  // Phase 2: the turn.
  try {
    Json params = {
        {"message", turn.message},
        {"agentId", turn.agent},
        {"sessionKey", turn.session.empty() ? "agent:" + turn.agent + ":main" : turn.session},
        {"idempotencyKey", run_id}};
    conn.Send({{"type", "req"}, {"id", "agent-1"}, {"method", "agent"}, {"params", params}});
    std::optional<Clock::time_point> deadline;
    if (turn.timeout) deadline = Clock::now() + *turn.timeout;
    for (;;) {
      std::optional<Json> f = conn.Read(deadline.value_or(Clock::time_point::max()));
      if (!f) {
        conn.Close();
        if (turn.json) {
          std::cout << Json{{"run_id", run_id},
                            {"status", "pending"},
                            {"error", "still pending after --timeout"}}
                           .dump()
                    << "\n";
        } else {
          std::cerr << "laneway: run " << run_id << " still pending after --timeout\n";
          std::cout << run_id << "\n";
        }
        return kExitPending;
      }
      if (f->value("type", "") != "res" || f->value("id", "") != "agent-1") continue;
      const Json payload = f->value("payload", Json::object());
      if (f->value("ok", false) && payload.is_object() &&
          payload.value("status", "") == "accepted") {
        continue;
      }
      conn.Close();
      if (!f->value("ok", false)) {
        std::string error = ErrorMessage(*f);
        if (turn.json) {
          std::cout << Json{{"run_id", run_id}, {"status", "failed"}, {"error", error}}.dump()
                    << "\n";
        } else {
          std::cerr << "laneway: run " << run_id << " failed: " << error << "\n";
        }
        return kExitFailed;
      }
      std::string reply;
      if (payload.contains("result") && payload["result"].contains("payloads")) {
        for (const Json& p : payload["result"]["payloads"]) {
          if (p.is_object() && p.contains("text") && p["text"].is_string()) {
            if (!reply.empty()) reply += "\n";
            reply += p["text"].get<std::string>();
          }
        }
      }
      if (turn.json) {
        std::cout << Json{{"run_id", run_id}, {"status", "replied"}, {"reply", reply}}.dump()
                  << "\n";
      } else {
        std::cout << reply;
        if (reply.empty() || reply.back() != '\n') std::cout << "\n";
      }
      return kExitOk;
    }
  } catch (const std::exception& e) {
    std::cerr << "laneway: the gateway connection failed during run " << run_id << ": " << e.what()
              << " (it keeps running; its outcome is kept)\n";
    return kExitUnreachable;
  }
}

}  // namespace laneway::cli
