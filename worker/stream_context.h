// StreamContext: the worker's RunContext. The runner thread Emit()s partial output;
// the worker's main thread, woken through wake_fd() (an eventfd in its poll set),
// Take()s what accumulated and sends it to the supervisor as one `progress`
// message. Deltas are coalesced between two takes, never reordered or dropped.
//
// Thread-safety: Emit and Cancelled from any thread; Take, Cancel from the owner.
#ifndef LANEWAY_WORKER_STREAM_CONTEXT_H_
#define LANEWAY_WORKER_STREAM_CONTEXT_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "worker/runners/runner.h"

namespace laneway::worker {

class StreamContext : public RunContext {
 public:
  static common::Result<std::unique_ptr<StreamContext>> Create();
  ~StreamContext() override;
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

  void Emit(std::string_view delta) override;
  bool Cancelled() const override { return cancelled_.load(std::memory_order_relaxed); }

  int wake_fd() const { return wake_fd_; }
  // Everything emitted since the last Take ("" if nothing); clears the wake-up.
  std::string Take();
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  explicit StreamContext(int fd) : wake_fd_(fd) {}
  int wake_fd_;
  std::mutex mu_;
  std::string pending_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_STREAM_CONTEXT_H_
