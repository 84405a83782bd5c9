// PeerAuth: who may connect to the supervisor's IPC doors, decided from the
// kernel's SO_PEERCRED of each connecting unix socket.
//
// Mechanism (shown to work with Debian's libzmq 4.3.4 by PeerCred* tests): a
// ROUTER bound to inproc://zeromq.zap.01 is the context's ZAP handler; the control
// and worker ROUTERs set a ZAP domain, so libzmq asks the handler about every new
// ipc connection before it passes any message. For an ipc peer the request's
// address frame is "localhost:<uid>:<gid>:<pid>" (":<uid>:<gid>:<pid>" in older
// releases), which libzmq reads with SO_PEERCRED when the connection is accepted. A refused peer's handshake fails (the client
// sees ZMQ_EVENT_HANDSHAKE_FAILED_AUTH); none of its messages reaches the core.
//
//   control domain: the supervisor's own uid, root, the uids of
//                   [supervisor] control_allow_uids, and the gid and members of
//                   control_allow_group.
//   worker domain:  the supervisor's own uid and a pid the worker pool started
//                   (`is_worker_pid`). A pid the pool does not know yet is held
//                   for kWorkerPidGrace (a launcher may report it late), then
//                   refused.
//
// A refused peer is logged once per (door, uid) and counted (`on_refused`).
// Thread-safety: none; the supervisor's loop thread polls socket() and calls
// the rest.
#ifndef LANEWAY_SUPERVISOR_PEER_AUTH_H_
#define LANEWAY_SUPERVISOR_PEER_AUTH_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/status.h"

namespace laneway::supervisor {

inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
inline constexpr const char* kControlZapDomain = "laneway-control";
inline constexpr const char* kWorkerZapDomain = "laneway-worker";
inline constexpr std::chrono::milliseconds kWorkerPidGrace{2000};

struct PeerCred {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  bool operator==(const PeerCred&) const = default;
};

// "localhost:uid:gid:pid" or ":uid:gid:pid" (what libzmq puts in a ZAP request
// for an ipc peer). nullopt for anything else (a tcp peer's "1.2.3.4", garbage).
std::optional<PeerCred> ParseZapAddress(std::string_view address);

// Who may use the control socket: the pure rule, resolved from the config.
struct ControlAccess {
  uint32_t own_uid = 0;
  std::vector<uint32_t> uids;         // control_allow_uids
  std::optional<uint32_t> group_gid;  // control_allow_group's gid
  std::vector<uint32_t> member_uids;  // its members by name (from the group database)

  bool Allows(const PeerCred& c) const;
};

// Resolves control_allow_group through the group and user databases (once, at
// start: never on the loop). FailedPrecondition naming the key if the group
// does not exist.
common::Result<ControlAccess> ResolveControlAccess(const common::SupervisorConfig& cfg,
                                                   uint32_t own_uid);

enum class PeerVerdict { kAllow, kRefuse, kWait };

// The decision for one ZAP request, without sockets (unit-testable).
PeerVerdict DecidePeer(std::string_view domain, const std::optional<PeerCred>& cred,
                       const ControlAccess& control,
                       const std::function<bool(pid_t)>& is_worker_pid);

class PeerAuth {
 public:
  struct Options {
    ControlAccess control;
    std::function<bool(pid_t)> is_worker_pid;  // may be called before the pool exists
    std::function<void()> on_refused;          // counts a refusal
    const common::Clock* clock = nullptr;
  };

  // `zmq_context` is the zmq::context_t* whose sockets it guards (void* keeps
  // zmq out of this header).
  PeerAuth(void* zmq_context, Options options);
  ~PeerAuth();

  // Binds the ZAP endpoint. Must precede the binds of the guarded sockets.
  common::Status Start();
  // The ZAP ROUTER's libzmq handle, for the loop's poll.
  void* socket_handle();
  // Answers the requests that have arrived, and those waiting on a worker pid.
  void Process();
  bool has_waiting() const { return !waiting_.empty(); }
  uint64_t refused() const { return refused_; }

 private:
  struct Request {
    std::string routing_id;  // the ZAP ROUTER's id of the asking session
    std::string request_id;
    std::string domain;
    std::string address;
    common::SteadyTime first_seen;
  };
  struct Impl;
  // Answers `r` if it can be decided now; false if it must wait.
  bool Settle(const Request& r, common::SteadyTime now);
  void Answer(const Request& r, bool allow);
  void NoteRefusal(const Request& r, const std::optional<PeerCred>& cred);

  Options opt_;
  std::unique_ptr<Impl> impl_;
  std::vector<Request> waiting_;
  std::set<std::pair<std::string, uint32_t>> logged_;  // (domain, uid) already logged
  uint64_t refused_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_PEER_AUTH_H_
