#include "supervisor/queued_bytes.h"

namespace laneway::supervisor {

void QueuedBytes::Add(const std::string& session, uint64_t bytes) {
  by_session_[session] += bytes;
  total_ += bytes;
}

void QueuedBytes::Remove(const std::string& session, uint64_t bytes) {
  auto it = by_session_.find(session);
  if (it == by_session_.end()) return;  // never added: nothing to give back
  const uint64_t n = bytes < it->second ? bytes : it->second;
  it->second -= n;
  total_ -= n;
  // Sessions with nothing held are forgotten: 10,000 idle sessions cost nothing.
  if (it->second == 0) by_session_.erase(it);
}

uint64_t QueuedBytes::of(const std::string& session) const {
  auto it = by_session_.find(session);
  return it == by_session_.end() ? 0 : it->second;
}

std::optional<std::string> QueuedBytes::Refusal(const std::string& session, uint64_t bytes,
                                                const common::SupervisorConfig& cfg) const {
  const uint64_t mine = of(session);
  if (mine + bytes > cfg.max_queued_bytes_per_session) {
    return "queue full: session " + session + " holds " + std::to_string(mine) +
           " bytes of unfinished turns and this message has " + std::to_string(bytes) +
           " (max_queued_bytes_per_session = " + std::to_string(cfg.max_queued_bytes_per_session) +
           ")";
  }
  if (total_ + bytes > cfg.max_queued_bytes_total) {
    return "the supervisor holds " + std::to_string(total_) +
           " bytes of unfinished turns and this message has " + std::to_string(bytes) +
           " (max_queued_bytes_total = " + std::to_string(cfg.max_queued_bytes_total) +
           "); retry later";
  }
  return std::nullopt;
}

}  // namespace laneway::supervisor
