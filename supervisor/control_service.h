// ControlService: the one method table every front door shares (the control
// socket, the inproc door of channel threads), with each method's argument checks
// and the permission it needs, and the status / workers / sessions / turn views.
//
// Contract: every request gets exactly one reply (or, for submit and wait, the
// acknowledgement and outcome the ledger sends), carrying the request's id — also
// a refusal of a request too large to decode whole. Handlers answer at once; none
// waits. A door's permission bounds what its peers may call: control = admin,
// inproc = operate (channels authenticate their own clients).
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_CONTROL_SERVICE_H_
#define LANEWAY_SUPERVISOR_CONTROL_SERVICE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/value.h"
#include "supervisor/core_types.h"

namespace laneway::supervisor {

class Core;

class ControlService {
 public:
  enum class Permission : uint8_t { kRead, kSubmit, kOperate, kAdmin };
  struct Method {
    std::string_view name;
    Permission permission;
    void (ControlService::*handler)(const Peer&, int64_t, const common::Value&);
  };

  explicit ControlService(Core& core) : core_(core) {}

  void OnMessage(const Peer& peer, const void* data, size_t size);

  // The method table (for tests and docs).
  static const Method* FindMethod(std::string_view name);
  static Permission DoorPermission(Door door);

  common::Value StatusView() const;
  common::Value WorkersView() const;
  common::Value SessionsView() const;
  common::Value TurnView(const Turn& t) const;

  // A submit refused before acceptance: one outcome with status rejected.
  // A `rejected` outcome (turn_id null). `retryable`: the refusal is transient (the
  // journal cannot be written); the same submit may be accepted later.
  void Reject(const Peer& peer, int64_t req, const std::string& session, const std::string& reason,
              bool retryable = false);
  void ReplyError(const Peer& peer, int64_t req, const std::string& code, const std::string& error);
  void ReplyResult(const Peer& peer, int64_t req, common::Value data);

 private:
  void Submit(const Peer& peer, int64_t req, const common::Value& m);
  void Wait(const Peer& peer, int64_t req, const common::Value& m);
  void GetTurn(const Peer& peer, int64_t req, const common::Value& m);
  void View(const Peer& peer, int64_t req, const common::Value& m);
  void Operate(const Peer& peer, int64_t req, const common::Value& m);
  void Subscribe(const Peer& peer, int64_t req, const common::Value& m);
  void Delivered(const Peer& peer, int64_t req, const common::Value& m);
  void Shutdown(const Peer& peer, int64_t req, const common::Value& m);
  void Reload(const Peer& peer, int64_t req, const common::Value& m);
  void Ping(const Peer& peer, int64_t req, const common::Value& m);
  void Cron(const Peer& peer, int64_t req, const common::Value& m);   // cron/cron_service.h
  void Spawn(const Peer& peer, int64_t req, const common::Value& m);  // subagents.h
  void Metrics(const Peer& peer, int64_t req, const common::Value& m);
  void RecentTurns(const Peer& peer, int64_t req, const common::Value& m);
  // A turn by "turn_id" or "idempotency_key"; an error reply and nullptr if none.
  Turn* FindTurnFor(const Peer& peer, int64_t req, const common::Value& m);

  Core& core_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CONTROL_SERVICE_H_
