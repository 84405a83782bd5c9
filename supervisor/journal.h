// The write-ahead journal of accepted turns (issue 4).
//
// File format (docs/protocol.md, "Journal"): a sequence of records
//   magic u32 LE (0x4C4A524E "NRJL") | length u32 LE | crc32c-or-crc32 u32 LE of payload | payload
// where payload is a msgpack map. The magic lets recovery resynchronise after a
// corrupt record instead of trusting or discarding everything behind it.
//
// Group commit: the supervisor's core loop Append()s every record produced in one
// loop iteration and Write()s the batch to the page cache; the journal's job thread
// (TurnLedger) Sync()s, and only then are the batch's senders acknowledged. The job
// thread also runs Compact() (a rewrite from memory), during which the loop only
// Append()s.
//
// Thread-safety: Append/pending by the owner; Write by the owner while no Sync or
// Compact runs on the job thread... except that Sync may overlap Write (fdatasync of
// an fd being appended to is safe). Compact must run alone.
#ifndef LANEWAY_SUPERVISOR_JOURNAL_H_
#define LANEWAY_SUPERVISOR_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace laneway::supervisor {

struct JournalRecord {
  // kDelivered: a channel confirmed that it delivered the turn's outcome
  // (docs/protocol.md, "Channel delivery"); it is never re-sent after a restart.
  // kHighWater: written by compaction only; turn_id is the highest id ever issued,
  // so ids are never reused and `forgotten` is told from `unknown_turn` after a
  // compaction that dropped every finished turn.
  enum class Type : uint8_t {
    kAccept = 1,
    kStart = 2,
    kOutcome = 3,
    kDelivered = 4,
    kHighWater = 5
  };
  Type type = Type::kAccept;
  uint64_t turn_id = 0;
  // kAccept
  std::string session;
  std::string agent;
  std::string message;
  int64_t accepted_unix_ms = 0;
  std::string origin;           // the turn's origin map, msgpack-encoded ("" = control)
  std::string idempotency_key;  // "" = none
  // kStart: the attempt number that started (1 for the first run).
  uint32_t attempt = 0;
  // kOutcome: status is one of replied|failed|timed_out|cancelled|rejected|interrupted;
  // text is the reply (replied) or the error (everything else).
  std::string status;
  std::string text;
  int64_t ended_unix_ms = 0;  // kOutcome: when it ended (0 = not recorded, older journals)

  bool operator==(const JournalRecord&) const = default;
};

// Encodes one record's payload (msgpack) and frame. Exposed for tests and benches.
std::string EncodeJournalFrame(const JournalRecord& record);

struct JournalRecovery {
  std::vector<JournalRecord> records;  // every valid record, in file order
  uint64_t corrupt_records = 0;        // frames skipped for a bad checksum or payload
  uint64_t truncated_bytes = 0;        // torn tail cut off the end of the file
};

// Hook for tests: called before each write(2) of a batch (Commit) or of a compacted
// file (Compact) with the byte count; a non-ok Status makes the write fail with that
// Status (as ENOSPC would).
using JournalWriteHook = std::function<common::Status(size_t bytes)>;
// Hook for tests: called by Sync(); a non-ok Status makes the sync fail with it (as
// an EIO from fdatasync would). Called on the journal's job thread.
using JournalSyncHook = std::function<common::Status()>;

class Journal {
 public:
  struct Options {
    std::string dir;              // $LANEWAY_HOME/journal; created 0700 if missing
    bool sync = true;             // fdatasync on Commit (tests may turn off)
    JournalWriteHook write_hook;  // optional fault injection
    JournalSyncHook sync_hook;    // optional fault injection
  };

  // Opens (creating if needed) dir/journal.log, reads every record, cuts a torn
  // or corrupt tail (truncating the file), and fills `recovery`.
  static common::Result<std::unique_ptr<Journal>> Open(const Options& options,
                                                       JournalRecovery* recovery);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Buffers a record for the next Commit(). Never fails.
  void Append(const JournalRecord& record);
  // Records buffered and not yet committed.
  size_t pending() const { return pending_count_; }
  // Writes the buffered batch with one write and one fdatasync. On any failure the
  // file is truncated back to the last committed size, the batch is dropped, and the
  // error (e.g. "journal write: No space left on device") returned.
  common::Status Commit();
  // Commit() without the fdatasync: the batch reaches the page cache only. The
  // supervisor's loop calls this and leaves Sync() to its sync thread.
  common::Status Write();
  // fdatasync of everything written so far (a no-op when Options::sync is off).
  // Safe to call from another thread while the owner calls Write() or Append();
  // not while it calls Compact(), which replaces the file.
  common::Status Sync();
  // Replaces the journal with exactly `live` (written to a temp file, fsynced,
  // renamed over, directory fsynced). Used when size_bytes() passes a threshold.
  common::Status Compact(const std::vector<JournalRecord>& live);

  uint64_t size_bytes() const { return committed_size_; }
  const std::string& path() const { return path_; }

 private:
  Journal(Options options, std::string path, int fd, uint64_t size);
  common::Status WriteBatch(bool sync);
  Options options_;
  std::string path_;
  int fd_ = -1;
  uint64_t committed_size_ = 0;
  std::string batch_;
  size_t pending_count_ = 0;
  bool batch_oversize_ = false;  // a buffered record exceeds the 64 MiB payload limit
  bool tail_dirty_ = false;      // a failed Commit could not cut its bytes off the file
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_JOURNAL_H_
