#pragma once

// One worker thread: its own event loop, its own SO_REUSEPORT listening sockets, its own upstream pools and its
// own log queue. Nothing on the request path is shared with other workers, so nothing takes a lock.

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "downstream/session_host.h"
#include "exchange/exchange.h"
#include "exchange/exchange_context.h"
#include "http/http1_codec_pool.h"
#include "http/request_id.h"
#include "log/logger.h"
#include "metrics/route_metrics.h"
#include "metrics/worker_metrics.h"
#include "net/io_context.h"
#include "tls/server_hooks.h"
#include "tls/ticket_key_ring.h"
#include "tls/ticket_key_schedule.h"
#include "tls/tls_context.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"
#include "util/timeout_list.h"

namespace tether {

class DownstreamSession;

// Final: its SessionHost calls from its own code need no virtual dispatch.
class Worker final : public SessionHost, private DetachedExchanges, private tls::HandshakeObserver {
 public:
  // One server context per listener (null for a cleartext one), built by the Server with tlsHooks().
  using TlsContexts = std::vector<std::shared_ptr<const tls::TlsContext>>;

  // `listen_fds[i]` is a bound, listening socket for config->listeners[i]; the worker owns it from here on.
  // `route_metrics` counts by the routes and upstreams of `config` (the MetricsRegistry holds it too). Each TLS
  // listener's session ticket keys are derived from `tickets` (the same for every worker; the caller wipes its
  // copy).
  Worker(unsigned index, std::shared_ptr<const config::Config> config, std::vector<int> listen_fds,
         log::LogQueue* log_queue, std::shared_ptr<metrics::RouteMetrics> route_metrics,
         const tls::TicketKeySchedule& tickets);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread, serving TLS listeners with `tls` (Server built them with this worker's tlsHooks()).
  void start(TlsContexts tls);
  // Thread-safe: stop accepting, close idle connections, and close the others once their exchange ends
  // (HTTP/1.1 responses say `Connection: close`; HTTP/2 connections get GOAWAY).
  void beginDrain();
  bool draining() const override { return draining_.load(std::memory_order_relaxed); }
  uint64_t inFlight() const { return metrics_.activeRequests(); }
  // Thread-safe: client connections still open (the drain ends when they are all closed).
  uint64_t openConnections() const {
    return metrics_.downstreamConnections(metrics::Scheme::Http) +
           metrics_.downstreamConnections(metrics::Scheme::Https);
  }
  // Thread-safe: asks the loop to cancel what is in flight and exit, then joins.
  void stop();
  // Thread-safe: new requests use `config` (routes, upstreams, limits, log level) from the loop's next turn;
  // requests in flight finish on the snapshot they started with. Listeners stay as started, except that new
  // TLS handshakes use `tls` (certificates read again); a connection keeps the contexts it started with.
  void reload(std::shared_ptr<const config::Config> config, std::shared_ptr<metrics::RouteMetrics> route_metrics,
              TlsContexts tls);
  // Thread-safe (fixed at construction): what the contexts of TLS listener `listener` must be built with; null for
  // a cleartext listener.
  const tls::ServerHooks* tlsHooks(size_t listener) const {
    return listener < ticket_keys_.size() && ticket_keys_[listener] ? &tls_hooks_[listener] : nullptr;
  }
  // Snapshots replaced by a reload whose requests have not all ended yet (worker thread, or tests after stop).
  size_t retiredSnapshots() const { return retired_.size(); }

  // SessionHost
  event_base* base() const override { return base_.get(); }
  // The current snapshot's config (limits may change on reload; listeners are as started).
  const config::Config& config() const override { return context_.snapshot->config(); }
  ExchangeContext& exchangeContext() override { return context_; }
  // The TLS context of a `tls:` listener, null for a plaintext one.
  const tls::TlsContext* tlsContext(size_t listener) const override {
    return listener < tls_.size() ? tls_[listener].get() : nullptr;
  }
  http::RequestIdGenerator& requestIds() override { return request_ids_; }
  http::Http1CodecPool& codecPool() override { return codec_pool_; }
  http::MessageHeadPool& headPool() override { return head_pool_; }
  net::IoContext& io() override { return io_; }
  util::TimeoutList& idleTimeouts() override { return idle_timeouts_; }
  util::TimeoutList& headTimeouts() override { return head_timeouts_; }
  util::DeferredDeleter& deleter() override { return deleter_; }
  DetachedExchanges& detached() override { return *this; }
  void onSessionClosed(DownstreamSession& session) override;

  unsigned index() const { return index_; }
  size_t sessionCount() const { return sessions_.size(); }
  // Written by this worker's thread only; the admin thread reads it.
  const metrics::WorkerMetrics& metrics() const { return metrics_; }

 private:
  // Builds each config snapshot's upstream sources: HTTP/1.1 pools on this worker's loop, buffers and deleter.
  ConfigSnapshot::SourceFactory sourceFactory();
  struct ListenerState {
    util::ListenerPtr listener;
    size_t open = 0;
    size_t max_connections = 0;
    bool paused = false;
  };

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length, void* arg);
  // What another thread asked for: bits of wake_requests_, handled on the loop by onWake.
  enum WakeRequest : unsigned { kWakeReload = 1, kWakeDrain = 2, kWakeStop = 4 };
  void wake(WakeRequest request);
  static void onWake(evutil_socket_t fd, short, void* arg);
  void stopLoop();
  void drainListenersAndSessions();
  static void onSweep(evutil_socket_t, short, void* arg);
  void applyReload();
  void sweepRetired();
  void accept(size_t listener, evutil_socket_t fd, sockaddr* address, int length);
  // Accepts every connection waiting in the listener's kernel queue.
  void acceptBacklog(size_t listener);
  void shutdownSessions();
  // DetachedExchanges
  void adopt(std::unique_ptr<Exchange> exchange) override;
  void release(Exchange& exchange) override;
  // tls::HandshakeObserver
  void onHandshakeDone(bool resumed) override { metrics_.onTlsHandshake(resumed); }

