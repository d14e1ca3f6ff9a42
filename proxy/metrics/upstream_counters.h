#pragma once

// One upstream's connection counters in one worker. Written only by that worker's UpstreamPool, read by the
// admin thread: relaxed atomics, never shared between workers, so the writes are plain stores on x86.

#include <atomic>
#include <cstdint>

namespace tether::metrics {

struct UpstreamCounters {
  // Gauges, republished by the pool after every change of its connection set.
  std::atomic<uint64_t> connecting{0};
  std::atomic<uint64_t> active{0};  // serving a request or a tunnel
  std::atomic<uint64_t> idle{0};    // kept alive for reuse
  // Connects that failed (refused, timed out, unreachable).
  std::atomic<uint64_t> connect_errors{0};
};

}  // namespace tether::metrics
