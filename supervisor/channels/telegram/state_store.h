// StateStore: the channel's durable state for one bot, in
// $LANEWAY_HOME/channels/telegram/bot-<bot_id>.json, keyed by the bot's id from
// getMe (a new token for the same bot keeps it; another bot starts fresh):
//
//   offset       the next update_id to ask getUpdates for; moved past an update only
//                after the core journaled its turn (`accepted`), or decided to drop it
//   epoch        how many offset resets happened (update ids may repeat across one)
//   refused      user ids already told they are not in allow_from (told once)
//   sent         turn_id -> pieces of its reply already sent (a delivery cut by a
//                crash resumes after the last piece Telegram confirmed)
//
// Save() writes a temporary file, fsyncs it, renames it over the old one and fsyncs
// the directory, so a crash leaves the old state or the new one, never a torn file.
// It blocks (fsync): call it from the channel thread only, never the core's.
// Not thread-safe; one owner.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_STATE_STORE_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace laneway::supervisor::telegram {

struct BotState {
  int64_t offset = 0;  // 0: none stored yet
  // Bumped by each offset reset (PlanBatch): Telegram may reuse update ids after
  // one, so the idempotency keys of later updates carry it (see IdempotencyKey).
  int64_t epoch = 0;
  std::set<int64_t> refused;
  std::map<int64_t, int64_t> sent;  // turn_id -> pieces sent
};

class StateStore {
 public:
  // `dir` is created (0700) if missing. A missing file is an empty state; an
  // unreadable or malformed one is an error naming the file (never silently reset:
  // that would answer every update twice).
  static common::Result<StateStore> Open(const std::string& dir, int64_t bot_id);

  const BotState& state() const { return state_; }
  BotState& mutable_state() { return state_; }
  const std::string& path() const { return path_; }
  common::Status Save();

 private:
  StateStore(std::string dir, std::string path) : dir_(std::move(dir)), path_(std::move(path)) {}
  std::string dir_;
  std::string path_;
  BotState state_;
};

// What to do with a getUpdates batch given the stored offset (pure):
//  - ids at or above the offset are processed; ids below it were already handled
//    and are dropped;
//  - if every id is below the offset (a new bot behind an old token's file, or
//    Telegram restarted its numbering after a long idle), the offset is reset and
//    every update is processed: dropping them all would lose every message.
struct BatchPlan {
  bool reset = false;
  std::vector<size_t> process;  // indexes into the batch, in order
};
BatchPlan PlanBatch(int64_t stored_offset, const std::vector<int64_t>& update_ids);

// The submit's idempotency key for an update: "tg:<bot_id>:<update_id>", and
// "tg:<bot_id>:<update_id>:r<epoch>" after an offset reset, so that an update id
// Telegram reuses after a reset is a new turn, while a re-read of the same batch
// (a crash before its offset was stored) gets the same keys and attaches.
std::string IdempotencyKey(int64_t bot_id, int64_t update_id, int64_t epoch);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_STATE_STORE_H_
