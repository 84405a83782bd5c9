// Recovery: from the journal's records to the turns a new supervisor must act on.
//
// Pure logic, no I/O, unit-tested. A turn is:
//  - done:        it has an outcome record (kept for `laneway wait`);
//  - queued:      accepted, never started -> re-queued in original order;
//  - was_running: started (attempt N) but no outcome -> re-queued if the agent has
//                 retry_on_restart, else ended 'interrupted'; a turn whose
//                 starts already reached max_attempts ends 'failed' reason 'poison'.
#ifndef LANEWAY_SUPERVISOR_RECOVERY_H_
#define LANEWAY_SUPERVISOR_RECOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/journal.h"

namespace laneway::supervisor {

struct RecoveredTurn {
  uint64_t turn_id = 0;
  std::string session;
  std::string agent;
  std::string message;
  int64_t accepted_unix_ms = 0;
  uint32_t attempts = 0;      // how many times it was started
  bool was_running = false;   // started, no outcome
  bool done = false;          // has an outcome
  std::string status;         // outcome status when done
  std::string text;           // outcome text when done
  int64_t ended_unix_ms = 0;  // when it ended, if the outcome record says (0 = unknown)
  std::string origin;         // msgpack-encoded origin map ("" = control)
  std::string idempotency_key;
  bool delivered = false;  // a channel confirmed delivery of the outcome
};

struct RecoveredState {
  // Every accepted turn, ordered by turn_id (= acceptance order).
  std::vector<RecoveredTurn> turns;
  // The highest id in any record (high-water marks and orphans included): ids are
  // issued from max_turn_id + 1 on.
  uint64_t max_turn_id = 0;
  uint64_t orphan_records = 0;  // start/outcome records whose accept record is missing
};

RecoveredState Recover(const std::vector<JournalRecord>& records);

// What to write when compacting: for every turn without an outcome its accept record
// (and its last start record, if any); for the newest `keep_done` finished turns
// their accept + outcome (+ delivered) records. Order: by turn_id, then one
// high-water record carrying state.max_turn_id (when it is not 0), so that the
// next supervisor issues ids after it even if no turn is left.
std::vector<JournalRecord> CompactionSet(const RecoveredState& state, size_t keep_done);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_RECOVERY_H_
