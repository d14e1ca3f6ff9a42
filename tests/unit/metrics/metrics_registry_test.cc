// The exposition the admin thread renders: sums over workers, Prometheus 0.0.4 text (HELP/TYPE, escaping,
// cumulative histogram buckets), bounded label values, and the merged ring of recent cancellations.
#include <gtest/gtest.h>

#include <string>

#include "metrics/exposition_writer.h"
#include "metrics/metric_labels.h"
#include "metrics/metrics_registry.h"
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

RequestOutcome completed(size_t route, std::string_view method, int status, double seconds) {
  RequestOutcome outcome;
  outcome.route = route;
  outcome.route_name = route == 0 ? "api" : "static";
  outcome.method = method;
  outcome.status = status;
  outcome.seconds = seconds;
  return outcome;
}

RequestOutcome cancelled(std::string_view id, double upstream_seconds) {
  RequestOutcome outcome = completed(0, "GET", 499, 0.3);
  outcome.request_id = id;
  outcome.upstream_seconds = upstream_seconds;
  outcome.cancel_reason = CancelReason::ClientClosed;
  outcome.cancel_phase = Phase::AwaitingResponse;
  return outcome;
}

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
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 10);
  WorkerMetrics b(2, 1, 10);
  a.onExchangeFinished(completed(0, "GET", 200, 0.001));
  a.onExchangeFinished(completed(0, "GET", 200, 0.002));
  b.onExchangeFinished(completed(0, "GET", 200, 0.003));
  b.onExchangeFinished(completed(1, "POST", 418, 0.2));
  b.onExchangeFinished(completed(RequestOutcome::kNoRoute, "BREW", 404, 0.0001));
  MetricsRegistry registry(config, {&a, &b});
  const std::string text = registry.renderPrometheus({});
  EXPECT_TRUE(has(text, "# TYPE tether_requests_total counter")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"api\",method=\"GET\",code=\"200\"} 3")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"static\",method=\"POST\",code=\"4xx\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"_none\",method=\"other\",code=\"404\"} 1")) << text;
  EXPECT_EQ(text.find("method=\"DELETE\""), std::string::npos) << "zero series are left out";
}

TEST(MetricsRegistry, HistogramBucketsAreCumulative) {
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 10);
  WorkerMetrics b(2, 1, 10);
  a.onExchangeFinished(completed(0, "GET", 200, 0.004));  // le 0.005
  b.onExchangeFinished(completed(0, "GET", 200, 0.2));    // le 0.25
  b.onExchangeFinished(completed(0, "GET", 200, 100));    // +Inf only
  const std::string text = MetricsRegistry(config, {&a, &b}).renderPrometheus({});
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
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 10);
  WorkerMetrics b(2, 1, 10);
  a.onExchangeFinished(cancelled("one", 0.25));
  b.onExchangeFinished(cancelled("two", 0.5));
  RequestOutcome gone = completed(1, "GET", 499, 1);
  gone.gone_reason = CancelReason::ClientReset;
  gone.gone_phase = Phase::StreamingResponse;
  b.onExchangeFinished(gone);
  const std::string text = MetricsRegistry(config, {&a, &b}).renderPrometheus({});
  EXPECT_TRUE(has(text, "tether_requests_cancelled_total{route=\"api\",reason=\"client_closed\","
                        "phase=\"awaiting_response\"} 2")) << text;
  EXPECT_TRUE(has(text, "tether_cancelled_upstream_seconds_total{route=\"api\"} 0.75")) << text;
  EXPECT_TRUE(has(text, "tether_cancelled_upstream_seconds_total{route=\"static\"} 0")) << text;
  EXPECT_TRUE(has(text, "tether_requests_client_gone_total{route=\"static\",reason=\"client_reset\","
                        "phase=\"streaming_response\"} 1")) << text;
  EXPECT_TRUE(has(text, "tether_requests_total{route=\"api\",method=\"GET\",code=\"499\"} 2")) << text;
}

TEST(MetricsRegistry, GaugesAndProcessCounters) {
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 10);
  WorkerMetrics b(2, 1, 10);
  a.onExchangeCreated();
  b.onExchangeCreated();
  b.onExchangeCreated();
  b.onExchangeDestroyed();
  a.onDownstreamOpened(Scheme::Https);
  b.onDownstreamOpened(Scheme::Http);
  a.upstream(0).idle.store(2);
  b.upstream(0).idle.store(1);
  b.upstream(0).connect_errors.store(4);
  const std::string text =
      MetricsRegistry(config, {&a, &b}).renderPrometheus({.log_lines_dropped = 7, .config_reloads_failure = 1});
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
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 10);
  const std::string text = MetricsRegistry(config, {&a}).renderPrometheus({});
  for (const char* family : {"requests_total", "requests_cancelled_total", "requests_client_gone_total",
                             "cancelled_upstream_seconds_total", "request_duration_seconds", "active_requests",
                             "downstream_connections", "upstream_connections", "upstream_connect_errors_total",
                             "log_lines_dropped_total", "config_reloads_total"}) {
    EXPECT_NE(text.find(std::string("# HELP tether_") + family + " "), std::string::npos) << family;
    EXPECT_NE(text.find(std::string("# TYPE tether_") + family + " "), std::string::npos) << family;
  }
}

TEST(MetricsRegistry, RecentCancellationsNewestLastAndBounded) {
  const config::Config config = twoRoutes();
  WorkerMetrics a(2, 1, 2);
  WorkerMetrics b(2, 1, 2);
  a.onExchangeFinished(cancelled("first", 0.1));
  b.onExchangeFinished(cancelled("second", 0.1));
  a.onExchangeFinished(cancelled("third", 0.1));
  a.onExchangeFinished(cancelled("fourth", 0.1));  // a's ring holds two: "first" is gone
  MetricsRegistry registry(config, {&a, &b});
  const std::string all = registry.recentCancellationsJson(10);
  EXPECT_EQ(all.find("first"), std::string::npos) << all;
  const size_t second = all.find("\"second\"");
  const size_t third = all.find("\"third\"");
  const size_t fourth = all.find("\"fourth\"");
  ASSERT_NE(second, std::string::npos) << all;
  EXPECT_LT(second, third);
  EXPECT_LT(third, fourth);
  EXPECT_NE(all.find("\"event\":\"request_cancelled\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"phase\":\"awaiting_response\""), std::string::npos) << all;
  const std::string two = registry.recentCancellationsJson(2);
  EXPECT_EQ(two.find("second"), std::string::npos) << two;
  EXPECT_NE(two.find("fourth"), std::string::npos) << two;
  EXPECT_EQ(MetricsRegistry(config, {}).recentCancellationsJson(5), "[]\n");
}

}  // namespace
}  // namespace tether::metrics
