#include "metrics/worker_metrics.h"

#include <chrono>
#include <string>

namespace tether::metrics {

WorkerMetrics::WorkerMetrics(size_t recent_cancellations) : ring_(recent_cancellations) {}

void WorkerMetrics::onExchangeFinished(const OutcomeRecord& record, std::string_view event) {
  if (event.empty() || ring_.capacity() == 0) return;
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  ring_.record(static_cast<uint64_t>(ns), std::string(event));
}

}  // namespace tether::metrics
