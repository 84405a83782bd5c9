// Scheduling pieces of the core loop, kept pure so they are unit-tested alone:
//  - SessionQueue: one session's FIFO of turns, bounded by max_queue, with the
//    `collect` mode's merging of turns that arrive while the session is busy;
//  - Admission: the sessions waiting for a worker slot under max_workers, served
//    first come, first served, each session at most once in line.
#ifndef LANEWAY_SUPERVISOR_SCHEDULER_H_
#define LANEWAY_SUPERVISOR_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace laneway::supervisor {

// One unit of work for a worker: normally one turn; in collect mode several turns
// merged into one run, each of which receives the run's outcome.
struct Batch {
  std::vector<uint64_t> turn_ids;
};

class SessionQueue {
 public:
  explicit SessionQueue(size_t max_turns) : max_turns_(max_turns) {}

  // Adds a turn at the back. With `merge` (collect mode and the session busy) the
  // turn joins the last waiting batch instead of starting a new one. Returns false
  // when max_turns turns are already queued (the caller rejects the turn), unless
  // `force` (turns recovered from the journal, or already checked, are never dropped).
  bool Push(uint64_t turn_id, bool merge, bool force = false);
  // Puts a batch back at the front (a running batch that must run again).
  void PushFront(Batch batch);
  std::optional<Batch> Pop();
  // Removes and returns everything (used when a session is parked).
  std::vector<uint64_t> Clear();

  size_t turns() const { return turn_count_; }
  bool empty() const { return batches_.empty(); }
  void set_max_turns(size_t n) { max_turns_ = n; }
  // A counter of every queue's turns (the session table's), kept with this one's.
  void set_total(size_t* total) { total_ = total; }

 private:
  void Count(size_t added, size_t removed);
  size_t max_turns_;
  size_t turn_count_ = 0;
  size_t* total_ = nullptr;
  std::deque<Batch> batches_;
};

class Admission {
 public:
  // Adds `session` at the back unless it is already waiting.
  void Enqueue(const std::string& session);
  void Remove(const std::string& session);
  // Takes the session at the front.
  std::optional<std::string> Next();
  bool Contains(const std::string& session) const { return waiting_.count(session) > 0; }
  size_t size() const { return waiting_.size(); }

 private:
  // order_ may hold entries of removed sessions; they are skipped lazily. The
  // sequence number tells a stale entry from the current one of a re-enqueued session.
  std::deque<std::pair<std::string, uint64_t>> order_;
  std::unordered_map<std::string, uint64_t> waiting_;
  uint64_t next_seq_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SCHEDULER_H_
