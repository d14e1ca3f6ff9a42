#pragma once

// Connections from one worker to one upstream's endpoints: round-robin choice, back-off for endpoints that refuse,
// a per-endpoint connection cap with a FIFO of waiting requests (each waits at most queue_timeout), and keep-alive
// reuse. Single-threaded: each worker has its own pools, so nothing here takes a lock.

#include <chrono>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "log/logger.h"
#include "metrics/upstream_counters.h"
#include "upstream/endpoint_rotation.h"
#include "upstream/upstream_connection.h"
#include "upstream/upstream_tls_client.h"
#include "upstream/waiting_line.h"
#include "upstream_api/acquire_handle.h"
#include "upstream_api/upstream_requester.h"
#include "upstream_api/upstream_source.h"
#include "util/deferred_deleter.h"

namespace tether::upstream {

// The HTTP/1.1 UpstreamSource: the streams it hands out are its UpstreamConnections, one request at a time.
class UpstreamPool : public UpstreamSource {
 public:
  // `io`: the worker's buffers and flush queue, shared by its connections (null: each has its own buffers).
  UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
               net::IoContext* io = nullptr);
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;
  ~UpstreamPool() override;

  const config::Upstream& config() const override { return config_; }
  // Where this pool publishes its connection counts and connect errors (its worker's metrics); may stay unset.
  void setCounters(metrics::UpstreamCounters* counters) { counters_ = counters; }
  // Where TLS failures are logged (upstream_tls_failed); may stay unset.
  void setLogger(log::Logger* logger) { tls_.setLogger(logger); }

  // Asks for a connection for `requester`: handed an idle one or failed inside this call, or later, once a connect
  // completes or a slot frees up (FIFO, at most queue_timeout). Keep the handle while waiting: dropping it cancels.
  // A requester waits for one connection at a time; acquiring again withdraws its previous request.
  [[nodiscard]] AcquireHandle acquire(UpstreamRequester& requester) override;
  // Returns a connection after an exchange: kept for reuse, or closed (reset = RST if cancel_with: rst).
  enum class Release { Reuse, Close, Abort };
  void release(UpstreamConnection& connection, Release how);

  // Called by connections.
  void onConnected(UpstreamConnection& connection);
  void onConnectFailed(UpstreamConnection& connection, UpstreamError error);
  // The TLS handshake failed (verification, protocol): logged, then a refused connect (502, back-off).
  void onTlsFailed(UpstreamConnection& connection, std::string_view reason);
  void onIdleClosed(UpstreamConnection& connection);

  // The config snapshot this pool belongs to was replaced by a reload: idle connections close now, and connections
  // of requests still running close when those end instead of going back to the pool.
  void retire() override;

  size_t connectionCount() const { return connections_.size(); }
  size_t idleCount() const;
  size_t waiterCount() const { return waiters_.size(); }

 private:
  // What the pool keeps per endpoint besides its rotation (addresses, back-off: rotation_).
  struct EndpointState {
    size_t open = 0;  // connecting + active + idle
    std::list<UpstreamConnection*> idle;
  };

  // UpstreamSource, through a current AcquireHandle.
  bool pending(const UpstreamRequester& requester) const override;
  bool queued(const UpstreamRequester& requester) const override { return requester.queued_; }
  // Withdraws a pending acquire: a queued request leaves the queue, a connect in progress is dropped.
  void cancel(UpstreamRequester& requester) override;
  // Picks the next endpoint round-robin that is neither backed off nor full; -1 when none.
  int pickEndpoint(int exclude);
  // Hands the requester an idle connection of `endpoint`, or starts a connect to it.
  void serve(UpstreamRequester& requester, size_t endpoint);
  void startConnect(UpstreamRequester& requester, size_t endpoint);
  void serveWaiters();
  void destroy(UpstreamConnection& connection, bool reset);
  // Republishes the connecting/active/idle gauges; called after every change of a connection's state.
  void publish();

  const config::Upstream& config_;
  event_base* base_;
  util::DeferredDeleter& deleter_;
  EndpointRotation rotation_;
  std::vector<EndpointState> endpoints_;
  std::unordered_map<UpstreamConnection*, std::unique_ptr<UpstreamConnection>> connections_;
  std::unordered_map<UpstreamConnection*, UpstreamRequester*> connection_requesters_;
  WaitingLine waiters_;  // FIFO, each at most queue_timeout (then 503)
  metrics::UpstreamCounters* counters_ = nullptr;
  UpstreamTlsClient tls_;  // cleartext, or TLS with ALPN http/1.1
  bool retired_ = false;
};

}  // namespace tether::upstream
