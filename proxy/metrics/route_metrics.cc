#include "metrics/route_metrics.h"

#include <algorithm>
#include <cmath>

namespace tether::metrics {
namespace {

uint64_t toMicros(double seconds) { return seconds > 0 ? static_cast<uint64_t>(std::llround(seconds * 1e6)) : 0; }

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
      upstreams_(new UpstreamCounters[upstreams]) {}

void RouteMetrics::onExchangeFinished(const RequestOutcome& outcome) {
  const size_t route = outcome.route < routes_ ? outcome.route : routes_;
  add(requests_[(route * kMethods.size() + methodIndex(outcome.method)) * kCodeCount + codeIndex(outcome.status)], 1);

  const auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), outcome.seconds);
  add(duration_buckets_[route * kBucketSlots + static_cast<size_t>(bucket - kDurationBuckets.begin())], 1);
  add(duration_sum_us_[route], toMicros(outcome.seconds));

  if (outcome.cancel_reason != CancelReason::None) {
    add(cancelled_[route * kCancelSlots + reasonIndex(outcome.cancel_reason) * kPhaseCount +
                   phaseIndex(outcome.cancel_phase)],
        1);
    if (outcome.upstream_seconds) add(cancelled_upstream_us_[route], toMicros(*outcome.upstream_seconds));
  } else if (outcome.gone_reason != CancelReason::None) {
    add(client_gone_[route * kCancelSlots + reasonIndex(outcome.gone_reason) * kPhaseCount +
                     phaseIndex(outcome.gone_phase)],
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
