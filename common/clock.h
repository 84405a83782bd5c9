// The Clock seam: the supervisor's scheduling logic reads time only through it,
// so unit tests drive a ten-minute timeout in microseconds with a FakeClock.
#ifndef LANEWAY_COMMON_CLOCK_H_
#define LANEWAY_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace laneway::common {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;      // CLOCK_MONOTONIC
  virtual int64_t UnixMillis() const = 0;  // wall clock, for records people read
};

class SystemClock : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  int64_t UnixMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  int64_t UnixMillis() const override { return 1'700'000'000'000 + MillisSinceStart(); }
  void Advance(std::chrono::milliseconds d) { now_ += d; }
  int64_t MillisSinceStart() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - SteadyTime{}).count();
  }

 private:
  SteadyTime now_{};
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_CLOCK_H_
