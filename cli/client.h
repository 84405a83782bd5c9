// Client: the CLI's connection to the supervisor's control socket (a DEALER).
// It never touches session files or the journal: everything goes through here.
#ifndef LANEWAY_CLI_CLIENT_H_
#define LANEWAY_CLI_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

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

class Client {
 public:
  // Fails (Unavailable) when no supervisor holds this home's instance lock.
  static common::Result<std::unique_ptr<Client>> Connect(const common::Paths& paths);
  ~Client();

  // Sends a request; sets its "id". Returns the id.
  common::Result<int64_t> Send(common::Value request);
  // Next message from the supervisor, or Unavailable("timeout") after `timeout`.
  common::Result<common::Value> Receive(std::chrono::milliseconds timeout);
  // One request, one reply ("result" or "error") with the same id.
  common::Result<common::Value> Call(common::Value request, std::chrono::milliseconds timeout);
  // Whether the supervisor process still holds its instance lock.
  bool SupervisorAlive() const;
  const common::Paths& paths() const { return paths_; }

 private:
  struct Impl;
  Client(common::Paths paths, std::unique_ptr<Impl> impl);
  common::Paths paths_;
  std::unique_ptr<Impl> impl_;
  int64_t next_id_ = 1;
};

// The message printed when no supervisor runs (exit code 3).
std::string UnreachableHint(const common::Paths& paths);

// Resolves LANEWAY_HOME and connects. On failure prints "laneway: <why>" to stderr,
// sets *exit_code (kExitUsage without a home, kExitUnreachable without a
// supervisor) and returns nullptr.
std::unique_ptr<Client> ConnectOrReport(int* exit_code);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_CLIENT_H_
