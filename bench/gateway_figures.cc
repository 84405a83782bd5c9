// The gateway port (docs/gateway.md): a warm echo turn's round trip over
// WebSocket protocol 3 and over /v1/chat/completions, beside the same turn over
// the IPC control socket and a raw Beast WebSocket echo floor, all in the same
// run; then connections held open at once with the supervisor's memory per
// connection, and `status` latency through the gateway port against the IPC
// socket, with the supervisor idle and again while 200 sessions are busy (each
// worker running a long exec turn). Clients are synchronous Beast clients in this
// process, on loopback.
#include <poll.h>
#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/figures.h"
#include "bench/harness.h"
#include "common/protocol.h"

namespace laneway::bench {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using boost::asio::ip::tcp;
using Json = nlohmann::json;

constexpr const char* kToken = "bench-token";
constexpr int kWarmup = 50;
constexpr int kRounds = 5;
constexpr int kPerRound = 100;
constexpr int kConnections = 2000;
constexpr int kBusySessions = 200;

// `busy`: bench_agent's "block" turns never answer, so each of its sessions keeps a
// worker busy (heart-beating) until the bench stops the supervisor.
std::string GatewayConfig() {
  return "[supervisor]\nmax_workers = " + std::to_string(kBusySessions + 16) +
         "\ndrain_timeout = \"2s\"\n\n[agents.main]\n"
         "runner = \"echo\"\n\n[agents.busy]\nrunner = \"exec\"\ncommand = [\"" +
         BinDir() +
         "/bench_agent\"]\nrun_timeout = \"10m\"\nkill_grace = \"100ms\"\n\n"
         "[channels.http]\nmax_connections = 10000\n";
}

std::string ReadAddr(const std::string& home) {
  std::ifstream f(home + "/run/http.addr");
  std::string a;
  std::getline(f, a);
  return a;
}

struct HostPort {
  std::string host, port;
};
HostPort Split(const std::string& addr) {
  size_t c = addr.rfind(':');
  return {addr.substr(0, c), addr.substr(c + 1)};
}

// A protocol-3 client, connected and past hello-ok.
class WsClient {
 public:
  WsClient(boost::asio::io_context& io, const std::string& addr) : ws_(io) {
    HostPort hp = Split(addr);
    tcp::resolver r(io);
    boost::asio::connect(beast::get_lowest_layer(ws_), r.resolve(hp.host, hp.port));
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true));
    ws_.handshake(addr, "/");
    ws_.text(true);
    Read();  // connect.challenge
    Json c = {{"type", "req"},
              {"id", "c"},
              {"method", "connect"},
              {"params", {{"minProtocol", 3}, {"maxProtocol", 3}, {"auth", {{"token", kToken}}}}}};
    ws_.write(boost::asio::buffer(c.dump()));
    while (Read().value("id", "") != "c") {
    }
  }
  Json Read() {
    buf_.clear();
    ws_.read(buf_);
    return Json::parse(beast::buffers_to_string(buf_.data()));
  }
  // One request; waits for its final res (skipping accepted and events).
  double Call(const std::string& id, const std::string& method, const Json& params) {
    const auto t0 = Clock::now();
    Json r = {{"type", "req"}, {"id", id}, {"method", method}, {"params", params}};
    ws_.write(boost::asio::buffer(r.dump()));
    for (;;) {
      Json f = Read();
      if (f.value("type", "") != "res" || f.value("id", "") != id) continue;
      if (f.value("ok", false) && f["payload"].is_object() &&
          f["payload"].value("status", "") == "accepted") {
        continue;
      }
      return f.value("ok", false) ? MicrosSince(t0) : -1;
    }
  }

 private:
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
};

// A keep-alive HTTP/1.1 client for /v1/chat/completions.
class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, const std::string& addr) : sock_(io), addr_(addr) {
    HostPort hp = Split(addr);
    tcp::resolver r(io);
    boost::asio::connect(sock_, r.resolve(hp.host, hp.port));
    sock_.set_option(tcp::no_delay(true));
  }
  double Completion(const std::string& text) {
    const auto t0 = Clock::now();
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
    req.set(bhttp::field::host, addr_);
    req.set(bhttp::field::authorization, std::string("Bearer ") + kToken);
    req.set(bhttp::field::content_type, "application/json");
    req.set("x-laneway-session", "bench-http");
    req.keep_alive(true);
    req.body() =
        Json{{"model", "laneway/main"}, {"messages", {{{"role", "user"}, {"content", text}}}}}
            .dump();
    req.prepare_payload();
    bhttp::write(sock_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(sock_, buf_, res);
    return res.result_int() == 200 ? MicrosSince(t0) : -1;
  }

 private:
  tcp::socket sock_;
  std::string addr_;
  beast::flat_buffer buf_;
};

