#include "metrics/worker_metrics.h"

#include <algorithm>
#include <chrono>

#include "log/json_line.h"

namespace tether::metrics {
namespace {

uint64_t toMicros(double seconds) { return seconds > 0 ? static_cast<uint64_t>(seconds * 1e6 + 0.5) : 0; }

}  // namespace

WorkerMetrics::WorkerMetrics(size_t routes, size_t upstreams, size_t recent_cancellations)
    : routes_(routes),
      upstream_count_(upstreams),
      requests_(counters((routes + 1) * kMethods.size() * kCodeCount)),
      cancelled_(counters((routes + 1) * kCancelSlots)),
      client_gone_(counters((routes + 1) * kCancelSlots)),
      cancelled_upstream_us_(counters(routes + 1)),
      duration_buckets_(counters((routes + 1) * kBucketSlots)),
      duration_sum_us_(counters(routes + 1)),
      upstreams_(new UpstreamCounters[upstreams]),
      ring_(recent_cancellations) {}

void WorkerMetrics::onExchangeFinished(const RequestOutcome& outcome) {
  const size_t route = outcome.route < routes_ ? outcome.route : routes_;
  add(requests_[(route * kMethods.size() + methodIndex(outcome.method)) * kCodeCount + codeIndex(outcome.status)], 1);

  const auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), outcome.seconds);
  add(duration_buckets_[route * kBucketSlots + static_cast<size_t>(bucket - kDurationBuckets.begin())], 1);
  add(duration_sum_us_[route], static_cast<int64_t>(toMicros(outcome.seconds)));

  if (outcome.cancel_reason != CancelReason::None) {
    add(cancelled_[route * kCancelSlots + reasonIndex(outcome.cancel_reason) * kPhaseCount +
                   phaseIndex(outcome.cancel_phase)], 1);
    if (outcome.upstream_seconds) {
      add(cancelled_upstream_us_[route], static_cast<int64_t>(toMicros(*outcome.upstream_seconds)));
    }
    recordEvent(outcome, true);
  } else if (outcome.gone_reason != CancelReason::None) {
    add(client_gone_[route * kCancelSlots + reasonIndex(outcome.gone_reason) * kPhaseCount +
                     phaseIndex(outcome.gone_phase)], 1);
    recordEvent(outcome, false);
  }
}

// The same fields as the log line of the event (docs/logging.md), minus the byte counts.
void WorkerMetrics::recordEvent(const RequestOutcome& outcome, bool cancelled) {
  if (ring_.capacity() == 0) return;
  const auto now = std::chrono::system_clock::now();
  log::JsonLine line;  // cancellations are rare: a fresh builder costs less than keeping one per worker
  line.begin(cancelled ? "request_cancelled" : "client_gone", now)
      .field("request_id", outcome.request_id)
      .field("route", outcome.route_name)
      .field("method", outcome.method)
      .field("path", outcome.path)
      .field("protocol", outcome.protocol)
      .field("upstream", outcome.upstream)
      .field("phase", toString(cancelled ? outcome.cancel_phase : outcome.gone_phase))
      .field("reason", toString(cancelled ? outcome.cancel_reason : outcome.gone_reason))
      .field("status", static_cast<int64_t>(outcome.status))
      .field("elapsed_ms", static_cast<int64_t>(outcome.seconds * 1000));
  if (outcome.upstream_seconds) {
    line.field("upstream_elapsed_ms", static_cast<int64_t>(*outcome.upstream_seconds * 1000));
  } else {
    line.nullField("upstream_elapsed_ms");
  }
  if (!cancelled) line.field("upstream_left_running", true);
  std::string_view text = line.finish();
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  ring_.record(static_cast<uint64_t>(ns), std::string(text));
}

uint64_t WorkerMetrics::requests(size_t route, size_t method, size_t code) const {
  return read(requests_[(route * kMethods.size() + method) * kCodeCount + code]);
}

uint64_t WorkerMetrics::cancelled(size_t route, size_t reason, size_t phase) const {
  return read(cancelled_[route * kCancelSlots + reason * kPhaseCount + phase]);
}

uint64_t WorkerMetrics::clientGone(size_t route, size_t reason, size_t phase) const {
  return read(client_gone_[route * kCancelSlots + reason * kPhaseCount + phase]);
}

uint64_t WorkerMetrics::durationBucket(size_t route, size_t bucket) const {
  return read(duration_buckets_[route * kBucketSlots + bucket]);
}

}  // namespace tether::metrics
