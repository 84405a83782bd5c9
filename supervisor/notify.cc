#include "supervisor/notify.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "common/log.h"

namespace laneway::supervisor {

namespace {

constexpr auto kStatusEvery = std::chrono::seconds(1);

}  // namespace

Notifier Notifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return Notifier(false, {}, nullptr);
  uint64_t usec = 0;
  // > 0 only if WATCHDOG_USEC is set and WATCHDOG_PID (when set) is our pid.
  if (sd_watchdog_enabled(0, &usec) <= 0) usec = 0;
  common::LogLine(common::LogLevel::kInfo, "systemd_notify")
      .Kv("socket", socket)
      .Kv("watchdog_usec", usec);
  return Notifier(true, std::chrono::microseconds(usec), [](const std::string& datagram) {
    // A failed notice is not worth a log line per iteration: systemd notices the
    // missing pings (and READY=1) on its own.
    (void)sd_notify(0, datagram.c_str());
  });
}

Notifier::Notifier(bool enabled, std::chrono::microseconds watchdog, Sender sender)
    : enabled_(enabled && sender != nullptr), watchdog_(watchdog), sender_(std::move(sender)) {}

void Notifier::Ready(common::SteadyTime now, const std::string& status) {
  if (!enabled_) return;
  last_status_ = status;
  last_status_check_ = now;
  sender_("READY=1\nSTATUS=" + status);
  if (watchdog_.count() > 0) {
    last_ping_ = now;
    sender_("WATCHDOG=1");
  }
}

void Notifier::Send(std::string_view notice) {
  if (enabled_) sender_(std::string(notice));
}

void Notifier::Tick(common::SteadyTime now) {
  if (!enabled_ || watchdog_.count() <= 0) return;
  if (now - last_ping_ < watchdog_ / 2) return;
  last_ping_ = now;
  sender_("WATCHDOG=1");
}

std::optional<common::SteadyTime> Notifier::NextPing() const {
  if (!enabled_ || watchdog_.count() <= 0) return std::nullopt;
  return last_ping_ + std::chrono::duration_cast<common::SteadyTime::duration>(watchdog_ / 2);
}

void Notifier::UpdateStatus(common::SteadyTime now, const std::function<std::string()>& summary) {
  if (!enabled_ || now - last_status_check_ < kStatusEvery) return;
  last_status_check_ = now;
  std::string line = summary();
  if (line == last_status_) return;
  last_status_ = line;
  sender_("STATUS=" + line);
}

TestWedge::TestWedge() {
  if (const char* p = std::getenv("LANEWAY_TEST_WEDGE_FILE"); p && *p) path_ = p;
}

void TestWedge::MaybeWedge() {
  if (path_.empty() || ::access(path_.c_str(), F_OK) != 0) return;
  common::LogLine(common::LogLevel::kWarn, "test_wedge").Kv("file", path_);
  const std::string marker = path_ + ".wedged";
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  // Deliberately blocks the loop thread: that is what the test simulates.
  while (::access(path_.c_str(), F_OK) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::unlink(marker.c_str());
  common::LogLine(common::LogLevel::kWarn, "test_wedge_released").Kv("file", path_);
}

}  // namespace laneway::supervisor
