// The admin listener of the real tether binary: /metrics counters move by exactly the right amounts for
// completed, cancelled and ignored (`mode: ignore`) requests, the exposition passes `promtool check metrics`,
// /cancellations lists a cancelled request by its request_id, and /healthz, /readyz, /config, 404 and 405.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "support/admin_client.h"
#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// `promtool check metrics` on the exposition; skipped when promtool is not installed.
void expectPromtoolAccepts(const TetherInstance& tether, const std::string& text) {
  if (access("/usr/bin/promtool", X_OK) != 0 && std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const std::string path = tether.dir() + "/metrics.txt";
  std::ofstream(path) << text;
  Process promtool({"/bin/sh", "-c", "promtool check metrics < '" + path + "' 2>&1"});
  const auto code = promtool.waitExit(10s);
  EXPECT_EQ(code, 0) << promtool.output() << "\n" << text;
}

constexpr const char* kGet200 = "tether_requests_total{route=\"all\",method=\"GET\",code=\"200\"}";
constexpr const char* kGet499 = "tether_requests_total{route=\"all\",method=\"GET\",code=\"499\"}";
constexpr const char* kCancelledAwaiting =
    "tether_requests_cancelled_total{route=\"all\",reason=\"client_closed\",phase=\"awaiting_response\"}";

TestUpstream::Reply delayed(std::chrono::milliseconds delay) {
  TestUpstream::Reply reply;
  reply.delay = delay;
  reply.body = "slow";
  return reply;
}

TEST(AdminMetrics, CompletedRequestsCountOncePerRequest) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const double before = sampleValue(scrape(tether), kGet200);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(getRequest("/done")));
    const auto response = client.readResponse(30s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(waitForSample(tether, kGet200, before + 3), before + 3);
  const std::string text = scrape(tether);
  EXPECT_EQ(sampleValue(text, "tether_request_duration_seconds_count{route=\"all\"}"), 3) << text;
  EXPECT_EQ(sampleValue(text, kCancelledAwaiting), 0) << text;
  EXPECT_EQ(sampleValue(text, "tether_upstream_connections{upstream=\"backend\",state=\"idle\"}"), 1) << text;
  EXPECT_EQ(sampleValue(text, "tether_downstream_connections{protocol=\"http\"}"), 1) << text;
  expectPromtoolAccepts(tether, text);
}

TEST(AdminMetrics, CancelledRequestCountsReasonPhaseAndWastedUpstreamTime) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return delayed(60s); });  // cancelled long before
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const std::string id = "metrics-cancelled-1";
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/slow", "X-Request-Id: " + id + "\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  // Not a wait for an event: a known minimum of upstream time that the cancellation wastes.
  std::this_thread::sleep_for(200ms);
  client.close();
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", id, 1, 30s).size(), 1u);

  EXPECT_EQ(waitForSample(tether, kCancelledAwaiting, 1), 1);
  const std::string text = scrape(tether);
  EXPECT_EQ(sampleValue(text, kGet499), 1) << text;
  EXPECT_EQ(sampleValue(text, kGet200), 0) << text;
  EXPECT_GE(sampleValue(text, "tether_cancelled_upstream_seconds_total{route=\"all\"}"), 0.15) << text;
  EXPECT_EQ(sampleValue(text, "tether_active_requests"), 0) << text;

  const auto recent = adminRequest(tether, "/cancellations");
  ASSERT_TRUE(recent);
  EXPECT_EQ(recent->status, 200);
  std::string error;
  const auto events = parseJson(recent->body, &error);
  ASSERT_TRUE(events) << error << "\n" << recent->body;
  ASSERT_EQ(events->kind, JsonValue::Kind::kArray);
  ASSERT_EQ(events->items.size(), 1u) << recent->body;
  EXPECT_EQ(events->items[0].str("request_id"), id);
  EXPECT_EQ(events->items[0].str("event"), "request_cancelled");
  EXPECT_EQ(events->items[0].str("reason"), "client_closed");
  EXPECT_EQ(events->items[0].str("phase"), "awaiting_response");
  expectPromtoolAccepts(tether, text);
}

TEST(AdminMetrics, IgnoredRequestCountsAsClientGoneNotCancelled) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return delayed(300ms); });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.routes[0].settings.push_back({"cancellation", "{mode: ignore}"});
  TetherInstance tether(options);
  const std::string id = "metrics-ignored-1";
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/slow", "X-Request-Id: " + id + "\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  client.close();
  ASSERT_EQ(tether.waitForLogEvents("client_gone", id, 1, 30s).size(), 1u);

  const std::string gone =
      "tether_requests_client_gone_total{route=\"all\",reason=\"client_closed\",phase=\"awaiting_response\"}";
  EXPECT_EQ(waitForSample(tether, gone, 1), 1);
  const std::string text = scrape(tether);
  EXPECT_EQ(sampleValue(text, kCancelledAwaiting), 0) << text;
  EXPECT_EQ(text.find("tether_requests_cancelled_total{"), std::string::npos) << text;
  EXPECT_EQ(sampleValue(text, kGet499), 1) << text;
  EXPECT_EQ(sampleValue(text, "tether_cancelled_upstream_seconds_total{route=\"all\"}"), 0) << text;

  const auto recent = adminRequest(tether, "/cancellations");
  ASSERT_TRUE(recent);
  const auto events = parseJson(recent->body);
  ASSERT_TRUE(events) << recent->body;
  ASSERT_EQ(events->items.size(), 1u) << recent->body;
  EXPECT_EQ(events->items[0].str("event"), "client_gone");
  EXPECT_EQ(events->items[0].str("request_id"), id);
  expectPromtoolAccepts(tether, text);
}

TEST(AdminMetrics, UpstreamConnectErrorsAreCounted) {
  const uint16_t closed_port = freePort();  // nothing listens there
  TetherInstance tether(TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(closed_port)}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/refused")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 502);
  const std::string series = "tether_upstream_connect_errors_total{upstream=\"backend\"}";
  EXPECT_GE(waitForSample(tether, series, 1), 1);
  EXPECT_EQ(waitForSample(tether, "tether_requests_total{route=\"all\",method=\"GET\",code=\"502\"}", 1), 1);
}

}  // namespace
}  // namespace tether::testing
