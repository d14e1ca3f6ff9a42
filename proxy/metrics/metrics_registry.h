#pragma once

// The admin thread's view of every worker's metrics: sums them and renders the Prometheus exposition, and merges
// the workers' recent cancellation events. Reads only; the workers keep writing while it does, so a scrape is a
// consistent-enough snapshot (each value whole, counters never go back), as with any Prometheus client.
//
// Route and upstream counters come per config snapshot (RouteMetrics): after a reload, exchanges that started
// on the old snapshot still count into it. Series are summed by label name over every snapshot, and a snapshot
// no worker references any more is folded into running totals and dropped, so reloads do not grow memory.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/route_metrics.h"
#include "metrics/upstream_counters.h"
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
  explicit MetricsRegistry(std::vector<const WorkerMetrics*> workers);

  // Thread-safe. The route and upstream counters of one config snapshot, one RouteMetrics per worker, sized from
  // `config`, which gives their label values. The newest snapshot is never folded away.
  void addSnapshot(const config::Config& config, std::vector<std::shared_ptr<const RouteMetrics>> per_worker);

  std::string renderPrometheus(const ProcessCounters& process) const;
  // A JSON array of the most recent `limit` events over all workers, oldest first.
  std::string recentCancellationsJson(size_t limit) const;
  // Snapshots still referenced by a worker (tests check that retired ones are folded).
  size_t liveSnapshots() const;

 private:
  struct Snapshot {
    std::vector<std::string> routes;
    std::vector<std::string> upstreams;
    std::vector<std::shared_ptr<const RouteMetrics>> workers;
  };
  struct RouteTotals {
    std::array<uint64_t, kMethods.size() * kCodeCount> requests{};
    std::array<uint64_t, kOutcomeCount * kPhaseCount> cancelled{};
    std::array<uint64_t, kOutcomeCount * kPhaseCount> client_gone{};
    std::array<uint64_t, kBucketSlots> buckets{};
    std::array<uint64_t, kGrpcSlots> grpc{};
    uint64_t cancelled_upstream_us = 0;
    uint64_t duration_us = 0;
  };
  struct UpstreamTotals {
    uint64_t connecting = 0, active = 0, idle = 0, connect_errors = 0;
    std::array<uint64_t, UpstreamCounters::kResetCodes> stream_resets{};
    uint64_t reset_budget_exceeded = 0;
    // Adds the counters (not the gauges) of `other`: what a retired snapshot leaves behind.
    void addCounters(const UpstreamTotals& other) {
      connect_errors += other.connect_errors;
      for (size_t k = 0; k < stream_resets.size(); ++k) stream_resets[k] += other.stream_resets[k];
      reset_budget_exceeded += other.reset_budget_exceeded;
    }
  };
  struct Totals {
    std::map<std::string, RouteTotals, std::less<>> routes;
    std::map<std::string, UpstreamTotals, std::less<>> upstreams;
  };

  static void accumulate(const Snapshot& snapshot, Totals& totals);
  // Folds snapshots whose RouteMetrics only this registry still holds: no exchange can write to them any more.
  void foldRetired() const;
  Totals totals() const;
  void writeRequests(ExpositionWriter& out, const Totals& totals) const;
  void writeCancellations(ExpositionWriter& out, const Totals& totals) const;
  void writeUpstreamResets(ExpositionWriter& out, const Totals& totals) const;
  void writeDurations(ExpositionWriter& out, const Totals& totals) const;
  void writeGrpc(ExpositionWriter& out, const Totals& totals) const;
  void writeConnections(ExpositionWriter& out, const Totals& totals) const;
  void writeProcess(ExpositionWriter& out, const ProcessCounters& process) const;
  template <typename F>
  uint64_t sum(F&& read) const {
    uint64_t total = 0;
    for (const WorkerMetrics* worker : workers_) total += read(*worker);
    return total;
  }

  std::vector<const WorkerMetrics*> workers_;
  mutable std::mutex mutex_;  // admin thread (scrape) against main thread (reload); never a worker
  mutable std::vector<Snapshot> snapshots_;
  mutable Totals retired_;  // counters of folded snapshots; their gauges were zero
};

}  // namespace tether::metrics
