#include "exchange/config_snapshot.h"

namespace tether {

ConfigSnapshot::ConfigSnapshot(std::shared_ptr<const config::Config> config,
                               std::shared_ptr<metrics::RouteMetrics> metrics, event_base* base,
                               util::DeferredDeleter& deleter, net::IoContext* io)
    : config_(std::move(config)), metrics_(std::move(metrics)), router_(*config_) {
  for (size_t i = 0; i < config_->upstreams.size(); ++i) {
    pools_.push_back(std::make_unique<upstream::UpstreamPool>(config_->upstreams[i], base, deleter, io));
    if (metrics_) pools_.back()->setCounters(&metrics_->upstream(i));
  }
}

void ConfigSnapshot::retire() {
  for (auto& pool : pools_) pool->retire();
}

}  // namespace tether
