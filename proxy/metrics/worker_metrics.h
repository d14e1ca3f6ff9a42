#pragma once

// One worker's metrics that live as long as the worker: requests in flight, client connections, HTTP/2 resets and
// the recent cancellation events (the per-route and per-upstream counters are in RouteMetrics, one per config
// snapshot). Written only by its worker thread and read by the admin thread, which sums all workers
// (MetricsRegistry). Each value is a std::atomic<uint64_t> used with relaxed loads and stores: with a single
// writer there is no read-modify-write (a load and a store, plain moves on x86), the reader sees every value
// whole, and no cache line is shared between workers on the request path.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "metrics/cancellation_ring.h"
#include "metrics/metric_labels.h"
#include "outcome/outcome_record.h"

namespace tether::metrics {

// Client connections by listener scheme: the HTTP version is only known after ALPN or the h2c preface.
enum class Scheme { Http, Https };
inline constexpr std::array<std::string_view, 2> kSchemes = {"http", "https"};

class WorkerMetrics {
 public:
  explicit WorkerMetrics(size_t recent_cancellations);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // Worker thread.
  void onExchangeCreated() { add(active_requests_, 1); }
  void onExchangeDestroyed() { add(active_requests_, -1); }
  // `event` is the rendered request_cancelled or client_gone line of `record` (the bytes the log got, without the
  // newline), kept for GET /cancellations; empty for other outcomes, which are not kept.
  void onExchangeFinished(const OutcomeRecord& record, std::string_view event);
  void onDownstreamOpened(Scheme scheme) { add(downstream_[static_cast<size_t>(scheme)], 1); }
  void onDownstreamClosed(Scheme scheme) { add(downstream_[static_cast<size_t>(scheme)], -1); }
  // HTTP/2: a client RST_STREAM on a stream not yet complete, and a connection sent GOAWAY(ENHANCE_YOUR_CALM).
  void onH2StreamReset() { add(h2_stream_resets_, 1); }
  void onH2RapidResetGoaway() { add(h2_rapid_reset_goaways_, 1); }
  // A TLS client handshake finished, from a session ticket (`resumed`) or in full.
  void onTlsHandshake(bool resumed) { add(tls_handshakes_[resumed ? 1 : 0], 1); }

  // Any thread.
  uint64_t activeRequests() const { return read(active_requests_); }
  uint64_t downstreamConnections(Scheme scheme) const { return read(downstream_[static_cast<size_t>(scheme)]); }
  const CancellationRing& recentCancellations() const { return ring_; }
  uint64_t h2StreamResets() const { return read(h2_stream_resets_); }
  uint64_t h2RapidResetGoaways() const { return read(h2_rapid_reset_goaways_); }
  uint64_t tlsHandshakes(bool resumed) const { return read(tls_handshakes_[resumed ? 1 : 0]); }

 private:
  using Counter = std::atomic<uint64_t>;

  static void add(Counter& c, int64_t n) {
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  static uint64_t read(const Counter& c) { return c.load(std::memory_order_relaxed); }

  Counter active_requests_{0};
  Counter h2_stream_resets_{0};
  Counter h2_rapid_reset_goaways_{0};
  std::array<Counter, kSchemes.size()> downstream_{};
  std::array<Counter, 2> tls_handshakes_{};  // [0] full, [1] resumed
  CancellationRing ring_;
};

}  // namespace tether::metrics
