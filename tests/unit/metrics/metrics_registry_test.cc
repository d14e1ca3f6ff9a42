// The exposition the admin thread renders: sums over workers, Prometheus 0.0.4 text (HELP/TYPE, escaping,
// cumulative histogram buckets), bounded label values, and the merged ring of recent cancellations.
#include <gtest/gtest.h>

#include <string>

#include "metrics/exposition_writer.h"
#include "metrics/metric_labels.h"
#include "metrics/metrics_registry.h"
#include "metrics/route_metrics.h"
#include "metrics/worker_metrics.h"

namespace tether::metrics {
namespace {

config::Config twoRoutes() {
  config::Config config;
  config.routes.resize(2);
  config.routes[0].name = "api";
  config.routes[1].name = "static";
  config.upstreams.resize(1);
  config.upstreams[0].name = "backend";
  return config;
}

OutcomeRecord::Duration seconds(double s) {
  return std::chrono::duration_cast<OutcomeRecord::Duration>(std::chrono::duration<double>(s));
}

OutcomeRecord completed(size_t route, std::string_view method, int status, double elapsed) {
  OutcomeRecord record;
  record.route = route;
  record.route_name = route == 0 ? "api" : "static";
  record.method = method;
  record.status = status;
  record.elapsed = seconds(elapsed);
  return record;
}

OutcomeRecord cancelled(std::string_view id, double upstream_seconds) {
  OutcomeRecord record = completed(0, "GET", 499, 0.3);
  record.request_id = id;
  record.upstream_elapsed = seconds(upstream_seconds);
  record.outcome = Outcome::ClientClosed;
  record.phase = Phase::AwaitingResponse;
  return record;
}

// The line the renderer would have written for a cancelled record (the ring keeps what it is given).
std::string rendered(std::string_view id) {
  return R"({"event":"request_cancelled","request_id":")" + std::string(id) + R"(","phase":"awaiting_response"})";
}

// Two workers serving one config snapshot, as Server sets them up.
struct TwoWorkers {
  explicit TwoWorkers(const config::Config& config, size_t ring = 10) : wa(ring), wb(ring), registry({&wa, &wb}) {
    registry.addSnapshot(config, {a, b});
  }
  std::shared_ptr<RouteMetrics> a = std::make_shared<RouteMetrics>(2, 1);
  std::shared_ptr<RouteMetrics> b = std::make_shared<RouteMetrics>(2, 1);
  WorkerMetrics wa;
  WorkerMetrics wb;
  MetricsRegistry registry;
};

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(MetricLabels, MethodsOutsideTheFixedSetAreOther) {
  EXPECT_EQ(kMethods[methodIndex("GET")], "GET");
  EXPECT_EQ(kMethods[methodIndex("PATCH")], "PATCH");
  EXPECT_EQ(kMethods[methodIndex("PROPFIND")], "other");
  EXPECT_EQ(kMethods[methodIndex("get")], "other");  // methods are case-sensitive
}

TEST(MetricLabels, CodesAreExactForTheFixedSetElseTheirClass) {
  char scratch[4];
  EXPECT_EQ(codeLabel(codeIndex(200), scratch), "200");
  EXPECT_EQ(codeLabel(codeIndex(499), scratch), "499");
  EXPECT_EQ(codeLabel(codeIndex(504), scratch), "504");
  EXPECT_EQ(codeLabel(codeIndex(418), scratch), "4xx");
  EXPECT_EQ(codeLabel(codeIndex(207), scratch), "2xx");
  EXPECT_EQ(codeLabel(codeIndex(101), scratch), "1xx");
  EXPECT_EQ(codeLabel(codeIndex(0), scratch), "other");
  EXPECT_EQ(codeLabel(codeIndex(999), scratch), "other");
}

TEST(ExpositionWriter, EscapesLabelValuesAndHelp) {
  ExpositionWriter out;
  out.family("x_total", "counter", "a\\b\nc");
  out.sample("x_total", {{"route", "q\"uo\\te\nnl"}}, uint64_t{3});
  EXPECT_EQ(out.text(),
            "# HELP tether_x_total a\\\\b\\nc\n# TYPE tether_x_total counter\n"
            "tether_x_total{route=\"q\\\"uo\\\\te\\nnl\"} 3\n");
}

TEST(ExpositionWriter, FormatsDoublesShortestAndInfinity) {
  EXPECT_EQ(formatDouble(0.25), "0.25");
  EXPECT_EQ(formatDouble(1.0), "1");
  EXPECT_EQ(formatDouble(1.0 / 0.0), "+Inf");
}

TEST(MetricsRegistry, SumsRequestsOverWorkers) {
  TwoWorkers m(twoRoutes());
  m.a->onExchangeFinished(completed(0, "GET", 200, 0.001));
  m.a->onExchangeFinished(completed(0, "GET", 200, 0.002));
  m.b->onExchangeFinished(completed(0, "GET", 200, 0.003));
  m.b->onExchangeFinished(completed(1, "POST", 418, 0.2));
  m.b->onExchangeFinished(completed(OutcomeRecord::kNoRoute, "BREW", 404, 0.0001));
  const std::string text = m.registry.renderPrometheus({});
  EXPECT_TRUE(has(text, "# TYPE tether_requests_total counter")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"api\",method=\"GET\",code=\"200\"} 3")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"static\",method=\"POST\",code=\"4xx\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"_none\",method=\"other\",code=\"404\"} 1")) << text;
  EXPECT_EQ(text.find("method=\"DELETE\""), std::string::npos) << "zero series are left out";
}

