// ConnSlot: one of max_connections, and one of its client address's
// max_connections_per_address, held by a connection for its whole life (moved
// from the HTTP session into the WebSocket session on upgrade).
//
// AddressCounts is touched on the channel thread only (sessions are created and
// destroyed there); the total is an atomic because State() reads it from the core.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace laneway::supervisor::http {

// Open connections per client address; an address with none is not kept.
class AddressCounts {
 public:
  int64_t Of(const std::string& address) const {
    auto it = counts_.find(address);
    return it == counts_.end() ? 0 : it->second;
  }
  void Inc(const std::string& address) { ++counts_[address]; }
  void Dec(const std::string& address) {
    auto it = counts_.find(address);
    if (it != counts_.end() && --it->second <= 0) counts_.erase(it);
  }
  size_t addresses() const { return counts_.size(); }

 private:
  std::unordered_map<std::string, int64_t> counts_;
};

class ConnSlot {
 public:
  ConnSlot() = default;
  explicit ConnSlot(std::atomic<int64_t>* counter, AddressCounts* per_address = nullptr,
                    std::string address = "")
      : counter_(counter), per_address_(per_address), address_(std::move(address)) {
    ++*counter_;
    if (per_address_) per_address_->Inc(address_);
  }
  ~ConnSlot() { Release(); }
  ConnSlot(ConnSlot&& o) noexcept
      : counter_(o.counter_), per_address_(o.per_address_), address_(std::move(o.address_)) {
    o.counter_ = nullptr;
    o.per_address_ = nullptr;
  }
  ConnSlot& operator=(ConnSlot&& o) noexcept {
    if (this != &o) {
      Release();
      counter_ = o.counter_;
      per_address_ = o.per_address_;
      address_ = std::move(o.address_);
      o.counter_ = nullptr;
      o.per_address_ = nullptr;
    }
    return *this;
  }
  ConnSlot(const ConnSlot&) = delete;
  ConnSlot& operator=(const ConnSlot&) = delete;

 private:
  void Release() {
    if (counter_) --*counter_;
    if (per_address_) per_address_->Dec(address_);
    counter_ = nullptr;
    per_address_ = nullptr;
  }
  std::atomic<int64_t>* counter_ = nullptr;
  AddressCounts* per_address_ = nullptr;
  std::string address_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONN_SLOT_H_
