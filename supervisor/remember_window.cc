// The window is a queue in end order: the count and byte bounds drop from its
// front as turns are added, the age bound drops from its front when swept.
#include "supervisor/remember_window.h"

namespace laneway::supervisor {

void RememberWindow::Add(uint64_t id, int64_t ended_unix_ms, uint64_t bytes) {
  order_.push_back({id, ended_unix_ms, bytes});
  bytes_ += bytes;
}

std::vector<uint64_t> RememberWindow::Expire(const Limits& limits, int64_t now_unix_ms,
                                             size_t max_aged) {
  std::vector<uint64_t> out;
  auto pop = [&]() {
    out.push_back(order_.front().id);
    bytes_ -= order_.front().bytes;
    order_.pop_front();
  };
  // Count first, then bytes (keeping the newest), then age: each drops the oldest.
  while (order_.size() > limits.turns) pop();
  while (order_.size() > 1 && bytes_ > limits.bytes) pop();
  // "Older than remember_for": ended strictly more than `age` ago.
  const int64_t cutoff = now_unix_ms - limits.age.count();
  size_t aged = 0;
  while (!order_.empty() && aged < max_aged && order_.front().ended < cutoff) {
    pop();
    ++aged;
  }
  return out;
}

}  // namespace laneway::supervisor
