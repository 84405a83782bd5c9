// The IPC, WebSocket and HTTP door threads (soak.h). Each keeps its turns in
// flight, records them in the ledger, and after a supervisor restart (or a
// silence past kRetryAfter) sends every unresolved turn again with its
// idempotency key, which attaches to the journaled turn instead of running it twice.
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cli/client.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "tests/soak/soak.h"

namespace laneway::soak {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using boost::asio::ip::tcp;
using common::Value;
using Json = nlohmann::json;

constexpr auto kRetryAfter = std::chrono::seconds(20);
constexpr int kIpcInFlight = 16;

std::string SessionName(const std::string& prefix, int index, int count, std::mt19937_64& rng) {
  return prefix + std::to_string(index + static_cast<int>(rng() % static_cast<uint64_t>(count)));
}

void Nap(int ms) { ::poll(nullptr, 0, ms); }

struct IpcPending {
  std::string key, session, token;
  Mode mode = Mode::kOk;
  Clock::time_point sent;
  int generation = 0;
};

}  // namespace

void Shared::UnparkIfParked(const std::string& error, const std::string& session) {
  // "session <full key> is parked after repeated worker deaths; ..." (the HTTP
  // door's sessions are agent:main:openai-user:<name>, so the key is read from it).
  const size_t at = error.find("session agent:");
  const size_t end = error.find(" is parked");
  if (at == std::string::npos || end == std::string::npos || end <= at + 8) return;
  const std::string key = error.substr(at + 8, end - at - 8);
  if (key.find(session) == std::string::npos) return;
  auto c = cli::Client::Connect(common::PathsForHome(home));
  if (!c.ok()) return;
  Value req = common::NewMessage("restart");
  req.Set("session", key);
  if ((*c)->Call(req, std::chrono::seconds(10)).ok()) unparked.fetch_add(1);
}

