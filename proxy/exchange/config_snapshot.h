#pragma once

// One config generation as one worker serves it: the routes, the upstream pools built from it and the counters
// labelled by its routes and upstreams. A reload swaps the worker's current snapshot as a whole; an exchange holds
// the snapshot it started on, so it routes, uses its pool and counts its metrics against one config from start
// to end, and the old pools live until the last such exchange is gone.

#include <event2/event.h>

#include <memory>
#include <vector>

#include "config/config.h"
#include "metrics/route_metrics.h"
#include "routing/router.h"
#include "upstream/upstream_pool.h"
#include "util/deferred_deleter.h"

namespace tether {

class ConfigSnapshot {
 public:
  // `metrics` may be null (tests that need no counters).
  ConfigSnapshot(std::shared_ptr<const config::Config> config, std::shared_ptr<metrics::RouteMetrics> metrics,
                 event_base* base, util::DeferredDeleter& deleter, net::IoContext* io = nullptr);
  ConfigSnapshot(const ConfigSnapshot&) = delete;
  ConfigSnapshot& operator=(const ConfigSnapshot&) = delete;

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& configPtr() const { return config_; }
  const routing::Router& router() const { return router_; }
  upstream::UpstreamPool& pool(size_t upstream) { return *pools_[upstream]; }
  metrics::RouteMetrics* metrics() { return metrics_.get(); }
  // A newer snapshot took over: stop keeping idle upstream connections.
  void retire();

 private:
  std::shared_ptr<const config::Config> config_;    // first: the router and the pools refer into it
  std::shared_ptr<metrics::RouteMetrics> metrics_;  // shared with the MetricsRegistry; outlives the pools
  routing::Router router_;
  std::vector<std::unique_ptr<upstream::UpstreamPool>> pools_;  // indexed like config().upstreams
};

}  // namespace tether
