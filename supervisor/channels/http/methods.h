// MethodTable: the protocol-3 methods (GATEWAY-PROTOCOL.md) mapped onto core
// requests (docs/protocol.md) over the CoreLink, and the core's answers mapped
// back onto res frames and agent events.
//
// Contract:
//  - Dispatch() is called on the channel thread for each request after
//    `connect`; it answers every request exactly once with a res (twice for
//    `agent`: accepted, then final), ok:false naming the method when unknown.
//  - It holds connections weakly: nothing is sent to a connection that closed,
//    and nothing is cancelled in the core because a client left.
//  - `agent` submits with origin {kind: "ws", conn}, idempotency_key = runId
//    (the request's idempotencyKey, or a fresh uuid) and stream: true.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_METHODS_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_METHODS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/value.h"
#include "supervisor/channels/http/connection.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/gateway.h"

namespace laneway::supervisor::http {

class MethodTable {
 public:
  explicit MethodTable(Gateway& gw);

  void Dispatch(const ReqFrame& req, const std::shared_ptr<Connection>& conn);

  // Core error codes -> protocol-3 codes.
  static const char* ErrorCode(const std::string& core_code);

 private:
  using Weak = std::weak_ptr<Connection>;
  using Method = void (MethodTable::*)(const ReqFrame&, Weak);
  // The core's reply data, or a core error message (type "error").
  using Shape = std::function<Json(const common::Value& data)>;

  void Agent(const ReqFrame& req, Weak conn);
  void AgentWait(const ReqFrame& req, Weak conn);
  void Health(const ReqFrame& req, Weak conn);
  void Status(const ReqFrame& req, Weak conn);
  void SessionsList(const ReqFrame& req, Weak conn);
  void WorkersList(const ReqFrame& req, Weak conn);
  void WorkersKill(const ReqFrame& req, Weak conn);
  void WorkersRestart(const ReqFrame& req, Weak conn);
  void TurnsCancel(const ReqFrame& req, Weak conn);
  void TurnsGet(const ReqFrame& req, Weak conn);
  // cron.* (docs/cron.md) and subagents.spawn (docs/subagents.md): methods_cron.cc.
  void CronMethod(const ReqFrame& req, Weak conn);
  void SubagentsSpawn(const ReqFrame& req, Weak conn);
  // The last outcomes (the control page's "recent turns"), newest first.
  void TurnsRecent(const ReqFrame& req, Weak conn);
  // laneway's own status alone (no session list; the control page polls it).
  void LanewayStatus(const ReqFrame& req, Weak conn);

  // One core request whose `result` data becomes the payload through `shape`.
  void Simple(const ReqFrame& req, Weak conn, common::Value core_request, Shape shape);
  // `status` and `sessions` together (health, status).
  void StatusAndSessions(
      std::function<void(const common::Value& status, const common::Value& sessions,
                         const common::Value* error)>
          done);
  // A session operation taking params.session (or params.sessionKey).
  void SessionOp(const ReqFrame& req, Weak conn, std::string_view type);

  Gateway& gw_;
  std::map<std::string, Method, std::less<>> table_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_METHODS_H_
