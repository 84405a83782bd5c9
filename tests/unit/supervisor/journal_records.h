// Builders of journal records for the journal and recovery tests.
#ifndef LANEWAY_TESTS_UNIT_SUPERVISOR_JOURNAL_RECORDS_H_
#define LANEWAY_TESTS_UNIT_SUPERVISOR_JOURNAL_RECORDS_H_

#include <string>
#include <utility>

#include "supervisor/journal.h"

namespace laneway::supervisor::test_records {

inline JournalRecord Accept(uint64_t id, std::string message = "hello") {
  JournalRecord r;
  r.type = JournalRecord::Type::kAccept;
  r.turn_id = id;
  r.session = "agent:main:s" + std::to_string(id);
  r.agent = "main";
  r.message = std::move(message);
  r.accepted_unix_ms = 1700000000000 + static_cast<int64_t>(id);
  return r;
}

inline JournalRecord Start(uint64_t id, uint32_t attempt) {
  JournalRecord r;
  r.type = JournalRecord::Type::kStart;
  r.turn_id = id;
  r.attempt = attempt;
  return r;
}

inline JournalRecord Outcome(uint64_t id, std::string status, std::string text) {
  JournalRecord r;
  r.type = JournalRecord::Type::kOutcome;
  r.turn_id = id;
  r.status = std::move(status);
  r.text = std::move(text);
  return r;
}

inline JournalRecord HighWater(uint64_t id) {
  JournalRecord r;
  r.type = JournalRecord::Type::kHighWater;
  r.turn_id = id;
  return r;
}

}  // namespace laneway::supervisor::test_records

#endif  // LANEWAY_TESTS_UNIT_SUPERVISOR_JOURNAL_RECORDS_H_
