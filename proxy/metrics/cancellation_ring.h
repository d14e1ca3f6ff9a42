#pragma once

// The most recent cancellation events of one worker (request_cancelled / client_gone, as JSON objects), for
// GET /cancellations. Single producer (the worker), read by the admin thread.
//
// Synchronization: a mutex, taken by the worker only when it records an event. Cancellations are rare next to
// requests, the critical section is a string move, and the admin thread holds it only to copy N strings, so the
// worker practically never waits. A seqlock would spare the lock but the entries are variable-length strings:
// copying one while the worker rewrites it is a data race in C++ however the sequence check turns out.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace tether::metrics {

class CancellationRing {
 public:
  struct Event {
    uint64_t unix_ns = 0;  // when it was recorded: orders events across workers
    std::string json;      // one JSON object, no trailing newline
  };

  // capacity 0: nothing is kept.
  explicit CancellationRing(size_t capacity);

  size_t capacity() const { return capacity_; }
  void record(uint64_t unix_ns, std::string json);
  // Oldest first.
  std::vector<Event> snapshot() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;  // a ring once full: next_ is the oldest
  size_t next_ = 0;
};

}  // namespace tether::metrics