// The floor: a raw Beast WebSocket echo server on one connection, on a thread.
class EchoFloor {
 public:
  EchoFloor() : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    addr_ = "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    thread_ = std::thread([this] {
      try {
        tcp::socket s = acceptor_.accept();
        s.set_option(tcp::no_delay(true));
        websocket::stream<tcp::socket> ws(std::move(s));
        ws.accept();
        ws.text(true);
        beast::flat_buffer b;
        for (;;) {
          b.clear();
          ws.read(b);
          ws.write(b.data());
        }
      } catch (const std::exception&) {
      }
    });
  }
  ~EchoFloor() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    // Ends when its client closes, or at once if none connected (accept fails).
    if (thread_.joinable()) thread_.join();
  }
  const std::string& addr() const { return addr_; }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string addr_;
  std::thread thread_;
};

double FloorRoundTrip(websocket::stream<tcp::socket>& ws, const std::string& frame) {
  const auto t0 = Clock::now();
  ws.write(boost::asio::buffer(frame));
  beast::flat_buffer b;
  ws.read(b);
  return MicrosSince(t0);
}

double IpcTurn(Dealer& d, int64_t id) {
  const auto t0 = Clock::now();
  d.Send(SubmitBytes(id, "main", "bench-ipc", Payload()));
  return AwaitOutcome(d, id, std::chrono::seconds(10)) ? MicrosSince(t0) : -1;
}

double IpcStatus(Dealer& d, int64_t id) {
  common::Value m = common::NewMessage(common::msg::kStatus);
  m.Set("id", id);
  const auto t0 = Clock::now();
  d.Send(common::EncodeMessage(m));
  std::string frame;
  while (d.Recv(&frame, std::chrono::seconds(10))) {
    auto r = ParseReply(frame);
    if (r && r->id == id) return MicrosSince(t0);
  }
  return -1;
}

void Row(const std::string& figure, const std::vector<double>& l, const std::vector<double>& f,
         const std::string& target, double p = 50) {
  const double lp = Percentile(l, p), fp = Percentile(f, p);
  EmitRow(figure, FormatMicros(lp), FormatMicros(fp), FormatRatio(lp, fp), target);
}

// "busy=200 idle=1 starting=0" from the `workers` rows (state counts).
std::string WorkerStates(Laneway& lw, int64_t* busy) {
  std::map<std::string, int64_t> n;
  common::Value rows = lw.Call("workers");
  if (rows.is_array()) {
    for (const common::Value& r : rows.as_array()) {
      const common::Value* st = r.Find("state");
      ++n[st && st->is_string() ? st->as_string() : "?"];
    }
  }
  *busy = n["busy"];
  std::string out;
  for (const auto& [state, count] : n) {
    out += (out.empty() ? "" : " ") + state + "=" + std::to_string(count);
  }
  return out.empty() ? "no workers" : out;
}

// `status` through the gateway port and over IPC, interleaved, while kBusySessions
// sessions each have a worker running a turn.
void BusyStatus(Laneway& lw, boost::asio::io_context& io, const std::string& addr) {
  Log("gateway: status while " + std::to_string(kBusySessions) + " sessions are busy");
  Dealer d(Context(), lw.control_endpoint());
  for (int i = 0; i < kBusySessions; ++i) {
    d.Send(SubmitBytes(1'000'000 + i, "busy", "busy" + std::to_string(i), "block", false));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int64_t busy = 0;
  std::string states;
  while (Clock::now() < deadline) {
    states = WorkerStates(lw, &busy);
    if (busy >= kBusySessions) break;
    ::poll(nullptr, 0, 50);
  }
  if (busy < kBusySessions) {
    EmitRow("gateway `status` with " + std::to_string(kBusySessions) + " sessions busy",
            "only " + std::to_string(busy) + " busy after 60s", "", "n/a", "");
    return;
  }
  std::vector<double> ws_us, ipc_us;
  int64_t id = 2'000'000;
  try {
    WsClient ws(io, addr);
    int n = 0;
    for (int i = 0; i < 20; ++i) {  // warm-up
      ws.Call("w" + std::to_string(++n), "status", Json::object());
      IpcStatus(d, ++id);
    }
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kPerRound; ++i) {
        ws_us.push_back(ws.Call("b" + std::to_string(++n), "status", Json::object()));
      }
      for (int i = 0; i < kPerRound; ++i) ipc_us.push_back(IpcStatus(d, ++id));
    }
  } catch (const std::exception& e) {
    EmitRow("gateway `status`, sessions busy: aborted", e.what(), "", "n/a", "");
    return;
  }
  int64_t busy_after = 0;
  const std::string after = WorkerStates(lw, &busy_after);
  const std::string label = std::to_string(kBusySessions) + " sessions busy";
  Row("gateway `status` p50 (WebSocket) vs IPC `status`, " + label, ws_us, ipc_us, "—");
  Row("gateway `status` p99 (WebSocket) vs IPC `status`, " + label, ws_us, ipc_us, "—", 99);
  EmitNote("gateway busy: " + std::to_string(ws_us.size()) + " + " + std::to_string(ipc_us.size()) +
           " status calls (WebSocket, IPC) in interleaved blocks while each busy session's "
           "worker ran a never-answering exec turn; workers by state before: " +
           states + "; after: " + after);
}

}  // namespace

