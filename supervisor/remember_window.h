// RememberWindow: which finished turns the ledger still answers for (issue 9).
//
// Contract: the ledger hands it every turn that ends (Add: live turns in the order
// they end, recovered ones in id order at start-up) with its end time and the size
// of its reply or error text. Expire() names the turns to forget, oldest first. A
// finished turn is kept until one of these holds:
//   - more than `turns` newer finished turns exist (count bound);
//   - it ended more than `age` before `now` (age bound: older than remember_for);
//   - the kept texts add up to more than `bytes` (memory bound; the newest turn is
//     always kept).
// The age bound is checked from the oldest end on and stops at the first turn still
// young enough, so a turn whose clock reading is out of order (a wall-clock step)
// stays until those ahead of it go; `max_aged` bounds one call's work (the loop
// calls it once a second). Times are Unix ms from the core's Clock, because the
// window must hold across a restart, which steady time does not survive.
//
// Pure logic, no clock, no I/O. Thread-safety: none (the loop thread's).
#ifndef LANEWAY_SUPERVISOR_REMEMBER_WINDOW_H_
#define LANEWAY_SUPERVISOR_REMEMBER_WINDOW_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace laneway::supervisor {

class RememberWindow {
 public:
  struct Limits {
    size_t turns = 10000;
    std::chrono::milliseconds age{std::chrono::hours(24)};
    uint64_t bytes = 64ull << 20;
  };
  // The age sweep's work per call (the count and byte bounds are O(1) per Add).
  static constexpr size_t kMaxAgedPerCall = 4096;

  void Add(uint64_t id, int64_t ended_unix_ms, uint64_t bytes);
  // The ids that fall outside `limits` at `now_unix_ms`, oldest first; they are no
  // longer in the window. At most `max_aged` of them are forgotten by age.
  std::vector<uint64_t> Expire(const Limits& limits, int64_t now_unix_ms,
                               size_t max_aged = kMaxAgedPerCall);

  size_t size() const { return order_.size(); }
  uint64_t bytes() const { return bytes_; }
  // End time of the oldest turn kept (0 when empty).
  int64_t oldest_ended_unix_ms() const { return order_.empty() ? 0 : order_.front().ended; }

 private:
  struct Entry {
    uint64_t id;
    int64_t ended;
    uint64_t bytes;
  };
  std::deque<Entry> order_;  // oldest end first
  uint64_t bytes_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_REMEMBER_WINDOW_H_
