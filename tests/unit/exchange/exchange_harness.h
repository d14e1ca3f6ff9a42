#pragma once

// One Exchange on its own event loop with fakes on both sides: a FakeDownstreamStream for the client, a
// FakeUpstreamSource (and its stream) for the route's upstream, the log going into a LogQueue the test reads, and
// real metrics. No sockets; the loop only runs the exchange's timers.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exchange/exchange.h"
#include "exchange/exchange_context.h"
#include "fake_downstream_stream.h"
#include "fake_upstream_source.h"
#include "log/log_queue.h"
#include "log/logger.h"
#include "metrics/route_metrics.h"
#include "metrics/worker_metrics.h"
#include "util/libevent.h"

namespace tether::testing {

class ExchangeHarness : private DetachedExchanges {
 public:
  // `route_yaml`: lines added under the one route (`cancellation:`, `timeout:`, ...), indented by four spaces;
  // `upstream_yaml` the same under the one upstream (`response_timeout:`, ...); `top_yaml`: top-level sections
  // (`limits:`, ...).
  explicit ExchangeHarness(const std::string& route_yaml = "", const std::string& upstream_yaml = "",
                           const std::string& top_yaml = "");
  ExchangeHarness(const ExchangeHarness&) = delete;
  ExchangeHarness& operator=(const ExchangeHarness&) = delete;
  ~ExchangeHarness() override;

  // A request head for `method` on /work; `body_length` > 0 announces a body (Content-Length) the test then sends.
  static http::MessageHead requestHead(std::string_view method, size_t body_length = 0);
  void startRequest(std::string_view method, size_t body_length = 0);
  // Hands `head` to the exchange as the client session would; `complete`: no body follows.
  void startRequest(http::MessageHead& head, bool complete);
  // What a client session does when its client leaves: a FIN the route lets it wait out (`half_close: wait`) keeps
  // the response going; otherwise the exchange cancels, or detaches (the harness then holds it as the worker would).
  void clientLeaves(Outcome how);
  // Runs the loop until `done` holds; false if it does not within `bound` (a failure bound, not a wait for time).
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(5));

  Exchange& exchange() { return *exchange_; }
  bool ended() const { return exchange_->finished(); }
  bool detached() const { return detached_; }
  FakeDownstreamStream& downstream() { return downstream_; }
  FakeUpstreamSource& source() { return *source_; }
  FakeUpstreamStream& stream() { return source_->stream; }
  // The log lines written so far (each a JSON object), in order; taken out of the queue.
  std::vector<std::string> takeLogLines();
  uint64_t cancelledCount(Outcome outcome, Phase phase) const;
  uint64_t clientGoneCount(Outcome how, Phase phase) const;
  // tether_requests_total for the route, by method and status as counted.
  uint64_t requestsCount(std::string_view method, int status) const;
  const metrics::WorkerMetrics& workerMetrics() const { return worker_metrics_; }
  // The request_cancelled and client_gone lines kept for GET /cancellations, oldest first.
  std::vector<std::string> recentCancellations() const;
  // Drops the exchange (as a worker does after onExchangeComplete).
  void destroyExchange() { exchange_.reset(); }
  bool releasedByDetachedExchange() const { return released_; }

 private:
  // DetachedExchanges
  void adopt(std::unique_ptr<Exchange> exchange) override;
  void release(Exchange& exchange) override;

  util::EventBasePtr base_;
  std::shared_ptr<const config::Config> config_;
  log::LogQueue queue_{1024};
  log::Logger logger_;
  http::RequestIdGenerator request_ids_{42};
  metrics::WorkerMetrics worker_metrics_{16};
  std::shared_ptr<metrics::RouteMetrics> route_metrics_;
  FakeUpstreamSource* source_ = nullptr;  // owned by the snapshot
  ExchangeContext context_;
  FakeDownstreamStream downstream_;
  std::unique_ptr<Exchange> exchange_;
  bool detached_ = false;
  bool released_ = false;
};

}  // namespace tether::testing
