// QueuedBytes: the bytes of turn text the supervisor holds for unfinished turns
// (submitted, queued or running), per session and in total, so that memory is
// bounded by bytes and not only by turn counts (max_queue, max_turns_in_memory).
//
// The ledger counts a turn's message from the moment it is added (or recovered)
// until it ends or is refused; Core::AcceptTurn asks Refusal() before adding.
// Pure bookkeeping; loop thread only.
#ifndef LANEWAY_SUPERVISOR_QUEUED_BYTES_H_
#define LANEWAY_SUPERVISOR_QUEUED_BYTES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/config.h"

namespace laneway::supervisor {

class QueuedBytes {
 public:
  void Add(const std::string& session, uint64_t bytes);
  void Remove(const std::string& session, uint64_t bytes);

  uint64_t of(const std::string& session) const;
  uint64_t total() const { return total_; }

  // Why a new turn of `bytes` on `session` must be refused (a sentence naming
  // the key), or nullopt if it fits both bounds.
  std::optional<std::string> Refusal(const std::string& session, uint64_t bytes,
                                     const common::SupervisorConfig& cfg) const;

 private:
  std::unordered_map<std::string, uint64_t> by_session_;
  uint64_t total_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_QUEUED_BYTES_H_