void RunIpcDoor(Shared& sh, Ledger& ledger, int index, int threads) {
  std::mt19937_64 rng(sh.opt.seed * 1000 + 1 + static_cast<uint64_t>(index));
  const common::Paths paths = common::PathsForHome(sh.home);
  const int per = std::max(1, sh.opt.sessions / 2 / threads);
  std::unique_ptr<cli::Client> client;
  int client_gen = 0;
  std::map<int64_t, IpcPending> pending;  // by request id
  bool spent = false;

  auto send = [&](IpcPending p) {
    Value req = common::NewMessage(common::msg::kSubmit);
    req.Set("agent", p.mode == Mode::kOpenAi ? "oa" : "main");
    req.Set("session", p.session);
    req.Set("message", TurnMessage(p.mode, p.session, p.token));
    req.Set("wait", true);
    req.Set("stream", p.mode == Mode::kStream || p.mode == Mode::kOpenAi);
    req.Set("idempotency_key", p.key);
    p.sent = Clock::now();
    p.generation = client_gen;
    auto id = client->Send(std::move(req));
    if (id.ok()) pending[*id] = std::move(p);
  };

  while (!sh.abort.load()) {
    if (!client || client_gen != sh.generation.load()) {
      if (sh.sup_down.load()) {
        Nap(20);
        continue;
      }
      const int gen = sh.generation.load();
      auto c = cli::Client::Connect(paths);
      if (!c.ok()) {
        Nap(20);
        continue;
      }
      client = std::move(*c);
      client_gen = gen;
      std::map<int64_t, IpcPending> old;
      old.swap(pending);
      for (auto& [id, p] : old) send(std::move(p));
    }
    while (!spent && static_cast<int>(pending.size()) < kIpcInFlight) {
      const int64_t n = sh.TakeTurn();
      if (n < 0) {
        spent = true;
        break;
      }
      IpcPending p;
      p.session = SessionName("ipc", index * per, per, rng);
      p.token = "i" + std::to_string(n);
      p.key = "soak:" + p.token;
      p.mode = PickMode(rng());
      // One IPC turn in eight goes to the openai agent (the double injects faults).
      if (sh.openai_port > 0 && rng() % 8 == 0) {
        p.mode = Mode::kOpenAi;
        sh.openai.fetch_add(1);
      }
      ledger.Begin(p.key, "ipc", p.session, p.token, p.mode);
      sh.ipc.fetch_add(1);
      send(std::move(p));
    }
    if (spent && pending.empty()) return;
    auto m = client->Receive(std::chrono::milliseconds(100));
    if (!m.ok()) {
      // Silence: a turn unanswered for long is asked again (it attaches).
      std::vector<int64_t> late;
      for (auto& [id, p] : pending) {
        if (Clock::now() - p.sent > kRetryAfter) late.push_back(id);
      }
      for (int64_t id : late) {
        IpcPending p = std::move(pending[id]);
        pending.erase(id);
        send(std::move(p));
      }
      continue;
    }
    const std::string& type = common::MessageType(*m);
    const int64_t id = m->GetIntOr("id", 0).value();
    auto it = pending.find(id);
    if (it == pending.end()) continue;  // an answer to a request sent before a restart
    IpcPending& p = it->second;
    if (type == common::msg::kAccepted) {
      ledger.Acknowledged(p.key, m->GetIntOr("turn_id", 0).value(), sh.generation.load());
    } else if (type == common::msg::kOutcome) {
      const std::string status = m->GetStringOr("status", "").value();
      const Value* tid = m->Find("turn_id");
      if (status == "pending") {
        p.sent = Clock::now() - kRetryAfter;  // ask again at the next silence
        continue;
      }
      if (status == "rejected" && (!tid || !tid->is_int())) {
        // Refused before acceptance (a full journal disk, a bound): the same turn
        // is sent again a little later, so refusals do not eat the budget.
        if (sh.opt.verbose) {
          std::fprintf(stderr, "ipc rejected %s: %s\n", p.key.c_str(),
                       m->GetStringOr("error", "").value().c_str());
        }
        sh.refused.fetch_add(1);
        sh.UnparkIfParked(m->GetStringOr("error", "").value(), p.session);
        p.sent = Clock::now() - kRetryAfter + std::chrono::milliseconds(200);
        continue;
      }
      const std::string text = status == "replied" ? m->GetStringOr("reply", "").value()
                                                   : m->GetStringOr("error", "").value();
      ledger.Outcome(p.key, tid && tid->is_int() ? tid->as_int() : 0, status, text);
      sh.resolved.fetch_add(1);
      pending.erase(it);
    } else if (type == common::msg::kError) {
      // Refused before acceptance (a full journal disk, a bound), or an error
      // after it: asked again a little later with the same key.
      sh.refused.fetch_add(1);
      if (sh.opt.verbose) {
        std::fprintf(stderr, "ipc refused %s: %s %s\n", p.key.c_str(),
                     m->GetStringOr("code", "").value().c_str(),
                     m->GetStringOr("error", "").value().c_str());
      }
      sh.UnparkIfParked(m->GetStringOr("error", "").value(), p.session);
      p.sent = Clock::now() - kRetryAfter + std::chrono::milliseconds(200);
    }
  }
}

namespace {

struct HostPort {
  std::string host, port;
};
HostPort Split(const std::string& addr) {
  size_t c = addr.rfind(':');
  return {addr.substr(0, c), addr.substr(c + 1)};
}

void SetRecvTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A protocol-3 client (synchronous Beast, as bench/gateway_figures.cc).
class WsClient {
 public:
  explicit WsClient(boost::asio::io_context& io) : ws_(io) {}
  bool Connect(const std::string& addr, const std::string& token) {
    beast::error_code ec;
    HostPort hp = Split(addr);
    tcp::resolver r(ws_.get_executor());
    auto eps = r.resolve(hp.host, hp.port, ec);
    if (ec) return false;
    boost::asio::connect(beast::get_lowest_layer(ws_), eps, ec);
    if (ec) return false;
    SetRecvTimeout(beast::get_lowest_layer(ws_).native_handle(), 3);
    ws_.handshake(addr, "/", ec);
    if (ec) return false;
    ws_.text(true);
    Json f;
    if (!Read(&f)) return false;  // connect.challenge
    Json c = {{"type", "req"},
              {"id", "c"},
              {"method", "connect"},
              {"params", {{"minProtocol", 3}, {"maxProtocol", 3}, {"auth", {{"token", token}}}}}};
    if (!Write(c)) return false;
    for (;;) {
      if (!Read(&f)) return false;
      if (f.value("id", "") == "c") return f.value("ok", false);
    }
  }
  bool Write(const Json& j) {
    beast::error_code ec;
    ws_.write(boost::asio::buffer(j.dump()), ec);
    return !ec;
  }
  bool Read(Json* out) {
    beast::error_code ec;
    buf_.clear();
    ws_.read(buf_, ec);
    if (ec) return false;
    *out = Json::parse(beast::buffers_to_string(buf_.data()), nullptr, false);
    return true;
  }

