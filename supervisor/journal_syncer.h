// JournalSyncer: the thread that fdatasyncs the journal, so that the supervisor's
// core loop never blocks on the disk (DESIGN.md: "never blocks on I/O").
//
// The loop writes each batch to the page cache itself (Journal::Write, which is
// fast and reports ENOSPC at once) and asks for a sync of everything written up to
// batch N; when done_fd() turns readable, Take() says which batch is now durable.
// One request at a time; the loop coalesces all batches written meanwhile into the
// next request. Acknowledgements, dispatched runs and outcomes wait for the batch
// holding their records.
#ifndef LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_
#define LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/status.h"
#include "supervisor/journal.h"

namespace laneway::supervisor {

class JournalSyncer {
 public:
  struct Done {
    uint64_t batch = 0;  // every batch up to this one is durable (if status is ok)
    common::Status status;
  };

  // `journal` must outlive this object.
  static common::Result<std::unique_ptr<JournalSyncer>> Start(Journal* journal);
  ~JournalSyncer();  // finishes a running sync, then joins
  JournalSyncer(const JournalSyncer&) = delete;
  JournalSyncer& operator=(const JournalSyncer&) = delete;

  // Syncs everything written so far, calling it batch `batch`. Only when idle().
  void Request(uint64_t batch);
  bool idle() const { return !in_flight_; }
  int done_fd() const { return done_fd_; }
  // Call when done_fd() is readable.
  Done Take();

 private:
  JournalSyncer(Journal* journal, int done_fd);
  void Loop();

  Journal* journal_;
  int done_fd_;
  bool in_flight_ = false;  // loop thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<uint64_t> request_;
  Done done_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_JOURNAL_SYNCER_H_
