// Client: the CLI's connection to the supervisor's control socket (a DEALER).
// It never touches session files or the journal: everything goes through here.
//
// One client sends one request at a time and waits for its answers. A reply
// carrying id 0 is the supervisor's answer to a request it could not read (too
// large, undecodable): while a request is outstanding it is taken as the answer
// to that request, since nothing else on this socket can have caused it.
#ifndef LANEWAY_CLI_CLIENT_H_
#define LANEWAY_CLI_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "cli/output.h"
#include "common/paths.h"
#include "common/status.h"
#include "common/value.h"

namespace laneway::cli {

// CLI exit codes (DESIGN.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitPending = 4;
// wait / turn: the id was issued but its outcome fell out of the supervisor's
// remembered window (remember_turns, remember_for); code "forgotten".
inline constexpr int kExitForgotten = 6;

class Client {
 public:
  // Unavailable when no supervisor holds this home's instance lock;
  // FailedPrecondition (with the path and the permission, access_check.h) when
  // this user may not read the lock or connect to the control socket.
  static common::Result<std::unique_ptr<Client>> Connect(const common::Paths& paths);
  ~Client();

  // Sends a request; sets its "id". Returns the id.
  common::Result<int64_t> Send(common::Value request);
  // Next message from the supervisor, or Unavailable("timeout") after `timeout`.
  common::Result<common::Value> Receive(std::chrono::milliseconds timeout);
  // One request, one reply ("result" or "error") with the same id, or an
  // "error" with id 0 (see above).
  common::Result<common::Value> Call(common::Value request, std::chrono::milliseconds timeout);
  // Whether `m` answers request `req`: its id, or an error with id 0.
  static bool Answers(const common::Value& m, int64_t req);
  // Whether the connection to the supervisor was closed since the last call (the
  // supervisor drops a peer whose frame is past its hard bound).
  bool WasDisconnected();
  // Whether the supervisor refused this connection by its peer-credential check
  // (supervisor/peer_auth.h): ZMQ_EVENT_HANDSHAKE_FAILED_AUTH was seen.
  bool WasRefused();
  // Whether the supervisor process still holds its instance lock.
  bool SupervisorAlive() const;
  const common::Paths& paths() const { return paths_; }
  // Size in bytes of the last request sent (encoded, envelope included).
  size_t last_request_bytes() const { return last_request_bytes_; }

 private:
  struct Impl;
  Client(common::Paths paths, std::unique_ptr<Impl> impl);
  common::Paths paths_;
  std::unique_ptr<Impl> impl_;
  int64_t next_id_ = 1;
  size_t last_request_bytes_ = 0;
};

// The message printed when no supervisor runs (exit code 3).
std::string UnreachableHint(const common::Paths& paths);

// "permission denied: the supervisor ... refused this connection (uid N ...)".
std::string RefusedMessage(const common::Paths& paths);

// The failure for a Connect error: unreachable, permission_denied (exit 3).
Failure ConnectFailure(const common::Status& st);

// Resolves LANEWAY_HOME and connects. On failure reports through `out` (no_home
// exit 2, unreachable or permission_denied exit 3), sets *exit_code and returns
// nullptr.
std::unique_ptr<Client> ConnectOrReport(const Output& out, int* exit_code);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_CLIENT_H_
