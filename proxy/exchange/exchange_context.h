#pragma once

// The per-worker services an Exchange uses. Owned by the Worker; every pointer outlives the exchanges.

#include <event2/event.h>

#include <memory>
#include <vector>

#include "config/config.h"
#include "http/request_id.h"
#include "log/logger.h"
#include "routing/router.h"
#include "upstream/upstream_pool.h"

namespace tether {

struct ExchangeContext {
  event_base* base = nullptr;
  std::shared_ptr<const config::Config> config;
  const routing::Router* router = nullptr;
  std::vector<std::unique_ptr<upstream::UpstreamPool>>* pools = nullptr;  // indexed like config->upstreams
  log::Logger* logger = nullptr;
  http::RequestIdGenerator* request_ids = nullptr;
};

}  // namespace tether
