#include "supervisor/channels/http/login_limiter.h"

#include <algorithm>

namespace laneway::supervisor::http {

int64_t LoginLimiter::RetryAfterSeconds(const std::string& address, Time now) const {
  auto it = windows_.find(address);
  if (it == windows_.end() || it->second.failures < opt_.max_failures) return 0;
  const Time end = it->second.start + opt_.window;
  if (now >= end) return 0;
  // Rounded up: a client that waits exactly Retry-After seconds is let in.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
  return std::max<int64_t>(1, (ms + 999) / 1000);
}

void LoginLimiter::RecordFailure(const std::string& address, Time now) {
  auto it = windows_.find(address);
  if (it == windows_.end()) {
    if (windows_.size() >= opt_.max_addresses) MakeRoom(now);
    it = windows_.emplace(address, Window{now, 0}).first;
  } else if (now >= it->second.start + opt_.window) {
    it->second = Window{now, 0};
  }
  if (it->second.failures < UINT32_MAX) ++it->second.failures;
}

void LoginLimiter::MakeRoom(Time now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    it = now >= it->second.start + opt_.window ? windows_.erase(it) : std::next(it);
  }
  if (windows_.size() < opt_.max_addresses) return;
  // All live: drop the oldest window (O(n), only when the table is full of
  // addresses that are all failing right now).
  auto oldest = std::min_element(
      windows_.begin(), windows_.end(),
      [](const auto& a, const auto& b) { return a.second.start < b.second.start; });
  if (oldest != windows_.end()) windows_.erase(oldest);
}

}  // namespace laneway::supervisor::http
