#include "exchange/config_snapshot.h"

namespace tether {

ConfigSnapshot::ConfigSnapshot(std::shared_ptr<const config::Config> config,
                               std::shared_ptr<metrics::RouteMetrics> metrics, const SourceFactory& make_source)
    : config_(std::move(config)), metrics_(std::move(metrics)), router_(*config_) {
  for (size_t i = 0; i < config_->upstreams.size(); ++i) {
    sources_.push_back(make_source(config_->upstreams[i], metrics_ ? &metrics_->upstream(i) : nullptr));
  }
}

void ConfigSnapshot::retire() {
  for (auto& source : sources_) source->retire();
}

}  // namespace tether
