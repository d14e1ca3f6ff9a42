#pragma once

// The admin plane: an HTTP server on its own thread and event_base (libevent's evhttp: the admin plane is low
// volume and trusted, so it needs none of the proxy's data-path machinery), bound to admin.address, never to a
// proxy listener.
//
//   GET /metrics         Prometheus text exposition 0.0.4 (docs/metrics.md)
//   GET /healthz         200 "ok" while the process serves
//   GET /readyz          200 once the workers run, 503 before and while draining (setReady)
//   GET /cancellations   the most recent admin.recent_cancellations events, a JSON array, newest last
//   GET /config          the effective configuration as JSON
// Any other path is 404, any other method 405.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "metrics/metrics_registry.h"
#include "util/libevent.h"

struct evhttp;
struct evhttp_request;

namespace tether::admin {

class AdminServer {
 public:
  // `registry` and whatever `process_counters` reads must outlive the server (stop() joins the thread).
  AdminServer(std::shared_ptr<const config::Config> config, const metrics::MetricsRegistry& registry,
              std::function<metrics::ProcessCounters()> process_counters);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds admin.address and starts the thread; false with a message if the address cannot be bound.
  bool start(std::string* error);
  // Thread-safe: closes the listener and joins the thread.
  void stop();
  // Thread-safe: what /readyz answers.
  void setReady(bool ready) { ready_.store(ready, std::memory_order_relaxed); }
  // Thread-safe: what /config shows after a reload (admin.address itself needs a restart).
  void setConfig(std::shared_ptr<const config::Config> config);

 private:
  struct HttpFree {
    void operator()(evhttp* http) const;
  };

  static void onRequest(evhttp_request* request, void* arg);
  static void onStop(evutil_socket_t, short, void* arg);
  void handle(evhttp_request* request);
  void reply(evhttp_request* request, int status, std::string_view content_type, std::string_view body);

  std::shared_ptr<const config::Config> currentConfig() const;

  mutable std::mutex config_mutex_;  // main thread (reload) against the admin thread; never a worker
  std::shared_ptr<const config::Config> config_;
  const metrics::MetricsRegistry& registry_;
  std::function<metrics::ProcessCounters()> process_counters_;
  std::atomic<bool> ready_{false};
  util::EventBasePtr base_;
  std::unique_ptr<evhttp, HttpFree> http_;
  util::EventPtr stop_event_;
  std::thread thread_;
};

}  // namespace tether::admin
