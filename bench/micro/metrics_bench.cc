// Metrics recording of one finished exchange (Exchange::reportMetrics: the config snapshot's RouteMetrics and the
// worker's WorkerMetrics) and the Prometheus exposition the admin thread renders per scrape.

#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "alloc_counter.h"
#include "fixtures.h"
#include "metrics/metrics_registry.h"
#include "metrics/route_metrics.h"
#include "metrics/worker_metrics.h"
#include "outcome/outcome_record.h"

namespace tether::bench {
namespace {

using Clock = std::chrono::steady_clock;

OutcomeRecord completedOutcome(size_t route) {
  OutcomeRecord outcome;
  outcome.route = route;
  outcome.route_name = "shop";
  outcome.method = "GET";
  outcome.path = "/static/js/app.3f9c2b71.js";
  outcome.request_id = "5d41402abc4b2a76b9719d911017c592";
  outcome.protocol = "http/1.1";
  outcome.upstream = "shop-backend";
  outcome.status = 200;
  outcome.elapsed = std::chrono::microseconds(12300);
  outcome.upstream_elapsed = std::chrono::microseconds(10100);
  return outcome;
}

// Exchange::reportMetrics for a completed request: the outcome is built (two steady_clock reads, as there) and
// recorded into the snapshot's RouteMetrics (12 routes, 3 upstreams) and the worker's WorkerMetrics.
void BM_Metrics_RecordCompleted(benchmark::State& state) {
  const std::string event;  // a completed request keeps no event
  metrics::RouteMetrics routes(12, 3);
  metrics::WorkerMetrics worker(100);
  const Clock::time_point started = Clock::now();
  const Clock::time_point sent = Clock::now();
  OutcomeRecord outcome = completedOutcome(10);
  AllocCounter allocs(state);
  for (auto _ : state) {
    outcome.elapsed = Clock::now() - started;
    outcome.upstream_elapsed = Clock::now() - sent;
    benchmark::DoNotOptimize(outcome);
    routes.onExchangeFinished(outcome);
    worker.onExchangeFinished(outcome, event);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Metrics_RecordCompleted);

// A cancelled request: counters plus a JSON event into the recent-cancellations ring (100 slots, full).
void BM_Metrics_RecordCancelled(benchmark::State& state) {
  // About the size of a rendered request_cancelled line.
  const std::string event(330, 'x');
  metrics::RouteMetrics routes(12, 3);
  metrics::WorkerMetrics worker(100);
  OutcomeRecord outcome = completedOutcome(10);
  outcome.status = 499;
  outcome.outcome = Outcome::ClientClosed;
  outcome.phase = Phase::AwaitingResponse;
  for (int i = 0; i < 200; ++i) worker.onExchangeFinished(outcome, event);  // the ring is full and recycling
  AllocCounter allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(outcome);
    routes.onExchangeFinished(outcome);
    worker.onExchangeFinished(outcome, event);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Metrics_RecordCancelled);

// One scrape: 2 workers, `routes` routes (+ the two of the fixture), traffic on every route with a few methods
// and codes, a few cancellations.
void BM_Metrics_RenderPrometheus(benchmark::State& state) {
  const auto cfg = makeConfig(static_cast<int>(state.range(0)) - 2);
  const size_t routes = cfg->routes.size();
  metrics::WorkerMetrics w1(100);
  metrics::WorkerMetrics w2(100);
  const auto r1 = std::make_shared<metrics::RouteMetrics>(routes, cfg->upstreams.size());
  const auto r2 = std::make_shared<metrics::RouteMetrics>(routes, cfg->upstreams.size());
  for (metrics::RouteMetrics* w : {r1.get(), r2.get()}) {
    for (size_t route = 0; route <= routes; ++route) {
      for (const char* method : {"GET", "POST", "HEAD"}) {
        for (int status : {200, 304, 404, 502}) {
          OutcomeRecord outcome = completedOutcome(route);
          outcome.method = method;
          outcome.status = status;
          w->onExchangeFinished(outcome);
        }
      }
      OutcomeRecord cancelled = completedOutcome(route);
      cancelled.status = 499;
      cancelled.outcome = Outcome::ClientClosed;
      cancelled.phase = Phase::AwaitingResponse;
      w->onExchangeFinished(cancelled);
    }
  }
  metrics::MetricsRegistry registry({&w1, &w2});
  registry.addSnapshot(*cfg, {r1, r2});
  size_t size = 0;
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string text = registry.renderPrometheus({});
    size = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
  state.counters["output_B"] = static_cast<double>(size);
}
BENCHMARK(BM_Metrics_RenderPrometheus)->Arg(10)->Arg(100)->ArgName("routes")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tether::bench
