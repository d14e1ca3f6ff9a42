#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::log {

// A bounded single-producer single-consumer ring of log lines. The producer (one worker thread) never
// blocks: when the ring is full the line is dropped and counted. Lines live in preallocated std::string
// slots that keep their capacity, so once every slot has held a line as long as the current one, pushing
// and popping do not allocate.
//
// Memory ordering: tail_ is written only by the producer, head_ only by the consumer. The producer fills
// a slot and then publishes it with tail_.store(release); the consumer's tail_.load(acquire) therefore
// sees the slot's contents. Symmetrically the consumer reads slots before head_.store(release), and the
// producer's head_.load(acquire) guarantees those reads are done before it overwrites a recycled slot.
// Each side also caches the other side's index so it touches the shared cache line only when needed.
class LogQueue {
 public:
  // `capacity_lines` is clamped to at least 1.
  explicit LogQueue(size_t capacity_lines);
  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  // Producer side. Copies `line` into the next free slot; false (and counts a drop) if the ring is full.
  bool tryPush(std::string_view line);

  // Consumer side. Appends queued lines to `out`, each terminated by '\n' (added if missing), while
  // out.size() < max_bytes (at least one line if any is queued). Returns the number of lines taken.
  size_t popInto(std::string& out, size_t max_bytes);
  // Consumer side. Replaces `out` with the oldest line; false if empty.
  bool tryPop(std::string& out);

  // Any thread. Lines dropped because the ring was full, since construction.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Any thread; exact only when producer and consumer are both idle.
  size_t sizeApprox() const;
  size_t capacity() const { return slots_.size(); }

 private:
  static constexpr size_t kCacheLine = 64;  // keeps producer and consumer indices off each other's line

  std::vector<std::string> slots_;
  alignas(kCacheLine) std::atomic<uint64_t> tail_{0};  // next slot to fill; written by the producer
  uint64_t producer_head_cache_ = 0;                   // producer's last view of head_
  std::atomic<uint64_t> dropped_{0};                   // written by the producer
  alignas(kCacheLine) std::atomic<uint64_t> head_{0};  // next slot to read; written by the consumer
  uint64_t consumer_tail_cache_ = 0;                   // consumer's last view of tail_
};

}  // namespace tether::log
