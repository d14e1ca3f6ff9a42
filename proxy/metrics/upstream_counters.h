#pragma once

// One upstream's connection counters in one worker. Written only by that worker's UpstreamPool, read by the
// admin thread: relaxed atomics, never shared between workers, so the writes are plain stores on x86.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tether::metrics {

struct UpstreamCounters {
  // Gauges, republished by the pool after every change of its connection set.
  std::atomic<uint64_t> connecting{0};
  std::atomic<uint64_t> active{0};  // serving a request or a tunnel
  std::atomic<uint64_t> idle{0};    // kept alive for reuse
  // Connects that failed (refused, timed out, unreachable).
  std::atomic<uint64_t> connect_errors{0};

  // HTTP/2 upstreams: RST_STREAM frames tether sent, by error code (RFC 9113 7: NO_ERROR 0x0 .. HTTP_1_1_REQUIRED
  // 0xd, then one slot for any other code), and connections the reset-storm guard drained.
  static constexpr size_t kResetCodes = 15;
  std::array<std::atomic<uint64_t>, kResetCodes> stream_resets{};
  std::atomic<uint64_t> reset_budget_exceeded{0};

  // Single writer: a load and a store, no locked add.
  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void countStreamReset(uint32_t error_code) {
    bump(stream_resets[error_code < kResetCodes - 1 ? error_code : kResetCodes - 1]);
  }
};

}  // namespace tether::metrics
