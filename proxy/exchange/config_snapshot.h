#pragma once

// One config generation as one worker serves it: the routes, the upstream pools built from it and the counters
// labelled by its routes and upstreams. A reload swaps the worker's current snapshot as a whole; an exchange holds
// the snapshot it started on, so it routes, uses its upstream sources and counts its metrics against one config from
// start to end, and the old pools live until the last such exchange is gone.

#include <event2/event.h>

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "metrics/route_metrics.h"
#include "routing/router.h"
#include "upstream_api/upstream_source.h"

namespace tether {

class ConfigSnapshot {
 public:
  // Builds the source of upstream streams for one configured upstream (the worker's HTTP/1.1 pools; fakes in unit
  // tests). `counters` is where it publishes its connection counts; null without metrics.
  using SourceFactory = std::function<std::unique_ptr<upstream::UpstreamSource>(const config::Upstream& upstream,
                                                                                metrics::UpstreamCounters* counters)>;

  // `metrics` may be null (tests that need no counters). `make_source` is called once per configured upstream, here.
  ConfigSnapshot(std::shared_ptr<const config::Config> config, std::shared_ptr<metrics::RouteMetrics> metrics,
                 const SourceFactory& make_source);
  ConfigSnapshot(const ConfigSnapshot&) = delete;
  ConfigSnapshot& operator=(const ConfigSnapshot&) = delete;

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& configPtr() const { return config_; }
  const routing::Router& router() const { return router_; }
  upstream::UpstreamSource& source(size_t upstream) { return *sources_[upstream]; }
  metrics::RouteMetrics* metrics() { return metrics_.get(); }
  // A newer snapshot took over: stop keeping idle upstream connections.
  void retire();

 private:
  std::shared_ptr<const config::Config> config_;    // first: the router and the pools refer into it
  std::shared_ptr<metrics::RouteMetrics> metrics_;  // shared with the MetricsRegistry; outlives the pools
  routing::Router router_;
  std::vector<std::unique_ptr<upstream::UpstreamSource>> sources_;  // indexed like config().upstreams
};

}  // namespace tether
