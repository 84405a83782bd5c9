// Notifier: laneway-supervisor's side of the systemd notify protocol (sd_notify(3),
// Debian's libsystemd-dev), and the test-only hook that wedges the loop.
//
// Contract:
//  - Inert unless NOTIFY_SOCKET is set: every call is then a no-op, so a supervisor
//    run from a terminal behaves exactly as before.
//  - The loop calls Tick() once per iteration, on the loop thread itself: WATCHDOG=1
//    goes out when half of WATCHDOG_USEC has passed since the last ping, so a loop
//    that stops iterating stops pinging and systemd's WatchdogSec= restarts it.
//    NextPing() bounds the loop's poll timeout so the ping is never late by more
//    than one iteration's work.
//  - Ready() (READY=1 and the status line) is sent once recovery is done and every
//    front door listens; Send() passes the core's notices (RELOADING=1, READY=1,
//    STOPPING=1, see Core::Options::notify) through; UpdateStatus() sends STATUS=
//    at most once per second and only when the line changed.
//  - The sender is a seam: unit tests record the datagrams instead of sending them.
//
// Thread-safety: none; loop thread only.
#ifndef LANEWAY_SUPERVISOR_NOTIFY_H_
#define LANEWAY_SUPERVISOR_NOTIFY_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace laneway::supervisor {

class Notifier {
 public:
  using Sender = std::function<void(const std::string& datagram)>;

  // From the environment: NOTIFY_SOCKET (enabled) and WATCHDOG_USEC / WATCHDOG_PID
  // (through sd_watchdog_enabled). Sends with sd_notify.
  static Notifier FromEnvironment();
  // For tests: enabled, pinging every watchdog/2 (0 = no watchdog), sending to `sender`.
  Notifier(bool enabled, std::chrono::microseconds watchdog, Sender sender);

  bool enabled() const { return enabled_; }
  std::chrono::microseconds watchdog() const { return watchdog_; }

  void Ready(common::SteadyTime now, const std::string& status);
  void Send(std::string_view notice);
  // Pings the watchdog when due.
  void Tick(common::SteadyTime now);
  std::optional<common::SteadyTime> NextPing() const;
  // `summary` is called only when a status update is due (at most once a second).
  void UpdateStatus(common::SteadyTime now, const std::function<std::string()>& summary);

 private:
  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
  Sender sender_;
  common::SteadyTime last_ping_{};
  common::SteadyTime last_status_check_{};
  std::string last_status_;
};

// The loop-wedging hook of the notify tests. Enabled only when the environment
// variable LANEWAY_TEST_WEDGE_FILE names a file path (never set in production):
// while that file exists, MaybeWedge() blocks the loop thread (checking every
// 20 ms), after creating "<file>.wedged" so the test knows the wedge holds.
class TestWedge {
 public:
  TestWedge();
  void MaybeWedge();

 private:
  std::string path_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_NOTIFY_H_