void RunGateway() {
  Log("gateway: warm turn over WebSocket / chat completions / IPC vs a raw Beast echo floor");
  rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);  // the supervisor inherits it
  }
  ::setenv("LANEWAY_HTTP_LISTEN", "127.0.0.1:0", 1);
  ::setenv("LANEWAY_TOKEN", kToken, 1);
  Laneway lw(GatewayConfig());
  if (!lw.Start()) {
    EmitRow("gateway warm turn", "failed", "failed", "n/a", "");
    return;
  }
  const std::string addr = ReadAddr(lw.home());
  boost::asio::io_context io;
  std::vector<double> ws_us, http_us, ipc_us, floor_us, ws_status, ipc_status;
  try {
    WsClient ws(io, addr);
    HttpClient http(io, addr);
    Dealer d(Context(), lw.control_endpoint());
    EchoFloor floor;
    websocket::stream<tcp::socket> fws(io);
    HostPort hp = Split(floor.addr());
    tcp::resolver r(io);
    boost::asio::connect(beast::get_lowest_layer(fws), r.resolve(hp.host, hp.port));
    beast::get_lowest_layer(fws).set_option(tcp::no_delay(true));
    fws.handshake(floor.addr(), "/");
    fws.text(true);
    // The floor frame has the size of the WebSocket agent request.
    const std::string floor_frame =
        Json{{"type", "req"},
             {"id", "x"},
             {"method", "agent"},
             {"params",
              {{"message", Payload()}, {"agentId", "main"}, {"sessionKey", "agent:main:bench-ws"}}}}
            .dump();
    int64_t id = 0;
    int n = 0;
    auto ws_turn = [&] {
      return ws.Call(
          "a" + std::to_string(++n), "agent",
          {{"message", Payload()}, {"agentId", "main"}, {"sessionKey", "agent:main:bench-ws"}});
    };
    for (int i = 0; i < kWarmup; ++i) {
      ws_turn();
      http.Completion(Payload());
      IpcTurn(d, ++id);
      FloorRoundTrip(fws, floor_frame);
    }
    // Interleaved blocks, so that all four see the same moments of a shared machine.
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kPerRound; ++i) floor_us.push_back(FloorRoundTrip(fws, floor_frame));
      for (int i = 0; i < kPerRound; ++i) ws_us.push_back(ws_turn());
      for (int i = 0; i < kPerRound; ++i) http_us.push_back(http.Completion(Payload()));
      for (int i = 0; i < kPerRound; ++i) ipc_us.push_back(IpcTurn(d, ++id));
      for (int i = 0; i < kPerRound / 4; ++i) {
        ws_status.push_back(ws.Call("s" + std::to_string(++n), "status", Json::object()));
        ipc_status.push_back(IpcStatus(d, ++id));
      }
    }
    beast::get_lowest_layer(fws).close();
  } catch (const std::exception& e) {
    EmitRow("gateway warm turn: aborted", e.what(), "", "n/a", "");
    return;
  }
  Row("gateway warm turn p50, WebSocket agent (echo)", ws_us, floor_us, "— (floor: Beast WS echo)");
  Row("gateway warm turn p50, /v1/chat/completions", http_us, floor_us, "— (floor: Beast WS echo)");
  Row("↳ same turn over the IPC control socket, p50", ipc_us, floor_us, "— (floor: Beast WS echo)");
  Row("gateway `status` p50 (WebSocket) vs IPC `status`", ws_status, ipc_status, "—");

  Log("gateway: connections held open");
  const MemInfo before = ReadMem(lw.pid());
  std::vector<std::unique_ptr<WsClient>> held;
  try {
    for (int i = 0; i < kConnections; ++i) held.push_back(std::make_unique<WsClient>(io, addr));
  } catch (const std::exception& e) {
    EmitNote("gateway: stopped opening connections at " + std::to_string(held.size()) + ": " +
             e.what());
  }
  const MemInfo after = ReadMem(lw.pid());
  const double per_conn =
      held.empty() ? 0 : (after.private_kb - before.private_kb) / static_cast<double>(held.size());
  EmitRow("gateway connections held open (handshaken)", std::to_string(held.size()), "—", "n/a",
          "—");
  char kb[32];
  std::snprintf(kb, sizeof kb, "%.1f KB", per_conn);
  EmitRow("↳ supervisor private memory per connection", kb, "—", "n/a", "—");
  held.clear();
  BusyStatus(lw, io, addr);
  lw.Stop();
}

}  // namespace laneway::bench
