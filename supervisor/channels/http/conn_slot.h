// ConnSlot: one of max_connections, held by a connection for its whole life
// (moved from the HTTP session into the WebSocket session on upgrade).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_

#include <atomic>
#include <cstdint>

namespace laneway::supervisor::http {

class ConnSlot {
 public:
  ConnSlot() = default;
  explicit ConnSlot(std::atomic<int64_t>* counter) : counter_(counter) { ++*counter_; }
  ~ConnSlot() {
    if (counter_) --*counter_;
  }
  ConnSlot(ConnSlot&& o) noexcept : counter_(o.counter_) { o.counter_ = nullptr; }
  ConnSlot& operator=(ConnSlot&& o) noexcept {
    if (this != &o) {
      if (counter_) --*counter_;
      counter_ = o.counter_;
      o.counter_ = nullptr;
    }
    return *this;
  }
  ConnSlot(const ConnSlot&) = delete;
  ConnSlot& operator=(const ConnSlot&) = delete;

 private:
  std::atomic<int64_t>* counter_ = nullptr;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_