TEST(MetricsRegistry, HistogramBucketsAreCumulative) {
  TwoWorkers m(twoRoutes());
  m.a->onExchangeFinished(completed(0, "GET", 200, 0.004));  // le 0.005
  m.b->onExchangeFinished(completed(0, "GET", 200, 0.2));    // le 0.25
  m.b->onExchangeFinished(completed(0, "GET", 200, 100));    // +Inf only
  const std::string text = m.registry.renderPrometheus({});
  EXPECT_TRUE(has(text, "# TYPE tether_request_duration_seconds histogram")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_bucket{route=\"api\",le=\"0.1\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_bucket{route=\"api\",le=\"0.25\"} 2")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_bucket{route=\"api\",le=\"60\"} 2")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 3")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_count{route=\"api\"} 3")) << text;
  EXPECT_TRUE(has(text, "tether_request_duration_seconds_sum{route=\"api\"} 100.204")) << text;
}

TEST(MetricsRegistry, CancellationsAndWastedUpstreamSeconds) {
  TwoWorkers m(twoRoutes());
  m.a->onExchangeFinished(cancelled("one", 0.25));
  m.b->onExchangeFinished(cancelled("two", 0.5));
  OutcomeRecord gone = completed(1, "GET", 200, 1);
  gone.departure = OutcomeRecord::Departure{Outcome::ClientReset, Phase::StreamingResponse, {}};
  m.b->onExchangeFinished(gone);
  const std::string text = m.registry.renderPrometheus({});
  EXPECT_TRUE(has(text,
                  "tether_requests_cancelled_total{route=\"api\",reason=\"client_closed\","
                  "phase=\"awaiting_response\"} 2"))
      << text;
  EXPECT_TRUE(has(text, "tether_cancelled_upstream_seconds_total{route=\"api\"} 0.75")) << text;
  EXPECT_TRUE(has(text, "tether_cancelled_upstream_seconds_total{route=\"static\"} 0")) << text;
  EXPECT_TRUE(has(text,
                  "tether_requests_client_gone_total{route=\"static\",reason=\"client_reset\","
                  "phase=\"streaming_response\"} 1"))
      << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"api\",method=\"GET\",code=\"499\"} 2")) << text;
}

