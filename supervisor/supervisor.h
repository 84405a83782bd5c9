// Supervisor: the loop of laneway-supervisor and the sockets it owns.
//
// One thread polls the control ROUTER (CLI), the inproc ROUTER (channel threads),
// the worker ROUTER, a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP), the journal
// job thread's eventfd, and the core's timer heap, and hands what arrives to the
// Core (core.h), which decides everything. It never runs agent code and never
// blocks on anything but that poll. It also starts and stops the channels
// (channels/channel.h), after recovery and before the loop.
//
// Thread-safety: none; everything runs on the loop thread.
#ifndef LANEWAY_SUPERVISOR_SUPERVISOR_H_
#define LANEWAY_SUPERVISOR_SUPERVISOR_H_

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/file_lock.h"
#include "common/paths.h"
#include "common/status.h"
#include "supervisor/channels/channel.h"
#include "supervisor/local_launcher.h"

namespace laneway::supervisor {

class Core;

// Exit codes of laneway-supervisor (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 3;
inline constexpr int kExitAlreadyRunning = 4;
inline constexpr int kExitStartup = 5;

// Checks what the config parser cannot know: that this build has every agent's
// runner. "<source>: agents.<id>.runner: ..." on failure.
common::Status CheckRunnersAvailable(const common::Config& config);
// Every exec agent's command[0] resolves to an executable (a path, or a name on
// PATH). "<source>: agents.<id>.command[0]: ... is not executable (...)" otherwise.
common::Status CheckAgentCommands(const common::Config& config);

class Supervisor {
 public:
  struct Options {
    common::Paths paths;
    common::Config config;
    std::string config_path;    // "" = built-in default (reload re-reads this)
    std::string worker_binary;  // laneway-worker
  };

  explicit Supervisor(Options options);
  ~Supervisor();

  // Takes the instance lock, binds the sockets, opens the journal, recovers and
  // starts the channels. Returns a Status whose message is meant for the operator;
  // `exit_code` says which start-up failure it was.
  common::Status Start(int* exit_code);
  // Runs until shutdown completes. Returns the process exit code.
  int Run();

 private:
  struct Impl;  // sockets, the signalfd, the transport (keeps zmq out of this header)

  void PollOnce();
  void HandleSignals();
  void Reap();
  bool reap_more_ = false;  // more exited children than one pass reaps
  void StopChannels();

  Options opt_;
  common::SystemClock clock_;
  std::unique_ptr<LocalLauncher> launcher_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<common::FileLock> instance_lock_;
  std::unique_ptr<Core> core_;
  std::vector<std::unique_ptr<Channel>> channels_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SUPERVISOR_H_
