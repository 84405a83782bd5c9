// The journal's sync thread, so that the supervisor's core loop never blocks on
// the disk (DESIGN.md: "never blocks on I/O").
//
// The loop writes each batch to the page cache itself (Journal::Write, which is
// fast and reports ENOSPC at once) and submits "sync everything written so far,
// which is batch N"; when done_fd() turns readable, Take() says which batch is now
// durable. One request at a time; the loop coalesces all batches written meanwhile
// into the next request. Acknowledgements, dispatched runs and outcomes wait for
// the batch holding their records.
#ifndef LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_
#define LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_

#include <cstdint>
#include <memory>

#include "common/job_thread.h"
#include "common/status.h"
#include "supervisor/journal.h"

namespace laneway::supervisor {

struct SyncDone {
  uint64_t batch = 0;  // every batch up to this one is durable (if status is ok)
  common::Status status;
};

using JournalSyncer = common::JobThread<uint64_t, SyncDone>;

// `journal` must outlive the syncer.
inline common::Result<std::unique_ptr<JournalSyncer>> StartJournalSyncer(Journal* journal) {
  return JournalSyncer::Start([journal](uint64_t& batch) {
    return SyncDone{batch, journal->Sync()};
  });
}

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_
