#pragma once

// The admin thread's view of every worker's metrics: sums them and renders the Prometheus exposition, and merges
// the workers' recent cancellation events. Reads only; the workers keep writing while it does, so a scrape is a
// consistent-enough snapshot (each value whole, counters never go back), as with any Prometheus client.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/worker_metrics.h"

namespace tether::metrics {

class ExpositionWriter;

// Process-wide values that no worker owns.
struct ProcessCounters {
  uint64_t log_lines_dropped = 0;
  uint64_t config_reloads_success = 0;
  uint64_t config_reloads_failure = 0;
};

class MetricsRegistry {
 public:
  // `config` gives the route and upstream label values; every worker's metrics were sized from it.
  MetricsRegistry(const config::Config& config, std::vector<const WorkerMetrics*> workers);

  std::string renderPrometheus(const ProcessCounters& process) const;
  // A JSON array of the most recent `limit` events over all workers, oldest first.
  std::string recentCancellationsJson(size_t limit) const;

 private:
  std::string_view routeLabel(size_t route) const;
  void writeRequests(ExpositionWriter& out) const;
  void writeCancellations(ExpositionWriter& out) const;
  void writeDurations(ExpositionWriter& out) const;
  void writeConnections(ExpositionWriter& out) const;
  void writeProcess(ExpositionWriter& out, const ProcessCounters& process) const;
  template <typename F>
  uint64_t sum(F&& read) const {
    uint64_t total = 0;
    for (const WorkerMetrics* worker : workers_) total += read(*worker);
    return total;
  }

  std::vector<std::string> routes_;
  std::vector<std::string> upstreams_;
  std::vector<const WorkerMetrics*> workers_;
};

}  // namespace tether::metrics
