// CronStore: the durable half of cron, a jobs file under $LANEWAY_HOME/cron/
// (docs/cron.md "Durability").
//
// Contract:
//  - The file `jobs.json` holds every job with its run history, as one JSON
//    document. It is replaced whole, by write to `jobs.json.tmp`, fdatasync,
//    rename and fsync of the directory, so a reader (or a restart after kill -9)
//    sees the old file or the new one, never half of one.
//  - Writes run on the store's own job thread, never on the loop; the loop
//    submits one at a time and polls for its completion (Poll never blocks).
//  - Load runs at start-up, before the loop: a missing file is "no jobs", an
//    unreadable or malformed one is an error naming the file (the supervisor does
//    not start over jobs it cannot read).
//
// The exactly-once guarantee of firings does not rest on this file: it rests on
// the journal's idempotency keys (cron_service.h); the file may lag the journal
// by the last few runs, and start-up reconciles it from the journal.
//
// Thread-safety: loop thread only (the job thread touches only the file).
#ifndef LANEWAY_SUPERVISOR_CRON_CRON_STORE_H_
#define LANEWAY_SUPERVISOR_CRON_CRON_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "common/job_thread.h"
#include "common/status.h"
#include "common/value.h"

namespace laneway::supervisor::cron {

class CronStore {
 public:
  explicit CronStore(std::string dir);
  ~CronStore();

  // Creates the directory (0700) and starts the writer thread.
  common::Status Start();
  // The stored document ({"version": 1, "jobs": [...]}), or a map with no jobs.
  common::Result<common::Value> Load() const;
  // Hands the document to the writer. Precondition: !busy().
  void Submit(const common::Value& doc);
  bool busy() const;
  // The status of the write that just finished, if one did (never blocks).
  std::optional<common::Status> Poll();
  // Shutdown: waits for a running write, then writes `doc` here and now.
  common::Status WriteNow(const common::Value& doc);
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  std::unique_ptr<common::JobThread<std::string, common::Status>> writer_;
};

// Replaces `path` by `text` atomically and durably (see above).
common::Status ReplaceFileDurably(const std::string& path, const std::string& text);

}  // namespace laneway::supervisor::cron

#endif  // LANEWAY_SUPERVISOR_CRON_CRON_STORE_H_
