// Poller: the getUpdates long-poll loop, on a thread of its own so that sending
// (on the channel thread) and polling never wait for each other.
//
// It polls with the offset the channel thread gave it, hands each non-empty batch
// (the JSON array of updates, as text) to the channel thread over an inproc PAIR,
// and polls again only when the channel thread sends back the next offset (decimal
// text) — which it does only after every update of the batch is journaled by the
// core or deliberately dropped. So Telegram is never told to forget an update that
// is not safe in the journal.
//
// Health: the watchdog is the request timeout (poll_timeout + watchdog_margin): a
// poll that has not completed by then is abandoned, counted and started again.
// Network errors back off with jitter; 429 waits retry_after; 409 (another poller
// or a webhook for this token) is a `duplicate_poller` fault with back-off; 401/404
// an `unauthorized` fault with back-off. Every outcome is written to PollHealth.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_POLLER_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_POLLER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace zmq {
class context_t;
}

namespace laneway::supervisor::telegram {

// Shared between the poller (writes) and State() on the core thread (reads).
struct PollHealth {
  mutable std::mutex mu;
  int64_t last_ok_unix_ms = 0;  // last poll that completed (with or without updates)
  std::string
      fault;  // "" | duplicate_poller | unauthorized | rate_limited | unreachable | poller_died
  std::string last_error;
  int64_t polls = 0;
  int64_t poll_errors = 0;
  int64_t watchdog_restarts = 0;
  int64_t conflicts = 0;     // 409
  int64_t rate_limited = 0;  // 429
  int64_t updates = 0;
};

struct PollerOptions {
  std::string api_base;
  std::string token;
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds watchdog_margin{std::chrono::seconds(15)};
  std::chrono::milliseconds backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
};

// The thread body: connects a PAIR to `pair_endpoint` on `ctx` and runs until `stop`.
void RunPoller(const PollerOptions& opt, zmq::context_t* ctx, const std::string& pair_endpoint,
               int64_t first_offset, const std::atomic<bool>* stop, PollHealth* health);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_POLLER_H_
