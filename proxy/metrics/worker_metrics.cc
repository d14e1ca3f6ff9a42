#include "metrics/worker_metrics.h"

#include <chrono>

#include "log/json_line.h"

namespace tether::metrics {

WorkerMetrics::WorkerMetrics(size_t recent_cancellations) : ring_(recent_cancellations) {}

void WorkerMetrics::onExchangeFinished(const RequestOutcome& outcome) {
  if (outcome.cancel_reason != CancelReason::None) {
    recordEvent(outcome, true);
  } else if (outcome.gone_reason != CancelReason::None) {
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

}  // namespace tether::metrics
