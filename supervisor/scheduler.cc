#include "supervisor/scheduler.h"

namespace laneway::supervisor {

bool SessionQueue::Push(uint64_t turn_id, bool merge, bool force) {
  if (turn_count_ >= max_turns_ && !force) return false;
  if (merge && !batches_.empty()) {
    batches_.back().turn_ids.push_back(turn_id);
  } else {
    batches_.push_back(Batch{{turn_id}});
  }
  Count(1, 0);
  return true;
}

void SessionQueue::Count(size_t added, size_t removed) {
  turn_count_ = turn_count_ + added - removed;
  if (total_ != nullptr) *total_ = *total_ + added - removed;
}

void SessionQueue::PushFront(Batch batch) {
  Count(batch.turn_ids.size(), 0);
  batches_.push_front(std::move(batch));
}

std::optional<Batch> SessionQueue::Pop() {
  if (batches_.empty()) return std::nullopt;
  Batch b = std::move(batches_.front());
  batches_.pop_front();
  Count(0, b.turn_ids.size());
  return b;
}

std::vector<uint64_t> SessionQueue::Clear() {
  std::vector<uint64_t> all;
  for (Batch& b : batches_) all.insert(all.end(), b.turn_ids.begin(), b.turn_ids.end());
  batches_.clear();
  Count(0, turn_count_);
  return all;
}

void Admission::Enqueue(const std::string& session) {
  auto [it, inserted] = waiting_.emplace(session, next_seq_);
  if (!inserted) return;
  order_.emplace_back(session, next_seq_++);
}

void Admission::Remove(const std::string& session) { waiting_.erase(session); }

std::optional<std::string> Admission::Next() {
  while (!order_.empty()) {
    auto [s, seq] = std::move(order_.front());
    order_.pop_front();
    auto it = waiting_.find(s);
    if (it != waiting_.end() && it->second == seq) {
      waiting_.erase(it);
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace laneway::supervisor