  unsigned index_;
  std::shared_ptr<const config::Config> config_;  // as started: the listeners and their TLS come from it
  metrics::WorkerMetrics metrics_;                // outlives every exchange, session and pool below
  util::EventBasePtr base_;
  util::DeferredDeleter deleter_;
  // Client connections' timeouts, one list per duration (DownstreamSession's idle and header read timeouts).
  util::TimeoutList idle_timeouts_;
  util::TimeoutList head_timeouts_;
  net::IoContext io_;  // cleartext transports' buffers and flush queue
  log::Logger logger_;
  http::RequestIdGenerator request_ids_;
  http::Http1CodecPool codec_pool_;
  http::MessageHeadPool head_pool_;
  ExchangeContext context_;
  std::vector<std::shared_ptr<ConfigSnapshot>> retired_;  // replaced, still held by exchanges in flight
  std::vector<ListenerState> listeners_;
  // Indexed like config->listeners (null for a cleartext listener): each TLS listener's ticket keys and the hooks
  // its contexts reach them through. Before sessions_: every SSL is freed before them.
  std::vector<std::unique_ptr<tls::TicketKeyRing>> ticket_keys_;
  std::vector<tls::ServerHooks> tls_hooks_;
  TlsContexts tls_;  // indexed like config->listeners; swapped by a reload
  std::vector<std::pair<Worker*, size_t>> accept_args_;
  std::unordered_map<DownstreamSession*, std::unique_ptr<DownstreamSession>> sessions_;
  std::unordered_map<Exchange*, std::unique_ptr<Exchange>> detached_;
  // The only way other threads reach this loop: the base is created without locks (EVENT_BASE_FLAG_NOLOCK), so
  // event_active from another thread would race. They set a bit in wake_requests_ and write to the eventfd.
  std::atomic<unsigned> wake_requests_{0};
  util::FileDescriptor wake_fd_;
  util::EventPtr wake_event_;
  util::EventPtr sweep_timer_;
  std::mutex reload_mutex_;  // guards pending_*: taken by the main thread on reload and the loop once after
  std::shared_ptr<const config::Config> pending_config_;
  std::shared_ptr<metrics::RouteMetrics> pending_metrics_;
  TlsContexts pending_tls_;
  std::atomic<bool> draining_{false};
  std::thread thread_;
};

}  // namespace tether
