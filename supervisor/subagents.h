// Subagents: turns started by a running turn, each on a session of its own
// (`agent:<agent>:subagent:<parent turn>-<n>`) with its own worker, never touching
// the parent's session or lock (docs/subagents.md). Owned by the Core.
//
// Contract:
//  - Spawn (control method `spawn`) checks the limits of [subagents] — depth,
//    unfinished children per parent session — and accepts the child through
//    Core::AcceptTurn with origin {kind: subagent, parent_turn, parent_session,
//    parent_agent, depth, timeout_ms, announce}. The reply is the usual `accepted`
//    (the child's turn id), and with `wait` the child's `outcome`.
//  - Without `wait`, the child's end is announced to the parent session as a new
//    turn, accepted with origin {kind: subagent, announce_for} and idempotency key
//    "subagent:<child turn id>". The journal makes the key durable with the
//    announcement, so it is made exactly once: Start (after the journal's
//    recovery) announces every ended child whose announcement the journal lacks.
//  - Admission: child sessions are admitted against subagents.max_workers, their
//    own share, not against supervisor.max_workers; parents never take a child's
//    slot and children never take a parent's, so a parent waiting on its children
//    cannot deadlock the pool (argument in docs/subagents.md). With max_depth > 1
//    the share keeps one slot per deeper level free of shallower children.
//  - A child's run timeout is its own (the spawn's --timeout, else
//    subagents.run_timeout), enforced by the normal run deadline and kill.
//  - `kill` of a parent session cancels its unfinished children when
//    subagents.kill_cancels_children.
//
// Thread-safety: loop thread only.
#ifndef LANEWAY_SUPERVISOR_SUBAGENTS_H_
#define LANEWAY_SUPERVISOR_SUBAGENTS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/value.h"
#include "supervisor/core_types.h"

namespace laneway::supervisor {

class Core;

// Whether `key` names a subagent session.
bool IsSubagentSession(const std::string& key);

class Subagents {
 public:
  explicit Subagents(Core& core);

  // After the journal's recovery: rebuilds the children index, restores their
  // run timeouts, announces ended children not yet announced.
  void Start();
  // The control method `spawn`.
  void Spawn(const Peer& peer, int64_t req, const common::Value& m);
  // Every turn's end (TurnLedger::End).
  void OnTurnEnded(const Turn& t);
  // A turn refused after it was added (the journal could not be written): a child
  // that will never run stops counting against its parent's limits; a refused
  // announcement is made again at the next housekeeping.
  void OnTurnRefused(const Turn& t, const std::string& why);
  // SessionTable::Schedule for a session without a worker: true if it is a child
  // session (then admitted or queued here), false for every other session.
  bool ScheduleChild(Session& s);
  // Starts workers for waiting children while their share allows.
  void AdmitWaiting();
  // `laneway kill` of `parent_session`.
  void OnParentKilled(const std::string& parent_session);
  void Housekeeping();

  // Workers of child sessions now alive, and of every other session.
  size_t child_workers() const;
  size_t parent_workers() const;
  // View annotations: a child session's parent; a parent's unfinished children.
  void Annotate(const Session& s, common::Value& row) const;

 private:
  struct Child {
    uint64_t turn_id = 0;
    std::string session;
    std::string parent_session;
    uint64_t parent_turn = 0;
    uint32_t depth = 1;
    bool ended = false;
  };
  void Track(const Turn& t);
  // Queues the announcement turn on the parent's session. A refusal the journal
  // caused (it cannot be written) leaves the announcement owed.
  void Announce(const Turn& child);
  size_t UnfinishedChildren(const std::string& parent_session) const;
  bool HasSlot(uint32_t depth) const;
  uint32_t DepthOf(const std::string& child_session) const;

  Core& core_;
  bool started_ = false;
  std::map<uint64_t, Child> children_;             // by child turn id
  std::map<std::string, uint64_t> by_session_;     // child session -> child turn id
  std::map<uint64_t, uint32_t> spawned_by_turn_;   // parent turn -> children spawned so far
  std::deque<std::string> waiting_;                // child sessions waiting for a slot
  std::set<std::string> finished_sessions_;        // ended children whose worker may linger
  std::set<uint64_t> owed_announcements_;          // child turn ids, refused by the journal
  // Every child session seen -> {parent session, parent turn}, for the views.
  std::map<std::string, std::pair<std::string, uint64_t>> parent_of_;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_SUBAGENTS_H_
