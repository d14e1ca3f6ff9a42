#pragma once

// Where an exchange gets an UpstreamStream for one configured upstream (Envoy's Http::ConnectionPool::Instance): the
// HTTP/1.1 UpstreamPool today, an HTTP/2 pool of multiplexed connections later, a fake in unit tests. Per worker
// and single-threaded.

#include "config/config.h"
#include "upstream_api/acquire_handle.h"
#include "upstream_api/upstream_requester.h"

namespace tether::upstream {

class UpstreamSource {
 public:
  virtual ~UpstreamSource() = default;

  virtual const config::Upstream& config() const = 0;
  // Asks for a stream for `requester`: handed one or failed inside this call, or later (a connect completes, a slot
  // frees up). Keep the handle while waiting: dropping it cancels. A requester waits for one stream at a time;
  // acquiring again withdraws its previous request.
  [[nodiscard]] virtual AcquireHandle acquire(UpstreamRequester& requester) = 0;
  // The config snapshot this source belongs to was replaced by a reload: keep no idle connections from now on.
  virtual void retire() = 0;

 protected:
  // The handle of a new acquire() of `requester`: handles of its earlier acquires become stale no-ops.
  AcquireHandle newHandle(UpstreamRequester& requester) {
    ++requester.acquire_serial_;
    return AcquireHandle(*this, requester);
  }

 private:
  friend class AcquireHandle;
  // Called through a current handle only. Pending: neither answer given yet (queued, or a connect in progress).
  virtual bool pending(const UpstreamRequester& requester) const = 0;
  virtual bool queued(const UpstreamRequester& requester) const = 0;
  // Forgets a pending request without answering it.
  virtual void cancel(UpstreamRequester& requester) = 0;
};

}  // namespace tether::upstream
