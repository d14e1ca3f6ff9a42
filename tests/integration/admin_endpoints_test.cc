// The admin listener's endpoints other than /metrics: /healthz, /readyz once the workers run, /config (the
// effective configuration as JSON, TLS key paths but never key material), 404 for unknown paths and 405 for
// methods other than GET. It is bound to admin.address, never served on the proxy listener.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "support/admin_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class AdminEndpoints : public ::testing::Test {
 protected:
  static TetherOptions options(const TestUpstream& upstream) {
    TetherOptions options = TetherOptions::proxyTo({upstream.address()});
    options.addRoute("uploads", "{path_prefix: /upload/}", "backend", {{"cancellation", "{mode: ignore}"}});
    return options;
  }

  TestUpstream upstream_;
  TetherInstance tether_{options(upstream_)};
};

TEST_F(AdminEndpoints, HealthzAndReadyzAnswer200OnceStarted) {
  const auto health = adminRequest(tether_.adminPort(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  const auto ready = adminRequest(tether_.adminPort(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
}

TEST_F(AdminEndpoints, MetricsIsPrometheusText) {
  const auto metrics = adminRequest(tether_.adminPort(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("# TYPE tether_requests_total counter"), std::string::npos) << metrics->body;
}

TEST_F(AdminEndpoints, ConfigShowsRoutesWithTheirPolicies) {
  const auto config = adminRequest(tether_.adminPort(), "/config");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->status, 200);
  EXPECT_EQ(config->header("content-type"), "application/json");
  std::string error;
  const auto json = parseJson(config->body, &error);
  ASSERT_TRUE(json) << error << "\n" << config->body;
  const JsonValue* routes = json->find("routes");
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->items.size(), 2u) << config->body;
  EXPECT_EQ(routes->items[0].str("name"), "all");
  EXPECT_EQ(routes->items[1].str("name"), "uploads");
  const JsonValue* policy = routes->items[1].find("cancellation");
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->str("mode"), "ignore");
  ASSERT_TRUE(json->find("upstreams"));
  EXPECT_EQ(json->find("upstreams")->items.at(0).str("name"), "backend");
  ASSERT_TRUE(json->find("admin"));
  EXPECT_EQ(json->find("admin")->integerAt("recent_cancellations"), 100);
  ASSERT_TRUE(json->find("listeners"));
  ASSERT_TRUE(json->find("limits"));
  ASSERT_TRUE(json->find("log"));
}

TEST_F(AdminEndpoints, CancellationsIsAnEmptyArrayAtFirst) {
  const auto recent = adminRequest(tether_.adminPort(), "/cancellations");
  ASSERT_TRUE(recent);
  EXPECT_EQ(recent->status, 200);
  EXPECT_EQ(recent->body, "[]\n");
}

TEST_F(AdminEndpoints, UnknownPathIs404AndOtherMethodsAre405) {
  const auto missing = adminRequest(tether_.adminPort(), "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  const auto post = adminRequest(tether_.adminPort(), "/metrics", "POST");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET");
}

TEST_F(AdminEndpoints, NotServedOnTheProxyListener) {
  ASSERT_TRUE(adminRequest(tether_.adminPort(), "/healthz"));
  RawClient client;
  ASSERT_TRUE(client.connect(tether_.port()));
  ASSERT_TRUE(client.send(getRequest("/healthz")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "ok");  // the upstream's default answer, proxied
  ASSERT_EQ(upstream_.requests().size(), 1u);
  EXPECT_EQ(upstream_.requests()[0].target, "/healthz");
}

}  // namespace
}  // namespace tether::testing
