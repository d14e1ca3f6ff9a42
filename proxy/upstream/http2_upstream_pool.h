#pragma once

// The HTTP/2 UpstreamSource (`protocol: h2c`, cleartext; `protocol: h2`, TLS with ALPN h2): per endpoint a few
// multiplexed connections, each carrying up to min(the server's SETTINGS_MAX_CONCURRENT_STREAMS, 100) streams.
// acquire() hands a stream on the busiest connection that still has room (streams pack onto few connections, so the
// others go idle and time out), opens a connection when none has room and the endpoint is below
// max_connections_per_endpoint (requesters wait for it while it connects: pending, not queued), and beyond that queues
// requesters FIFO for queue_timeout. Endpoints go round-robin per request, with back-off after a failed connect, as in
// the HTTP/1.1 UpstreamPool. Single-threaded: one per worker and upstream.

#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "metrics/upstream_counters.h"
#include "upstream/endpoint_rotation.h"
#include "upstream/http2_upstream_connection.h"
#include "upstream/http2_upstream_stream.h"
#include "upstream/upstream_tls_client.h"
#include "upstream/waiting_line.h"
#include "upstream_api/acquire_handle.h"
#include "upstream_api/upstream_requester.h"
#include "upstream_api/upstream_source.h"
#include "util/deferred_deleter.h"

namespace tether::upstream {

class Http2UpstreamPool : public UpstreamSource {
 public:
  Http2UpstreamPool(const config::Upstream& upstream, event_base* base, util::DeferredDeleter& deleter,
                    net::IoContext* io = nullptr);
  Http2UpstreamPool(const Http2UpstreamPool&) = delete;
  Http2UpstreamPool& operator=(const Http2UpstreamPool&) = delete;
  ~Http2UpstreamPool() override;

  const config::Upstream& config() const override { return config_; }
  void setCounters(metrics::UpstreamCounters* counters) { counters_ = counters; }
  // Where TLS failures (upstream_tls_failed) and reset-guard trips (upstream_reset_budget) are logged; may stay
  // unset.
  void setLogger(log::Logger* logger) {
    logger_ = logger;
    tls_.setLogger(logger);
  }
  [[nodiscard]] AcquireHandle acquire(UpstreamRequester& requester) override;
  // No idle connections kept from now on; busy ones close when their streams are done.
  void retire() override;

  // Called by connections.
  void onConnected(Http2UpstreamConnection& connection);
  void onConnectFailed(Http2UpstreamConnection& connection, UpstreamError error);
  // The TLS handshake failed, or ALPN did not select h2: logged, then a refused connect (502, back-off).
  void onTlsFailed(Http2UpstreamConnection& connection, std::string_view reason);
  // A stream slot freed, or the server allowed more: serve the queue.
  void onRoom() { serveWaiters(); }
  // The connection closed (idle timeout, GOAWAY done, lost): forget it, serve the queue.
  void onClosed(Http2UpstreamConnection& connection);
  // A finished stream comes back for reuse.
  void recycle(Http2UpstreamStream& stream) { free_streams_.push_back(&stream); }
  // An RST_STREAM(error_code) of ours went out: counted per code.
  void onStreamResetSent(uint32_t error_code) {
    if (counters_) counters_->countStreamReset(error_code);
  }
  // `connection` reset more than reset_budget streams within reset_window (`resets` of them) and drains: logged
  // and counted. New streams go to other connections from now on (it has no room).
  void onResetBudgetExceeded(const Http2UpstreamConnection& connection, size_t resets);
  // A stream the server refused before processing it: placed on another connection, or failed.
  void retry(Http2UpstreamStream& stream);
  // Republishes the connecting/active/idle gauges.
  void publish();
  bool retired() const { return retired_; }
  // More idle connections to `endpoint` than max_idle_connections_per_endpoint allows.
  bool tooManyIdle(size_t endpoint) const;

  size_t connectionCount() const { return connections_.size(); }
  size_t waiterCount() const { return waiters_.size(); }

 private:
  // What the pool keeps per endpoint besides its rotation (addresses, back-off: rotation_).
  struct EndpointState {
    std::vector<Http2UpstreamConnection*> connections;  // connecting, ready and draining
  };

  bool pending(const UpstreamRequester& requester) const override;
  bool queued(const UpstreamRequester& requester) const override {
    return requester.queued_ && requester.h2_connecting_ == nullptr;
  }
  void cancel(UpstreamRequester& requester) override;

  // Where a request can go on `endpoint` without queueing: a connection with room (the busiest), else a connecting
  // one with spare room; null when neither.
  Http2UpstreamConnection* usable(size_t endpoint) const;
  bool canOpen(size_t endpoint) const;
  // Round-robin over endpoints that can take a request now; -1 when none (backed-off ones only as a last resort).
  int pickEndpoint(int exclude);
  // Serves `requester` on `endpoint`: a stream now, a wait on a connecting connection, or a new connect.
  void serve(UpstreamRequester& requester, size_t endpoint);
  void handStream(UpstreamRequester& requester, Http2UpstreamConnection& connection);
  Http2UpstreamConnection* startConnect(size_t endpoint);
  Http2UpstreamStream& newStream(Http2UpstreamConnection& connection);
  void destroy(Http2UpstreamConnection& connection);
  void serveWaiters();

  const config::Upstream& config_;
  event_base* base_;
  util::DeferredDeleter& deleter_;
  EndpointRotation rotation_;
  std::vector<EndpointState> endpoints_;
  std::unordered_map<Http2UpstreamConnection*, std::unique_ptr<Http2UpstreamConnection>> connections_;
  std::vector<std::unique_ptr<Http2UpstreamStream>> streams_;  // every stream ever made; reused
  std::vector<Http2UpstreamStream*> free_streams_;
  WaitingLine waiters_;  // FIFO, each at most queue_timeout (then 503)
  metrics::UpstreamCounters* counters_ = nullptr;
  log::Logger* logger_ = nullptr;
  UpstreamTlsClient tls_;  // cleartext for h2c, TLS with ALPN h2 for h2
  bool retired_ = false;
};

}  // namespace tether::upstream