TEST(MetricsRegistry, GaugesAndProcessCounters) {
  TwoWorkers m(twoRoutes());
  m.wa.onExchangeCreated();
  m.wb.onExchangeCreated();
  m.wb.onExchangeCreated();
  m.wb.onExchangeDestroyed();
  m.wa.onDownstreamOpened(Scheme::Https);
  m.wb.onDownstreamOpened(Scheme::Http);
  m.a->upstream(0).idle.store(2);
  m.b->upstream(0).idle.store(1);
  m.b->upstream(0).connect_errors.store(4);
  const std::string text = m.registry.renderPrometheus({.log_lines_dropped = 7, .config_reloads_failure = 1});
  EXPECT_TRUE(has(text, "tether_active_requests 2")) << text;
  EXPECT_TRUE(has(text, "tether_downstream_connections{protocol=\"http\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_downstream_connections{protocol=\"https\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_upstream_connections{upstream=\"backend\",state=\"idle\"} 3")) << text;
  EXPECT_TRUE(has(text, "tether_upstream_connections{upstream=\"backend\",state=\"connecting\"} 0")) << text;
  EXPECT_TRUE(has(text, "tether_upstream_connect_errors_total{upstream=\"backend\"} 4")) << text;
  EXPECT_TRUE(has(text, "tether_log_lines_dropped_total 7")) << text;
  EXPECT_TRUE(has(text, "tether_config_reloads_total{result=\"success\"} 0")) << text;
  EXPECT_TRUE(has(text, "tether_config_reloads_total{result=\"failure\"} 1")) << text;
}

TEST(MetricsRegistry, EveryFamilyHasHelpAndType) {
  TwoWorkers m(twoRoutes());
  const std::string text = m.registry.renderPrometheus({});
  for (const char* family :
       {"requests_total", "requests_cancelled_total", "requests_client_gone_total", "cancelled_upstream_seconds_total",
        "request_duration_seconds", "active_requests", "downstream_connections", "upstream_connections",
        "upstream_connect_errors_total", "log_lines_dropped_total", "config_reloads_total"}) {
    EXPECT_NE(text.find(std::string("# HELP tether_") + family + " "), std::string::npos) << family;
    EXPECT_NE(text.find(std::string("# TYPE tether_") + family + " "), std::string::npos) << family;
  }
}

// After a reload, requests still running on the old snapshot count into it and new ones into the new one; the
// exposition sums them by route name, a route that only the new config has appears, and one the new config
// dropped keeps its totals (counters never go back).
TEST(MetricsRegistry, ReloadedSnapshotsSumByLabelName) {
  TwoWorkers m(twoRoutes());
  m.a->onExchangeFinished(completed(0, "GET", 200, 0.001));  // api
  m.a->onExchangeFinished(completed(1, "GET", 200, 0.001));  // static
  m.a->upstream(0).connect_errors.store(2);

  config::Config next;  // "static" is gone, "api" moved to index 1, "new" appeared
  next.routes.resize(2);
  next.routes[0].name = "new";
  next.routes[1].name = "api";
  next.upstreams.resize(1);
  next.upstreams[0].name = "backend";
  auto a2 = std::make_shared<RouteMetrics>(2, 1);
  auto b2 = std::make_shared<RouteMetrics>(2, 1);
  m.registry.addSnapshot(next, {a2, b2});
  a2->onExchangeFinished(completed(1, "GET", 200, 0.001));  // api, on the new snapshot
  b2->onExchangeFinished(completed(0, "GET", 200, 0.001));  // new
  b2->upstream(0).connect_errors.store(1);
  m.b->onExchangeFinished(completed(0, "GET", 200, 0.001));  // api, in flight across the reload

  const auto check = [&](const std::string& text) {
    EXPECT_TRUE(has(text, "tether_requests_total{route=\"api\",method=\"GET\",code=\"200\"} 3")) << text;
    EXPECT_TRUE(has(text, "tether_requests_total{route=\"static\",method=\"GET\",code=\"200\"} 1")) << text;
    EXPECT_TRUE(has(text, "tether_requests_total{route=\"new\",method=\"GET\",code=\"200\"} 1")) << text;
    EXPECT_TRUE(has(text, "tether_request_duration_seconds_count{route=\"api\"} 3")) << text;
    EXPECT_TRUE(has(text, "tether_upstream_connect_errors_total{upstream=\"backend\"} 3")) << text;
  };
  check(m.registry.renderPrometheus({}));
  EXPECT_EQ(m.registry.liveSnapshots(), 2u);

  // The workers let go of the old snapshot: it is folded into the totals, which stay the same.
  m.a.reset();
  m.b.reset();
  EXPECT_EQ(m.registry.liveSnapshots(), 1u);
  check(m.registry.renderPrometheus({}));
}