 private:
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
};

// "turn failed: ..." -> "failed".
std::string StatusOfError(const std::string& msg) {
  if (msg.rfind("turn ", 0) != 0) return "error";
  size_t colon = msg.find(':');
  return msg.substr(5, colon == std::string::npos ? std::string::npos : colon - 5);
}

}  // namespace

void RunWsDoor(Shared& sh, Ledger& ledger, int index, int threads) {
  std::mt19937_64 rng(sh.opt.seed * 1000 + 101 + static_cast<uint64_t>(index));
  const int base = sh.opt.sessions / 2;
  const int per = std::max(1, sh.opt.sessions / 5 / threads);
  boost::asio::io_context io;
  while (!sh.abort.load()) {
    const int64_t n = sh.TakeTurn();
    if (n < 0) return;
    const std::string session = SessionName("ws", base + index * per, per, rng);
    const std::string token = "w" + std::to_string(n);
    const std::string key = "soak:" + token;
    const Mode mode = PickMode(rng());
    ledger.Begin(key, "ws", session, token, mode);
    sh.ws.fetch_add(1);
    bool done = false;
    int attempts = 0;
    while (!done && !sh.abort.load()) {
      if (attempts++ > 0) Nap(50);
      if (sh.sup_down.load()) continue;
      const int gen = sh.generation.load();
      const std::string addr = sh.GatewayAddr();
      if (addr.empty()) continue;
      WsClient c(io);
      if (!c.Connect(addr, sh.http_token)) continue;
      Json req = {{"type", "req"},
                  {"id", key},
                  {"method", "agent"},
                  {"params",
                   {{"message", TurnMessage(mode, session, token)},
                    {"agentId", "main"},
                    {"sessionKey", session},
                    {"idempotencyKey", key}}}};
      if (!c.Write(req)) continue;
      const auto sent = Clock::now();
      Json f;
      while (!done && !sh.abort.load()) {
        if (!c.Read(&f)) {
          // A timeout (hang turns take a few seconds) or a cut: reconnect and
          // attach again, unless the supervisor is restarting.
          if (Clock::now() - sent < kRetryAfter && gen == sh.generation.load() &&
              !sh.sup_down.load()) {
            // A read timeout leaves a Beast stream unusable: reconnect and attach.
          }
          break;
        }
        if (f.value("type", "") != "res" || f.value("id", "") != key) continue;
        const Json payload = f.contains("payload") ? f["payload"] : Json::object();
        if (f.value("ok", false) && payload.is_object() &&
            payload.value("status", "") == "accepted") {
          ledger.Acknowledged(key, 0, sh.generation.load());
          continue;
        }
        if (f.value("ok", false)) {
          std::string text;
          if (payload.contains("result") && payload["result"].contains("payloads")) {
            for (const Json& p : payload["result"]["payloads"]) text += p.value("text", "");
          }
          ledger.Outcome(key, 0, "replied", text);
        } else {
          const Json err = f.contains("error") ? f["error"] : Json::object();
          const std::string msg = err.is_object() ? err.value("message", "") : "";
          const std::string status = StatusOfError(msg);
          if (status == "error") {
            // Not a turn's outcome (unavailable, the journal refused it): asked
            // again with the same key.
            sh.refused.fetch_add(1);
            if (sh.opt.verbose)
              std::fprintf(stderr, "ws refused %s: %s\n", key.c_str(), msg.c_str());
            sh.UnparkIfParked(msg, session);
            break;
          } else {
            ledger.Outcome(key, 0, status, msg);
          }
        }
        done = true;
      }
    }
    sh.resolved.fetch_add(1);
  }
}

