// Chat history: the earlier exchanges of a session, rebuilt from its JSONL
// transcript (common/transcript.h) for a model that remembers nothing.
//
// Transcript lines the worker writes (worker/worker.cc), each with a turn_id:
//   {"role":"user","text":...}       the turn's message, written when it starts
//   {"role":"assistant","text":...}  the reply of a turn that succeeded
//   {"role":"error","text":...}      the error of a turn that failed
//   {"role":"outcome","status":...}  an outcome decided by the supervisor (a
//                                    timeout, a kill), written down later
// An exchange is a turn with a user line and an assistant line and neither an
// error line nor an outcome line other than "replied": failed, timed-out and cancelled turns are
// left out, and so is a turn still without a reply (the one running now). Lines that are not JSON
// objects (a torn last line, garbage) are skipped and counted.
//
// The budget keeps the newest exchanges: at most `max_turns` of them, whose texts
// together hold at most `max_bytes` bytes; the first one that does not fit ends
// the history (no gaps). The result is oldest first, user before assistant.
#ifndef LANEWAY_WORKER_RUNNERS_CHAT_HISTORY_H_
#define LANEWAY_WORKER_RUNNERS_CHAT_HISTORY_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace laneway::worker {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;

  bool operator==(const ChatMessage&) const = default;
};

struct HistoryBudget {
  uint32_t max_turns = 20;
  uint64_t max_bytes = 256 << 10;
};

struct HistoryStats {
  size_t exchanges = 0;    // exchanges returned
  size_t bytes = 0;        // their text bytes
  size_t bad_lines = 0;    // lines skipped as not JSON objects
  size_t left_out = 0;     // turns that were not complete exchanges
  size_t over_budget = 0;  // complete exchanges dropped by the budget
};

// The turns parsed so far, by id, in order of first appearance.
struct HistoryState {
  struct Turn {
    std::string user;
    std::string assistant;
    bool has_user = false;
    bool has_assistant = false;
    bool failed = false;
  };
  std::map<uint64_t, Turn> turns;
  std::deque<uint64_t> order;
  size_t bad_lines = 0;

  // Parses the whole lines of `text`; returns the bytes used (up to the last
  // newline: the rest is a line not yet whole).
  size_t Parse(std::string_view text);
  // Forgets all but the newest `n` turns.
  void KeepNewest(size_t n);
  std::vector<ChatMessage> Select(uint64_t exclude_turn, const HistoryBudget& budget,
                                  HistoryStats* stats) const;
};

// From transcript text (whole lines; a trailing partial line is skipped).
// `exclude_turn` (0 = none) is the running turn, whose user line is already there.
std::vector<ChatMessage> BuildHistory(std::string_view jsonl, uint64_t exclude_turn,
                                      const HistoryBudget& budget, HistoryStats* stats);

// Reads the transcript at `path` (a missing file is an empty history). Only its
// tail is read, enough for the budget with room for the JSON around the texts
// and for turns that were left out; older lines are never looked at.
common::Result<std::vector<ChatMessage>> LoadHistory(const std::string& path, uint64_t exclude_turn,
                                                     const HistoryBudget& budget,
                                                     HistoryStats* stats);

// Follows one transcript across the turns of a worker: the first Load reads the
// tail as LoadHistory does, later ones only the lines appended since (the last
// reply, outcomes, the new message), so a turn parses a few lines instead of the
// whole history. A file that shrank or is another file (inode) is read afresh. Only the
// newest turns are kept (enough for the budget), so memory stays bounded.
// Thread-safety: none; one per runner, used by its thread.
class TranscriptHistory {
 public:
  TranscriptHistory(std::string path, HistoryBudget budget)
      : path_(std::move(path)), budget_(budget) {}
  common::Result<std::vector<ChatMessage>> Load(uint64_t exclude_turn, HistoryStats* stats);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  HistoryBudget budget_;
  HistoryState state_;
  uint64_t offset_ = 0;  // end of the last whole line parsed
  ino_t inode_ = 0;
  bool started_ = false;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_CHAT_HISTORY_H_
