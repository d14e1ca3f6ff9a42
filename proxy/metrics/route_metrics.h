#pragma once

// The counters one worker keeps per route and per upstream of one config snapshot. A reload gives every worker a
// fresh RouteMetrics sized for the new routes and upstreams, while exchanges still running on the old snapshot
// keep counting into the old one; the MetricsRegistry sums them all by label name, so counters never go back.
// Written only by its worker thread (relaxed loads and stores, no read-modify-write), read by the admin thread.

#include <atomic>
#include <cstdint>
#include <memory>

#include "metrics/metric_labels.h"
#include "metrics/upstream_counters.h"
#include "outcome/outcome_record.h"

namespace tether::metrics {

// Upper bounds, in seconds, of the request_duration_seconds buckets (+Inf follows).
inline constexpr std::array<double, 13> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                            1,     2.5,  5,     10,   30,  60};
inline constexpr size_t kBucketSlots = kDurationBuckets.size() + 1;

// gRPC status codes 0..16 (grpc/doc/statuscodes.md), then one slot for a gRPC request that ended with none (the
// client left, or a stream reset after the response began). A code above 16 counts as UNKNOWN (2), as a client
// reads it.
inline constexpr size_t kGrpcStatusCodes = 17;
inline constexpr size_t kGrpcNoStatus = kGrpcStatusCodes;
inline constexpr size_t kGrpcSlots = kGrpcStatusCodes + 1;

class RouteMetrics {
 public:
  RouteMetrics(size_t routes, size_t upstreams);
  RouteMetrics(const RouteMetrics&) = delete;
  RouteMetrics& operator=(const RouteMetrics&) = delete;

  // Worker thread.
  void onExchangeFinished(const OutcomeRecord& record);
  UpstreamCounters& upstream(size_t index) { return upstreams_[index]; }

  // Any thread. `route` may be routes() for requests no route matched.
  size_t routes() const { return routes_; }
  size_t upstreams() const { return upstream_count_; }
  uint64_t requests(size_t route, size_t method, size_t code) const;
  // `reason` is an Outcome's index (indexOf), `phase` a Phase's.
  uint64_t cancelled(size_t route, size_t reason, size_t phase) const;
  uint64_t clientGone(size_t route, size_t reason, size_t phase) const;
  uint64_t cancelledUpstreamMicros(size_t route) const { return read(cancelled_upstream_us_[route]); }
  uint64_t durationBucket(size_t route, size_t bucket) const;  // non-cumulative; kDurationBuckets.size() = +Inf
  uint64_t durationMicros(size_t route) const { return read(duration_sum_us_[route]); }
  // gRPC requests by grpc-status slot (0..16, kGrpcNoStatus).
  uint64_t grpcRequests(size_t route, size_t slot) const { return read(grpc_requests_[route * kGrpcSlots + slot]); }
  const UpstreamCounters& upstream(size_t index) const { return upstreams_[index]; }

 private:
  using Counter = std::atomic<uint64_t>;
  static constexpr size_t kCancelSlots = kOutcomeCount * kPhaseCount;

  static void add(Counter& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  static uint64_t read(const Counter& c) { return c.load(std::memory_order_relaxed); }
  static std::unique_ptr<Counter[]> counters(size_t n) { return std::unique_ptr<Counter[]>(new Counter[n]()); }

  const size_t routes_;  // configured routes; index routes_ is "no route"
  const size_t upstream_count_;
  std::unique_ptr<Counter[]> requests_;               // [route][method][code]
  std::unique_ptr<Counter[]> cancelled_;              // [route][outcome][phase]
  std::unique_ptr<Counter[]> client_gone_;            // [route][how the client left][phase]
  std::unique_ptr<Counter[]> cancelled_upstream_us_;  // [route]
  std::unique_ptr<Counter[]> duration_buckets_;       // [route][bucket]
  std::unique_ptr<Counter[]> duration_sum_us_;        // [route]
  std::unique_ptr<Counter[]> grpc_requests_;          // [route][grpc status slot]
  std::unique_ptr<UpstreamCounters[]> upstreams_;
};

}  // namespace tether::metrics
