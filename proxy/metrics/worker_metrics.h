#pragma once

// One worker's metrics. Written only by its worker thread and read by the admin thread, which sums all workers
// (MetricsRegistry). Each value is a std::atomic<uint64_t> used with relaxed loads and stores: with a single
// writer there is no read-modify-write (a load and a store, plain moves on x86), the reader sees every value
// whole, and no cache line is shared between workers on the request path.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "metrics/cancellation_ring.h"
#include "metrics/metric_labels.h"
#include "metrics/request_outcome.h"
#include "metrics/upstream_counters.h"

namespace tether::metrics {

// Upper bounds, in seconds, of the request_duration_seconds buckets (+Inf follows).
inline constexpr std::array<double, 13> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                            1,     2.5,  5,     10,   30,  60};

// Client connections by listener scheme: the HTTP version is only known after ALPN or the h2c preface.
enum class Scheme { Http, Https };
inline constexpr std::array<std::string_view, 2> kSchemes = {"http", "https"};

class WorkerMetrics {
 public:
  WorkerMetrics(size_t routes, size_t upstreams, size_t recent_cancellations);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // Worker thread.
  void onExchangeCreated() { add(active_requests_, 1); }
  void onExchangeDestroyed() { add(active_requests_, -1); }
  void onExchangeFinished(const RequestOutcome& outcome);
  void onDownstreamOpened(Scheme scheme) { add(downstream_[static_cast<size_t>(scheme)], 1); }
  void onDownstreamClosed(Scheme scheme) { add(downstream_[static_cast<size_t>(scheme)], -1); }
  UpstreamCounters& upstream(size_t index) { return upstreams_[index]; }
  // HTTP/2: a client RST_STREAM on a stream not yet complete, and a connection sent GOAWAY(ENHANCE_YOUR_CALM).
  void onH2StreamReset() { add(h2_stream_resets_, 1); }
  void onH2RapidResetGoaway() { add(h2_rapid_reset_goaways_, 1); }

  // Any thread. `route` may be routes() for requests no route matched.
  size_t routes() const { return routes_; }
  size_t upstreams() const { return upstream_count_; }
  uint64_t requests(size_t route, size_t method, size_t code) const;
  uint64_t cancelled(size_t route, size_t reason, size_t phase) const;
  uint64_t clientGone(size_t route, size_t reason, size_t phase) const;
  uint64_t cancelledUpstreamMicros(size_t route) const { return read(cancelled_upstream_us_[route]); }
  uint64_t durationBucket(size_t route, size_t bucket) const;  // non-cumulative; kDurationBuckets.size() = +Inf
  uint64_t durationMicros(size_t route) const { return read(duration_sum_us_[route]); }
  uint64_t activeRequests() const { return read(active_requests_); }
  uint64_t downstreamConnections(Scheme scheme) const { return read(downstream_[static_cast<size_t>(scheme)]); }
  const UpstreamCounters& upstream(size_t index) const { return upstreams_[index]; }
  const CancellationRing& recentCancellations() const { return ring_; }
  uint64_t h2StreamResets() const { return read(h2_stream_resets_); }
  uint64_t h2RapidResetGoaways() const { return read(h2_rapid_reset_goaways_); }

 private:
  using Counter = std::atomic<uint64_t>;
  static constexpr size_t kBucketSlots = kDurationBuckets.size() + 1;
  static constexpr size_t kCancelSlots = kReasonCount * kPhaseCount;

  static void add(Counter& c, int64_t n) {
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  static uint64_t read(const Counter& c) { return c.load(std::memory_order_relaxed); }
  static std::unique_ptr<Counter[]> counters(size_t n) { return std::unique_ptr<Counter[]>(new Counter[n]()); }
  void recordEvent(const RequestOutcome& outcome, bool cancelled);

  const size_t routes_;  // configured routes; index routes_ is "no route"
  const size_t upstream_count_;
  std::unique_ptr<Counter[]> requests_;  // [route][method][code]
  std::unique_ptr<Counter[]> cancelled_;  // [route][reason][phase]
  std::unique_ptr<Counter[]> client_gone_;  // [route][reason][phase]
  std::unique_ptr<Counter[]> cancelled_upstream_us_;  // [route]
  std::unique_ptr<Counter[]> duration_buckets_;  // [route][bucket]
  std::unique_ptr<Counter[]> duration_sum_us_;  // [route]
  std::unique_ptr<UpstreamCounters[]> upstreams_;
  Counter active_requests_{0};
  Counter h2_stream_resets_{0};
  Counter h2_rapid_reset_goaways_{0};
  std::array<Counter, kSchemes.size()> downstream_{};
  CancellationRing ring_;
};

}  // namespace tether::metrics