TEST(MetricsRegistry, RecentCancellationsNewestLastAndBounded) {
  TwoWorkers m(twoRoutes(), 2);
  m.wa.onExchangeFinished(cancelled("first", 0.1), rendered("first"));
  m.wb.onExchangeFinished(cancelled("second", 0.1), rendered("second"));
  m.wa.onExchangeFinished(cancelled("third", 0.1), rendered("third"));
  m.wa.onExchangeFinished(cancelled("fourth", 0.1), rendered("fourth"));  // a's ring holds two: "first" is gone
  const std::string all = m.registry.recentCancellationsJson(10);
  EXPECT_EQ(all.find("first"), std::string::npos) << all;
  const size_t second = all.find("\"second\"");
  const size_t third = all.find("\"third\"");
  const size_t fourth = all.find("\"fourth\"");
  ASSERT_NE(second, std::string::npos) << all;
  EXPECT_LT(second, third);
  EXPECT_LT(third, fourth);
  EXPECT_NE(all.find("\"event\":\"request_cancelled\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"phase\":\"awaiting_response\""), std::string::npos) << all;
  const std::string two = m.registry.recentCancellationsJson(2);
  EXPECT_EQ(two.find("second"), std::string::npos) << two;
  EXPECT_NE(two.find("fourth"), std::string::npos) << two;
  EXPECT_EQ(MetricsRegistry({}).recentCancellationsJson(5), "[]\n");
}

}  // namespace
}  // namespace tether::metrics

namespace tether::metrics {
namespace {

OutcomeRecord grpcCall(std::optional<int> grpc_status) {
  OutcomeRecord record = completed(0, "POST", 200, 0.01);
  record.grpc_method = "/pkg.Service/Method";
  record.grpc_status = grpc_status;
  return record;
}

TEST(MetricsRegistry, CountsGrpcRequestsByStatusAndOnlyThose) {
  TwoWorkers m(twoRoutes());
  m.a->onExchangeFinished(grpcCall(0));
  m.b->onExchangeFinished(grpcCall(0));
  m.a->onExchangeFinished(grpcCall(14));
  m.a->onExchangeFinished(grpcCall(std::nullopt));          // the client left: no status
  m.b->onExchangeFinished(grpcCall(99));                    // not a gRPC code: read as UNKNOWN
  m.a->onExchangeFinished(completed(0, "GET", 200, 0.01));  // not gRPC: not counted here
  const std::string text = m.registry.renderPrometheus({});
  EXPECT_TRUE(has(text, "# TYPE tether_grpc_requests_total counter")) << text;
  EXPECT_TRUE(has(text, R"(tether_grpc_requests_total{route="api",grpc_status="0"} 2)")) << text;
  EXPECT_TRUE(has(text, R"(tether_grpc_requests_total{route="api",grpc_status="14"} 1)")) << text;
  EXPECT_TRUE(has(text, R"(tether_grpc_requests_total{route="api",grpc_status="none"} 1)")) << text;
  EXPECT_TRUE(has(text, R"(tether_grpc_requests_total{route="api",grpc_status="2"} 1)")) << text;
  EXPECT_EQ(text.find(R"(grpc_status="4")"), std::string::npos) << text;  // only statuses that occurred
  EXPECT_EQ(text.find(R"(tether_grpc_requests_total{route="static")"), std::string::npos) << text;
}

}  // namespace
}  // namespace tether::metrics
