#pragma once

// One worker thread: its own event loop, its own SO_REUSEPORT listening sockets, its own upstream pools and its
// own log queue. Nothing on the request path is shared with other workers, so nothing takes a lock.

#include <atomic>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "exchange/exchange.h"
#include "exchange/exchange_context.h"
#include "http/request_id.h"
#include "log/logger.h"
#include "metrics/worker_metrics.h"
#include "routing/router.h"
#include "tls/tls_context.h"
#include "upstream/upstream_pool.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether {

class DownstreamSession;

class Worker : private DetachedExchanges {
 public:
  // `listen_fds[i]` is a bound, listening socket for config->listeners[i]; the worker owns it from here on.
  Worker(unsigned index, std::shared_ptr<const config::Config> config, std::vector<int> listen_fds,
         log::LogQueue* log_queue);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Thread-safe: stop accepting, close idle connections, and close the others once their exchange ends.
  void beginDrain();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  uint64_t inFlight() const { return metrics_.activeRequests(); }
  // Thread-safe: asks the loop to cancel what is in flight and exit, then joins.
  void stop();

  // Session-facing.
  event_base* base() const { return base_.get(); }
  const config::Config& config() const { return *config_; }
  ExchangeContext& exchangeContext() { return context_; }
  // The TLS context of a `tls:` listener, null for a plaintext one.
  const tls::TlsContext* tlsContext(size_t listener) const {
    return listener < tls_.size() ? tls_[listener].get() : nullptr;
  }
  http::RequestIdGenerator& requestIds() { return request_ids_; }
  util::DeferredDeleter& deleter() { return deleter_; }
  DetachedExchanges& detached() { return *this; }
  void onSessionClosed(DownstreamSession& session);

  unsigned index() const { return index_; }
  size_t sessionCount() const { return sessions_.size(); }
  // Written by this worker's thread only; the admin thread reads it.
  const metrics::WorkerMetrics& metrics() const { return metrics_; }

 private:
  struct ListenerState {
    util::ListenerPtr listener;
    size_t open = 0;
    size_t max_connections = 0;
    bool paused = false;
  };

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length, void* arg);
  static void onStop(evutil_socket_t, short, void* arg);
  static void onDrain(evutil_socket_t, short, void* arg);
  void accept(size_t listener, evutil_socket_t fd, sockaddr* address, int length);
  void shutdownSessions();
  // DetachedExchanges
  void adopt(std::unique_ptr<Exchange> exchange) override;
  void release(Exchange& exchange) override;

  unsigned index_;
  std::shared_ptr<const config::Config> config_;
  metrics::WorkerMetrics metrics_;  // outlives every exchange, session and pool below
  util::EventBasePtr base_;
  util::DeferredDeleter deleter_;
  log::Logger logger_;
  http::RequestIdGenerator request_ids_;
  routing::Router router_;
  std::vector<std::unique_ptr<upstream::UpstreamPool>> pools_;
  ExchangeContext context_;
  std::vector<ListenerState> listeners_;
  std::vector<std::unique_ptr<tls::TlsContext>> tls_;  // indexed like config->listeners; Server validated them
  std::vector<std::pair<Worker*, size_t>> accept_args_;
  std::unordered_map<DownstreamSession*, std::unique_ptr<DownstreamSession>> sessions_;
  std::unordered_map<Exchange*, std::unique_ptr<Exchange>> detached_;
  util::EventPtr stop_event_;
  util::EventPtr drain_event_;
  std::atomic<bool> draining_{false};
  std::thread thread_;
};

}  // namespace tether
