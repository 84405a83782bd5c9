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
  int64_t UnixMillis() const override {
    return 1'700'000'000'000 + wall_offset_ms_ + MillisSinceStart();
  }
  void Advance(std::chrono::milliseconds d) { now_ += d; }
  // The wall clock jumps (settimeofday, NTP step) while the steady clock does not.
  void JumpWall(std::chrono::milliseconds d) { wall_offset_ms_ += d.count(); }
  // Puts the wall clock at `unix_ms` now (tests of calendar schedules).
  void SetWall(int64_t unix_ms) {
    wall_offset_ms_ = unix_ms - 1'700'000'000'000 - MillisSinceStart();
  }
  int64_t MillisSinceStart() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - SteadyTime{}).count();
  }

 private:
  SteadyTime now_{};
  int64_t wall_offset_ms_ = 0;
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_CLOCK_H_
