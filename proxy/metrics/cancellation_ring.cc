#include "metrics/cancellation_ring.h"

namespace tether::metrics {

CancellationRing::CancellationRing(size_t capacity) : capacity_(capacity) {}

void CancellationRing::record(uint64_t unix_ns, std::string json) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  if (events_.size() < capacity_) {
    events_.push_back(Event{unix_ns, std::move(json)});
    return;
  }
  events_[next_] = Event{unix_ns, std::move(json)};
  next_ = (next_ + 1) % capacity_;
}

std::vector<CancellationRing::Event> CancellationRing::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<Event> out;
  out.reserve(events_.size());
  for (size_t i = 0; i < events_.size(); ++i) out.push_back(events_[(next_ + i) % events_.size()]);
  return out;
}

}  // namespace tether::metrics
