#include "log/log_queue.h"

#include <algorithm>

namespace tether::log {

LogQueue::LogQueue(size_t capacity_lines) : slots_(std::max<size_t>(capacity_lines, 1)) {}

bool LogQueue::tryPush(std::string_view line) {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - producer_head_cache_ >= slots_.size()) {
    producer_head_cache_ = head_.load(std::memory_order_acquire);
    if (tail - producer_head_cache_ >= slots_.size()) {
      // Only this thread writes dropped_, but fetch_add keeps it a plain counter for readers.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  slots_[tail % slots_.size()].assign(line.data(), line.size());  // reuses the slot's capacity
  tail_.store(tail + 1, std::memory_order_release);
  return true;
}

size_t LogQueue::popInto(std::string& out, size_t max_bytes) {
  uint64_t head = head_.load(std::memory_order_relaxed);
  consumer_tail_cache_ = tail_.load(std::memory_order_acquire);  // a batch: take everything published
  const uint64_t first = head;
  while (head != consumer_tail_cache_ && (head == first || out.size() < max_bytes)) {
    const std::string& line = slots_[head % slots_.size()];
    out.append(line);
    if (line.empty() || line.back() != '\n') out.push_back('\n');
    ++head;
  }
  if (head != first) head_.store(head, std::memory_order_release);  // one release for the whole batch
  return static_cast<size_t>(head - first);
}

bool LogQueue::tryPop(std::string& out) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (head == consumer_tail_cache_) {
    consumer_tail_cache_ = tail_.load(std::memory_order_acquire);
    if (head == consumer_tail_cache_) return false;
  }
  out.assign(slots_[head % slots_.size()]);
  head_.store(head + 1, std::memory_order_release);
  return true;
}

size_t LogQueue::sizeApprox() const {
  const uint64_t head = head_.load(std::memory_order_acquire);
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  return tail >= head ? static_cast<size_t>(tail - head) : 0;
}

}  // namespace tether::log
