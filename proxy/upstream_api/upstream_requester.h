#pragma once

// Something waiting for an upstream stream (an Exchange), and its source's record of that wait. The record is
// embedded in the requester so that queueing, serving and cancelling never allocate.

#include <chrono>
#include <cstdint>

#include "upstream_api/upstream_error.h"
#include "upstream_api/upstream_stream.h"
#include "util/intrusive_list.h"

namespace tether::upstream {

class Http2UpstreamConnection;
class Http2UpstreamPool;
class UpstreamConnection;
class UpstreamPool;
class WaiterQueue;
class WaitingLine;

class UpstreamRequester {
 public:
  virtual ~UpstreamRequester() = default;
  // The source calls exactly one of the two per acquire(), unless the AcquireHandle is cancelled first. Either may
  // run inside acquire(). `stream` is the requester's until it hands it back (UpstreamStream::release or abort).
  virtual void onUpstreamReady(UpstreamStream& stream) = 0;
  virtual void onUpstreamUnavailable(UpstreamError error) = 0;

 private:
  friend class UpstreamSource;
  friend class AcquireHandle;
  // The HTTP/1.1 pool keeps its record of the wait here (named, not included: nothing here depends on it).
  friend class UpstreamPool;
  friend class Http2UpstreamPool;  // the HTTP/2 pool keeps the same record, and the connection it waits for
  friend class WaiterQueue;
  friend class WaitingLine;  // stamps queued_at_

  // Written only by the source; the requester never reads them.
  uint32_t acquire_serial_ = 0;  // counts acquire() calls: a handle from an earlier one is stale, a no-op
  util::ListHook<UpstreamRequester> queue_hook_;  // neighbours in the pool's WaiterQueue
  bool queued_ = false;                           // in a WaiterQueue
  UpstreamConnection* connecting_ = nullptr;      // the connect in progress on our behalf
  // HTTP/2: the connection being opened that will carry our stream (we wait in its own WaiterQueue meanwhile).
  Http2UpstreamConnection* h2_connecting_ = nullptr;
  int attempts_ = 0;
  std::chrono::steady_clock::time_point queued_at_{};
};

}  // namespace tether::upstream
