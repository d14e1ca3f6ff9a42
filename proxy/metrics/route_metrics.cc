#include "metrics/route_metrics.h"

#include <algorithm>
#include <cmath>

namespace tether::metrics {
namespace {

uint64_t toMicros(OutcomeRecord::Duration d) {
  return static_cast<uint64_t>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

}  // namespace

RouteMetrics::RouteMetrics(size_t routes, size_t upstreams)
    : routes_(routes),
      upstream_count_(upstreams),
      requests_(counters((routes + 1) * kMethods.size() * kCodeCount)),
      cancelled_(counters((routes + 1) * kCancelSlots)),
      client_gone_(counters((routes + 1) * kCancelSlots)),
      cancelled_upstream_us_(counters(routes + 1)),
      duration_buckets_(counters((routes + 1) * kBucketSlots)),
      duration_sum_us_(counters(routes + 1)),
      grpc_requests_(counters((routes + 1) * kGrpcSlots)),
      upstreams_(new UpstreamCounters[upstreams]) {}

void RouteMetrics::onExchangeFinished(const OutcomeRecord& record) {
  const size_t route = record.route < routes_ ? record.route : routes_;
  add(requests_[(route * kMethods.size() + methodIndex(record.method)) * kCodeCount +
                codeIndex(record.countedStatus())],
      1);

  const double seconds = std::chrono::duration<double>(record.elapsed).count();
  const auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
  add(duration_buckets_[route * kBucketSlots + static_cast<size_t>(bucket - kDurationBuckets.begin())], 1);
  add(duration_sum_us_[route], toMicros(record.elapsed));
  if (!record.grpc_method.empty()) {
    size_t slot = kGrpcNoStatus;
    if (record.grpc_status) slot = *record.grpc_status < static_cast<int>(kGrpcStatusCodes) ? *record.grpc_status : 2;
    add(grpc_requests_[route * kGrpcSlots + slot], 1);
  }

  if (record.cancelled()) {
    add(cancelled_[route * kCancelSlots + indexOf(record.outcome) * kPhaseCount + indexOf(record.phase)], 1);
    if (record.upstream_elapsed) add(cancelled_upstream_us_[route], toMicros(*record.upstream_elapsed));
  } else if (record.departure) {
    add(client_gone_[route * kCancelSlots + indexOf(record.departure->how) * kPhaseCount +
                     indexOf(record.departure->phase)],
        1);
  }
}

uint64_t RouteMetrics::requests(size_t route, size_t method, size_t code) const {
  return read(requests_[(route * kMethods.size() + method) * kCodeCount + code]);
}

uint64_t RouteMetrics::cancelled(size_t route, size_t reason, size_t phase) const {
  return read(cancelled_[route * kCancelSlots + reason * kPhaseCount + phase]);
}

uint64_t RouteMetrics::clientGone(size_t route, size_t reason, size_t phase) const {
  return read(client_gone_[route * kCancelSlots + reason * kPhaseCount + phase]);
}

uint64_t RouteMetrics::durationBucket(size_t route, size_t bucket) const {
  return read(duration_buckets_[route * kBucketSlots + bucket]);
}

}  // namespace tether::metrics
