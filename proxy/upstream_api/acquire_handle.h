#pragma once

// What UpstreamSource::acquire() returns: the requester's hold on a request for a stream (Envoy's Cancellable).
// Destroying or cancel()ing the handle withdraws the request while the source has not answered it yet; afterwards,
// or for a handle of an earlier acquire(), it does nothing. Move-only; three words, no allocation.

#include <cstdint>

#include "upstream_api/upstream_requester.h"

namespace tether::upstream {

class UpstreamSource;

class AcquireHandle {
 public:
  AcquireHandle() = default;  // holds nothing
  AcquireHandle(AcquireHandle&& other) noexcept;
  AcquireHandle& operator=(AcquireHandle&& other) noexcept;
  AcquireHandle(const AcquireHandle&) = delete;
  AcquireHandle& operator=(const AcquireHandle&) = delete;
  ~AcquireHandle() { cancel(); }

  // The source has answered neither way yet: the requester is queued, or a connect is in progress for it.
  bool pending() const;
  // Waiting in the queue for a slot; no connection was opened for it.
  bool queued() const;
  // If pending: the source forgets the request (a queued requester leaves the queue in O(1), a connect in progress
  // for it is closed) and calls neither callback. Otherwise a no-op. Either way the handle then holds nothing.
  void cancel();

 private:
  friend class UpstreamSource;
  AcquireHandle(UpstreamSource& source, UpstreamRequester& requester)
      : source_(&source), requester_(&requester), serial_(requester.acquire_serial_) {}
  // The requester's state still belongs to the acquire() that made this handle.
  bool current() const { return requester_ && requester_->acquire_serial_ == serial_; }

  UpstreamSource* source_ = nullptr;
  UpstreamRequester* requester_ = nullptr;
  uint32_t serial_ = 0;
};

}  // namespace tether::upstream
