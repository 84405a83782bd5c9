#include "supervisor/channels/http/methods.h"

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "common/protocol.h"
#include "supervisor/channels/http/core_link.h"
#include "supervisor/channels/http/payloads.h"

namespace laneway::supervisor::http {

namespace {

using common::Value;

constexpr int64_t kDefaultWaitMs = 30000;
constexpr const char* kForgotten = "FORGOTTEN";
constexpr int64_t kMaxWaitMs = 24LL * 3600 * 1000;

void Send(const std::weak_ptr<Connection>& weak, std::string frame) {
  if (auto c = weak.lock()) c->SendFrame(std::move(frame));
}

bool IsError(const Value& m) { return common::MessageType(m) == common::msg::kError; }

std::string CoreErrorText(const Value& m) {
  auto e = m.GetStringOr("error", "error");
  return e.ok() ? *e : "error";
}

std::string CoreErrorCode(const Value& m) {
  auto c = m.GetStringOr("code", "");
  return c.ok() ? *c : "";
}

Value DataOf(const Value& m) {
  const Value* d = m.Find("data");
  return d ? *d : Value();
}

// The agent a request names: agentId, else the <agent> of an agent:<agent>:... key.
std::string AgentOf(const Json& params, const std::string& session_key,
                    const common::Config& config) {
  std::string agent = StringOr(params, "agentId");
  if (!agent.empty()) return agent;
  std::string from_key = common::AgentOfSessionKey(session_key);
  return from_key.empty() ? DefaultAgentId(config) : from_key;
}

}  // namespace

MethodTable::MethodTable(Gateway& gw) : gw_(gw) {
  table_ = {
      {"agent", &MethodTable::Agent},
      {"agent.wait", &MethodTable::AgentWait},
      {"health", &MethodTable::Health},
      {"status", &MethodTable::Status},
      {"sessions.list", &MethodTable::SessionsList},
      {"workers.list", &MethodTable::WorkersList},
      {"workers.kill", &MethodTable::WorkersKill},
      {"workers.restart", &MethodTable::WorkersRestart},
      {"turns.cancel", &MethodTable::TurnsCancel},
      {"turns.get", &MethodTable::TurnsGet},
      {"cron.list", &MethodTable::CronMethod},
      {"cron.status", &MethodTable::CronMethod},
      {"cron.add", &MethodTable::CronMethod},
      {"cron.update", &MethodTable::CronMethod},
      {"cron.remove", &MethodTable::CronMethod},
      {"cron.run", &MethodTable::CronMethod},
      {"cron.runs", &MethodTable::CronMethod},
      {"subagents.spawn", &MethodTable::SubagentsSpawn},
      {"turns.recent", &MethodTable::TurnsRecent},
      {"laneway.status", &MethodTable::LanewayStatus},
  };
}

const char* MethodTable::ErrorCode(const std::string& core_code) {
  if (core_code == "unavailable" || core_code == "too_large" || core_code.empty()) {
    return kUnavailable;
  }
  // An id that was issued and fell out of the remembered window: not a bad request,
  // and retrying will not bring it back (docs/gateway.md).
  if (core_code == "forgotten") return kForgotten;
  return kInvalidRequest;
}

void MethodTable::Dispatch(const ReqFrame& req, const std::shared_ptr<Connection>& conn) {
  ++gw_.requests_total;
  if (req.method == "connect") {
    conn->SendFrame(ResError(req.id, kInvalidRequest, "connect: already connected"));
    return;
  }
  auto it = table_.find(req.method);
  if (it == table_.end()) {
    conn->SendFrame(ResError(req.id, kInvalidRequest, "unknown method: " + req.method));
    return;
  }
  (this->*(it->second))(req, conn);
}

void MethodTable::Agent(const ReqFrame& req, Weak conn) {
  const Json& p = req.params;
  auto mit = p.find("message");
  if (mit == p.end() || !mit->is_string() || mit->get<std::string>().empty()) {
    return Send(conn, ResError(req.id, kInvalidRequest,
                               "agent: params.message must be a non-empty string"));
  }
  std::string session_key = StringOr(p, "sessionKey");
  std::string agent = AgentOf(p, session_key, gw_.config);
  std::string run_id = StringOr(p, "idempotencyKey");
  if (run_id.empty()) run_id = NewUuid();
  if (run_id.size() > 256) {
    return Send(conn, ResError(req.id, kInvalidRequest, "agent: idempotencyKey is over 256 bytes"));
  }
  auto c = conn.lock();
  if (!c) return;
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("agent", agent);
  m.Set("message", mit->get<std::string>());
  m.Set("session", session_key.empty() ? std::string("main") : session_key);
  m.Set("wait", true);
  m.Set("stream", true);
  m.Set("idempotency_key", run_id);
  Value origin = Value::MakeMap();
  origin.Set("kind", "ws");
  origin.Set("conn", c->conn_id());
  m.Set("origin", std::move(origin));

  struct Run {
    std::string text;
    std::string session;
    int64_t seq = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  };
  auto run = std::make_shared<Run>();
  run->session = session_key;
  std::string id = req.id;
  gw_.core->Call(std::move(m), [conn, id, run_id, run](const Value& msg) {
    const std::string& type = common::MessageType(msg);
    if (auto s = msg.GetStringOr("session", ""); s.ok() && !s->empty()) run->session = *s;
    auto event = [&](const std::string& stream, Json data) {
      if (auto c = conn.lock()) {
        c->SendEvent("agent",
                     AgentEventPayload(run_id, stream, std::move(data), run->session, ++run->seq));
      }
    };
    if (type == common::msg::kAccepted) {
      Send(conn,
           ResOk(id, {{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", UnixMillis()}}));
      event("lifecycle", {{"phase", "start"}, {"startedAt", UnixMillis()}});
      return false;
    }
    if (type == common::msg::kProgress) {
      std::string delta = msg.GetStringOr("delta", "").ok() ? *msg.GetStringOr("delta", "") : "";
      run->text += delta;
      event("assistant", {{"text", run->text}, {"delta", delta}});
      return false;
    }
    if (type == common::msg::kOutcome) {
      int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - run->started)
                       .count();
      AgentResult r = FinalAgentResult(run_id, msg, ms);
      if (run->seq > 0) event("lifecycle", {{"phase", "end"}, {"endedAt", UnixMillis()}});
      Send(conn, r.ok ? ResOk(id, r.payload) : ResError(id, r.error_code, r.error_message));
      return true;
    }
    if (IsError(msg)) {
      Send(conn, ResError(id, ErrorCode(CoreErrorCode(msg)), "agent: " + CoreErrorText(msg)));
      return true;
    }
    return false;
  });
}

void MethodTable::AgentWait(const ReqFrame& req, Weak conn) {
  std::string run_id = StringOr(req.params, "runId");
  if (run_id.empty()) {
    return Send(conn, ResError(req.id, kInvalidRequest, "agent.wait: params.runId is required"));
  }
  int64_t timeout_ms = IntOr(req.params, "timeoutMs", kDefaultWaitMs);
  if (timeout_ms < 0) timeout_ms = 0;
  if (timeout_ms > kMaxWaitMs) timeout_ms = kMaxWaitMs;
  Value m = common::NewMessage(common::msg::kWait);
  m.Set("idempotency_key", run_id);
  auto timer = std::make_shared<boost::asio::steady_timer>(gw_.io);
  auto answered = std::make_shared<bool>(false);
  std::string id = req.id;
  int64_t core_id =
      gw_.core->Call(std::move(m), [conn, id, run_id, timer, answered](const Value& msg) {
        if (*answered) return true;
        const std::string& type = common::MessageType(msg);
        if (type == common::msg::kOutcome) {
          *answered = true;
          timer->cancel();
          Send(conn, ResOk(id, WaitPayload(run_id, msg)));
          return true;
        }
        if (IsError(msg)) {
          *answered = true;
          timer->cancel();
          std::string code = CoreErrorCode(msg);
          Send(conn, ResError(id, ErrorCode(code),
                              code == "unknown_turn" ? "agent.wait: unknown runId " + run_id
                                                     : "agent.wait: " + CoreErrorText(msg)));
          return true;
        }
        return false;
      });
  timer->expires_after(std::chrono::milliseconds(timeout_ms));
  CoreLink* core = gw_.core;
  timer->async_wait(
      [conn, id, run_id, answered, core, core_id](const boost::system::error_code& ec) {
        if (ec || *answered) return;
        *answered = true;
        core->Forget(core_id);
        Send(conn, ResOk(id, {{"runId", run_id}, {"status", "timeout"}}));
      });
}

void MethodTable::Simple(const ReqFrame& req, Weak conn, Value core_request, Shape shape) {
  std::string id = req.id;
  std::string method = req.method;
  gw_.core->Call(std::move(core_request), [conn, id, method, shape](const Value& msg) {
    if (common::MessageType(msg) == common::msg::kResult) {
      Send(conn, ResOk(id, shape(DataOf(msg))));
    } else if (IsError(msg)) {
      Send(conn, ResError(id, ErrorCode(CoreErrorCode(msg)), method + ": " + CoreErrorText(msg)));
    } else {
      Send(conn, ResError(id, kUnavailable,
                          method + ": unexpected core reply " + common::MessageType(msg)));
    }
    return true;
  });
}

void MethodTable::StatusAndSessions(
    std::function<void(const Value&, const Value&, const Value*)> done) {
  struct Join {
    Value status, sessions, error;
    int left = 2;
    bool failed = false;
  };
  auto j = std::make_shared<Join>();
  auto part = [j, done](Value Join::*slot) {
    return [j, done, slot](const Value& msg) {
      if (IsError(msg)) {
        j->failed = true;
        j->error = msg;
      } else {
        (*j).*slot = DataOf(msg);
      }
      if (--j->left == 0) done(j->status, j->sessions, j->failed ? &j->error : nullptr);
      return true;
    };
  };
  gw_.core->Call(common::NewMessage(common::msg::kStatus), part(&Join::status));
  gw_.core->Call(common::NewMessage(common::msg::kSessions), part(&Join::sessions));
}

void MethodTable::Health(const ReqFrame& req, Weak conn) {
  auto started = std::chrono::steady_clock::now();
  std::string id = req.id;
  const common::Config& config = gw_.config;
  StatusAndSessions(
      [conn, id, started, &config](const Value& st, const Value& ss, const Value* err) {
        if (err) return Send(conn, ResError(id, kUnavailable, "health: " + CoreErrorText(*err)));
        int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
        Send(conn, ResOk(id, HealthPayload(config, st, ss, ms)));
      });
}

void MethodTable::Status(const ReqFrame& req, Weak conn) {
  std::string id = req.id;
  const common::Config& config = gw_.config;
  StatusAndSessions([conn, id, &config](const Value& st, const Value& ss, const Value* err) {
    if (err) return Send(conn, ResError(id, kUnavailable, "status: " + CoreErrorText(*err)));
    Send(conn, ResOk(id, StatusPayload(config, st, ss)));
  });
}

void MethodTable::SessionsList(const ReqFrame& req, Weak conn) {
  const common::Config& config = gw_.config;
  Simple(req, conn, common::NewMessage(common::msg::kSessions),
         [&config](const Value& data) { return SessionsListPayload(config, data); });
}

void MethodTable::WorkersList(const ReqFrame& req, Weak conn) {
  Simple(req, conn, common::NewMessage(common::msg::kWorkers), [](const Value& data) {
    return Json{{"workers", ValueToJson(data)}};
  });
}

void MethodTable::SessionOp(const ReqFrame& req, Weak conn, std::string_view type) {
  std::string session = StringOr(req.params, "session");
  if (session.empty()) session = StringOr(req.params, "sessionKey");
  if (session.empty()) {
    return Send(conn,
                ResError(req.id, kInvalidRequest, req.method + ": params.session is required"));
  }
  Value m = common::NewMessage(type);
  m.Set("session", session);
  Simple(req, conn, std::move(m), [](const Value& data) { return ValueToJson(data); });
}

void MethodTable::WorkersKill(const ReqFrame& req, Weak conn) {
  SessionOp(req, conn, common::msg::kKill);
}

void MethodTable::WorkersRestart(const ReqFrame& req, Weak conn) {
  SessionOp(req, conn, common::msg::kRestart);
}

void MethodTable::TurnsCancel(const ReqFrame& req, Weak conn) {
  SessionOp(req, conn, common::msg::kCancel);
}

void MethodTable::TurnsGet(const ReqFrame& req, Weak conn) {
  Value m = common::NewMessage(common::msg::kTurn);
  std::string run_id = StringOr(req.params, "runId");
  int64_t turn_id = IntOr(req.params, "turnId", 0);
  if (!run_id.empty()) {
    m.Set("idempotency_key", run_id);
  } else if (turn_id > 0) {
    m.Set("turn_id", turn_id);
  } else {
    return Send(conn, ResError(req.id, kInvalidRequest,
                               "turns.get: params.runId or params.turnId is required"));
  }
  Simple(req, conn, std::move(m), [](const Value& data) { return ValueToJson(data); });
}


void MethodTable::TurnsRecent(const ReqFrame& req, Weak conn) {
  Simple(req, conn, common::NewMessage(common::msg::kRecentTurns), [](const Value& data) {
    return Json{{"turns", ValueToJson(data)}};
  });
}

void MethodTable::LanewayStatus(const ReqFrame& req, Weak conn) {
  Simple(req, conn, common::NewMessage(common::msg::kStatus),
         [](const Value& data) { return ValueToJson(data); });
}

}  // namespace laneway::supervisor::http
