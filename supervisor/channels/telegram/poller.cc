// The poller holds no durable state: after a crash the channel thread restarts it
// from the stored offset, and Telegram (or the double) hands out again every update
// that was never confirmed by a later offset.
#include "supervisor/channels/telegram/poller.h"

#include <thread>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/channels/telegram/backoff.h"
#include "supervisor/channels/telegram/bot_api.h"

namespace laneway::supervisor::telegram {

namespace {

using common::LogLevel;
using common::LogLine;
using std::chrono::milliseconds;

constexpr milliseconds kStopCheck{50};

int64_t NowUnixMs() { return common::SystemClock().UnixMillis(); }

// Sleeps up to `d`, returning early (false) once `stop` is set.
bool SleepUnlessStopped(milliseconds d, const std::atomic<bool>* stop) {
  auto end = std::chrono::steady_clock::now() + d;
  while (!stop->load()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kStopCheck, end - now));
  }
  return false;
}

// Waits for the channel thread's next offset; false once `stop` is set.
bool AwaitOffset(zmq::socket_t& pair, const std::atomic<bool>* stop, int64_t* offset) {
  while (!stop->load()) {
    zmq::pollitem_t item{pair.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, kStopCheck);
    zmq::message_t m;
    if (!pair.recv(m, zmq::recv_flags::dontwait)) continue;
    *offset = std::strtoll(m.to_string().c_str(), nullptr, 10);
    return true;
  }
  return false;
}

void SetFault(PollHealth* h, const std::string& fault, const std::string& error) {
  std::lock_guard<std::mutex> l(h->mu);
  h->fault = fault;
  h->last_error = error;
  ++h->poll_errors;
}

}  // namespace

void RunPoller(const PollerOptions& opt, zmq::context_t* ctx, const std::string& pair_endpoint,
               int64_t first_offset, const std::atomic<bool>* stop, PollHealth* health) {
  try {
    zmq::socket_t pair(*ctx, zmq::socket_type::pair);
    pair.set(zmq::sockopt::linger, 0);
    pair.connect(pair_endpoint);
    BotApi api(opt.api_base, opt.token, stop);
    Backoff backoff(opt.backoff, opt.backoff_max, static_cast<uint32_t>(NowUnixMs()));
    const int64_t poll_s = std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(opt.poll_timeout + milliseconds(999))
               .count());
    const milliseconds watchdog = milliseconds(poll_s * 1000) + opt.watchdog_margin;
    int64_t offset = first_offset;
    while (!stop->load()) {
      ApiReply r = api.GetUpdates(offset, poll_s, watchdog);
      if (r.kind == ApiReply::Kind::kCancelled) break;
      if (r.ok() && r.result.is_array()) {
        backoff.Reset();
        {
          std::lock_guard<std::mutex> l(health->mu);
          health->last_ok_unix_ms = NowUnixMs();
          health->fault.clear();
          ++health->polls;
          health->updates += static_cast<int64_t>(r.result.size());
        }
        if (r.result.empty()) continue;
        const std::string batch =
            r.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (!pair.send(zmq::buffer(batch), zmq::send_flags::none)) break;
        if (!AwaitOffset(pair, stop, &offset)) break;
        continue;
      }
      milliseconds wait{0};
      if (r.kind == ApiReply::Kind::kTimeout) {
        // The watchdog: the server held the poll past poll_timeout + margin. Start a
        // fresh one on a new connection at once (the old one was dropped by curl).
        {
          std::lock_guard<std::mutex> l(health->mu);
          ++health->watchdog_restarts;
          health->last_error = r.description;
        }
        LogLine(LogLevel::kWarn, "telegram_poll_watchdog").Kv("after_ms", watchdog.count());
        wait = milliseconds(0);
      } else if (r.kind == ApiReply::Kind::kApiError && r.error_code == 429) {
        SetFault(health, "rate_limited", r.description);
        {
          std::lock_guard<std::mutex> l(health->mu);
          ++health->rate_limited;
        }
        wait = std::chrono::seconds(std::max<int64_t>(1, r.retry_after_s));
        LogLine(LogLevel::kWarn, "telegram_rate_limited")
            .Kv("method", "getUpdates")
            .Kv("retry_after_s", r.retry_after_s);
      } else if (r.kind == ApiReply::Kind::kApiError && r.error_code == 409) {
        SetFault(health, "duplicate_poller", r.description);
        {
          std::lock_guard<std::mutex> l(health->mu);
          ++health->conflicts;
        }
        wait = backoff.Next();
        LogLine(LogLevel::kError, "telegram_duplicate_poller")
            .Kv("error", r.description)
            .Kv("retry_ms", wait.count());
      } else if (r.kind == ApiReply::Kind::kApiError &&
                 (r.error_code == 401 || r.error_code == 404)) {
        SetFault(health, "unauthorized", r.description);
        wait = backoff.Next();
        LogLine(LogLevel::kError, "telegram_unauthorized")
            .Kv("error", r.description)
            .Kv("retry_ms", wait.count());
      } else {
        SetFault(health, "unreachable", r.description);
        wait = backoff.Next();
        LogLine(LogLevel::kWarn, "telegram_poll_failed")
            .Kv("error", r.description)
            .Kv("retry_ms", wait.count());
      }
      if (!SleepUnlessStopped(wait, stop)) break;
    }
  } catch (const std::exception& e) {
    // ETERM at shutdown, or a broken inproc pipe (zmq::error_t), or a library
    // surprise: never let it out of the thread (that would abort the supervisor).
    if (!stop->load()) {
      LogLine(LogLevel::kError, "telegram_poller_died").Kv("error", e.what());
      SetFault(health, "poller_died", e.what());
    }
  }
}

}  // namespace laneway::supervisor::telegram