void RunHttpDoor(Shared& sh, Ledger& ledger, int index, int threads) {
  std::mt19937_64 rng(sh.opt.seed * 1000 + 201 + static_cast<uint64_t>(index));
  const int base = sh.opt.sessions / 2 + sh.opt.sessions / 5;
  const int per = std::max(1, sh.opt.sessions / 10 / threads);
  boost::asio::io_context io;
  while (!sh.abort.load()) {
    const int64_t n = sh.TakeTurn();
    if (n < 0) return;
    const std::string session = SessionName("http", base + index * per, per, rng);
    const std::string token = "h" + std::to_string(n);
    const std::string key = "http:" + token;
    const Mode mode = PickMode(rng());
    ledger.Begin(key, "http", session, token, mode);
    sh.http.fetch_add(1);
    for (int attempt = 0; attempt < 50 && !sh.abort.load(); ++attempt) {
      if (attempt > 0) Nap(200);
      while (sh.sup_down.load() && !sh.abort.load()) Nap(20);
      const int gen = sh.generation.load();
      const int64_t kills = sh.sup_kills.load();
      const std::string addr = sh.GatewayAddr();
      tcp::socket sock(io);
      beast::error_code ec;
      HostPort hp = Split(addr);
      tcp::resolver r(io);
      auto eps = r.resolve(hp.host, hp.port, ec);
      if (!ec) boost::asio::connect(sock, eps, ec);
      bhttp::response<bhttp::string_body> res;
      if (!ec) {
        SetRecvTimeout(sock.native_handle(), 60);
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
        req.set(bhttp::field::host, addr);
        req.set(bhttp::field::authorization, "Bearer " + sh.http_token);
        req.set(bhttp::field::content_type, "application/json");
        req.set("x-laneway-session", session);
        req.body() =
            Json{{"model", "laneway/main"},
                 {"messages", {{{"role", "user"}, {"content", TurnMessage(mode, session, token)}}}}}
                .dump();
        req.prepare_payload();
        bhttp::write(sock, req, ec);
      }
      beast::flat_buffer buf;
      if (!ec) bhttp::read(sock, buf, res, ec);
      if (ec) {
        if (gen != sh.generation.load() || kills != sh.sup_kills.load() || sh.sup_down.load() ||
            addr.empty()) {
          sh.http_cut.fetch_add(1);  // no acknowledgement: the supervisor was killed
        } else {
          ledger.Violation("http " + key +
                           ": request failed without a supervisor kill: " + ec.message());
        }
        break;  // not acknowledged: it may have run, so it is not sent again
      }
      const int code = static_cast<int>(res.result_int());
      Json body = Json::parse(res.body(), nullptr, false);
      if (code == 200) {
        ledger.Acknowledged(key, 0, gen);
        std::string text;
        if (body.is_object() && body.contains("choices") && !body["choices"].empty()) {
          text = body["choices"][0]["message"].value("content", "");
        }
        ledger.Outcome(key, 0, "replied", text);
      } else if (code == 500) {
        std::string msg = body.is_object() && body.contains("error")
                              ? body["error"].value("message", "")
                              : res.body();
        if (msg.find("parked") != std::string::npos ||
            msg.find("not accepted") != std::string::npos) {
          sh.refused.fetch_add(1);  // refused before acceptance: again
          sh.UnparkIfParked(msg, session);
          continue;
        }
        ledger.Acknowledged(key, 0, gen);
        ledger.Outcome(key, 0, "failed", msg);
      } else {
        sh.refused.fetch_add(1);  // 429 queue full, 503 draining / core unavailable: again
        sh.UnparkIfParked(res.body(), session);
        continue;
      }
      break;
    }
    sh.resolved.fetch_add(1);
  }
}

}  // namespace laneway::soak
