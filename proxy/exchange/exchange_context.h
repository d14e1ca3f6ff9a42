#pragma once

// The per-worker services an Exchange uses. Owned by the Worker; every pointer outlives the exchanges, and each
// exchange keeps a reference to the config snapshot current when it started.

#include <event2/event.h>

#include <memory>
#include <vector>

#include "exchange/config_snapshot.h"
#include "http/request_id.h"
#include "log/logger.h"
#include "metrics/worker_metrics.h"

namespace tether {

class Exchange;

// Keeps exchanges whose client left while their upstream is allowed to run on (cancellation mode `ignore`, or a
// grace period): the client side is gone, so something else must own them until they end.
class DetachedExchanges {
 public:
  virtual ~DetachedExchanges() = default;
  virtual void adopt(std::unique_ptr<Exchange> exchange) = 0;
  // Called by a detached exchange when it ends; it is deleted on the next loop turn.
  virtual void release(Exchange& exchange) = 0;
};

struct ExchangeContext {
  event_base* base = nullptr;
  std::shared_ptr<ConfigSnapshot> snapshot;  // the current one; replaced by a reload
  log::Logger* logger = nullptr;
  http::RequestIdGenerator* request_ids = nullptr;
  DetachedExchanges* detached = nullptr;
  metrics::WorkerMetrics* metrics = nullptr;  // null in tests that build a context by hand
};

}  // namespace tether
