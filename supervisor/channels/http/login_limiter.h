// LoginLimiter: failed logins on the gateway port, counted per client address,
// so that nobody can guess the token at line rate.
//
// Fixed windows: an address with `max_failures` failed logins within `window`
// of its first one is refused (HTTP 429 with Retry-After, or a WebSocket
// `connect` error) until that window ends; its credentials are not even
// compared meanwhile. A good login does not clear the count (an attacker with a
// valid token has nothing to guess). At most `max_addresses` are remembered:
// past that, expired windows go first, then the oldest.
//
// Pure logic with the time passed in; used on the channel thread only (not
// thread-safe).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_LOGIN_LIMITER_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_LOGIN_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace laneway::supervisor::http {

class LoginLimiter {
 public:
  using Time = std::chrono::steady_clock::time_point;
  struct Options {
    uint32_t max_failures = 10;
    std::chrono::seconds window{60};
    size_t max_addresses = 10000;
  };

  LoginLimiter() : LoginLimiter(Options{}) {}
  explicit LoginLimiter(Options options) : opt_(options) {}

  // 0 if `address` may try to log in now; else the whole seconds (at least 1)
  // until it may: the Retry-After value.
  int64_t RetryAfterSeconds(const std::string& address, Time now) const;
  void RecordFailure(const std::string& address, Time now);

  size_t tracked() const { return windows_.size(); }
  uint64_t refused() const { return refused_; }
  void CountRefusal() { ++refused_; }

 private:
  struct Window {
    Time start;
    uint32_t failures = 0;
  };
  void MakeRoom(Time now);

  Options opt_;
  std::unordered_map<std::string, Window> windows_;
  uint64_t refused_ = 0;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_LOGIN_LIMITER_H_
