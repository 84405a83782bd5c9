#include "supervisor/recovery.h"

#include <algorithm>
#include <unordered_map>

namespace laneway::supervisor {

using Type = JournalRecord::Type;

RecoveredState Recover(const std::vector<JournalRecord>& records) {
  RecoveredState state;
  std::unordered_map<uint64_t, size_t> index;  // turn_id -> position in state.turns

  // Accepts first, then starts and outcomes: a start or outcome is matched to its
  // turn wherever the accept sits in the file (compaction rewrites in turn order,
  // not in the order things happened).
  for (const JournalRecord& r : records) {
    state.max_turn_id = std::max(state.max_turn_id, r.turn_id);
    if (r.type != Type::kAccept) continue;
    // A repeated accept of the same turn adds nothing; the first one stands.
    if (!index.emplace(r.turn_id, state.turns.size()).second) continue;
    RecoveredTurn turn;
    turn.turn_id = r.turn_id;
    turn.session = r.session;
    turn.agent = r.agent;
    turn.message = r.message;
    turn.accepted_unix_ms = r.accepted_unix_ms;
    turn.origin = r.origin;
    turn.idempotency_key = r.idempotency_key;
    state.turns.push_back(std::move(turn));
  }

  for (const JournalRecord& r : records) {
    if (r.type == Type::kAccept || r.type == Type::kHighWater) continue;
    auto it = index.find(r.turn_id);
    if (it == index.end()) {
      ++state.orphan_records;
      continue;
    }
    RecoveredTurn& turn = state.turns[it->second];
    if (r.type == Type::kStart) {
      // A start record always means "ran at least once", even if its attempt
      // number is missing (0).
      turn.attempts = std::max(turn.attempts, std::max<uint32_t>(r.attempt, 1));
    } else if (r.type == Type::kDelivered) {
      turn.delivered = true;
    } else if (!turn.done) {  // kOutcome: the first one wins
      turn.done = true;
      turn.status = r.status;
      turn.text = r.text;
      turn.ended_unix_ms = r.ended_unix_ms;
    }
  }

  for (RecoveredTurn& turn : state.turns) turn.was_running = turn.attempts > 0 && !turn.done;
  std::sort(state.turns.begin(), state.turns.end(),
            [](const RecoveredTurn& a, const RecoveredTurn& b) { return a.turn_id < b.turn_id; });
  return state;
}

std::vector<JournalRecord> CompactionSet(const RecoveredState& state, size_t keep_done) {
  std::vector<const RecoveredTurn*> turns;
  turns.reserve(state.turns.size());
  size_t done_count = 0;
  for (const RecoveredTurn& turn : state.turns) {
    turns.push_back(&turn);
    if (turn.done) ++done_count;
  }
  std::stable_sort(turns.begin(), turns.end(), [](const RecoveredTurn* a, const RecoveredTurn* b) {
    return a->turn_id < b->turn_id;
  });

  // Finished turns are walked oldest first; the first `skip_done` of them are dropped.
  size_t skip_done = done_count > keep_done ? done_count - keep_done : 0;
  std::vector<JournalRecord> out;
  for (const RecoveredTurn* turn : turns) {
    if (turn->done && skip_done > 0) {
      --skip_done;
      continue;
    }
    JournalRecord accept;
    accept.type = Type::kAccept;
    accept.turn_id = turn->turn_id;
    accept.session = turn->session;
    accept.agent = turn->agent;
    accept.message = turn->message;
    accept.accepted_unix_ms = turn->accepted_unix_ms;
    accept.origin = turn->origin;
    accept.idempotency_key = turn->idempotency_key;
    out.push_back(std::move(accept));
    if (turn->done) {
      JournalRecord outcome;
      outcome.type = Type::kOutcome;
      outcome.turn_id = turn->turn_id;
      outcome.status = turn->status;
      outcome.text = turn->text;
      outcome.ended_unix_ms = turn->ended_unix_ms;
      out.push_back(std::move(outcome));
      if (turn->delivered) {
        JournalRecord delivered;
        delivered.type = Type::kDelivered;
        delivered.turn_id = turn->turn_id;
        out.push_back(std::move(delivered));
      }
    } else if (turn->attempts > 0) {
      // The last start carries the attempt count, which is all recovery needs to
      // tell a turn that was running (and how often) from one still queued.
      JournalRecord start;
      start.type = Type::kStart;
      start.turn_id = turn->turn_id;
      start.attempt = turn->attempts;
      out.push_back(std::move(start));
    }
  }
  if (state.max_turn_id != 0) {
    JournalRecord high;
    high.type = Type::kHighWater;
    high.turn_id = state.max_turn_id;
    out.push_back(std::move(high));
  }
  return out;
}

}  // namespace laneway::supervisor
