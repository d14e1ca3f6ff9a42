// The reset-storm guard of HTTP/2 upstreams (docs/upstreams.md, `reset_budget` / `reset_window`), against an h2c
// upstream with a Rapid Reset defence of its own (H2TestUpstream's max_client_resets: more than that many
// RST_STREAMs on one connection and it answers GOAWAY(ENHANCE_YOUR_CALM) and closes, taking every other stream on
// the connection down). Cancelling more requests than the upstream's limit, with a request in flight throughout:
//  - with reset_budget below the limit, the first connection drains with a graceful GOAWAY(NO_ERROR) from tether,
//    later streams go to a second connection, the upstream never sends its GOAWAY and no other request fails;
//  - with reset_budget above the limit (the control), the upstream's defence fires and the request in flight fails,
//    which is what the guard prevents.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/h2_test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;  // only a failing test waits this long
constexpr int kServerLimit = 5;
constexpr int kCancels = kServerLimit + 2;  // more than the upstream tolerates on one connection

H2TestUpstream::Options rapidResetDefence() {
  H2TestUpstream::Options options;
  options.max_client_resets = kServerLimit;  // over the connection's lifetime
  return options;
}

// Holds every request whose path starts with /hold; answers the others with "done <path>".
H2TestUpstream::Reply holdOrAnswer(const H2Request& request) {
  H2TestUpstream::Reply reply;
  if (request.path.starts_with("/hold")) reply.hold = Hold::kBeforeHeaders;
  reply.body = "done " + request.path;
  return reply;
}

TetherOptions guarded(const H2TestUpstream& upstream, int budget, const std::string& window = "60s") {
  return TetherOptions::proxyTo({upstream.address()}, {{"protocol", "h2c"},
                                                       {"reset_budget", std::to_string(budget)},
                                                       {"reset_window", window},
                                                       {"max_connections_per_endpoint", "4"}})
      .withWorkers(1);  // one pool: every request shares its connections
}

// One request after another, each cancelled by its client (a TCP reset) once the upstream holds it, and each reset
// seen by the upstream before the next request starts: which connection carries the next one is then decided.
void cancelOneByOne(H2TestUpstream& upstream, TetherInstance& tether, int count) {
  const int streams = static_cast<int>(upstream.streams().size());
  const int resets = static_cast<int>(upstream.resetsReceived().size());
  for (int i = 1; i <= count; ++i) {
    AnyClient client(ClientProtocol::kH1);
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.request("GET", "/hold/cancel-" + std::to_string(streams + i)));
    ASSERT_TRUE(upstream.waitForStreams(streams + i, kBound)) << tether.dumpLog();
    client.leave(Leave::kRst);
    ASSERT_TRUE(upstream.waitForResets(resets + i, kBound)) << tether.dumpLog();
  }
}

int resetsOn(const H2TestUpstream& upstream, int connection) {
  int n = 0;
  for (const auto& reset : upstream.resetsReceived()) n += reset.connection == connection ? 1 : 0;
  return n;
}

TEST(H2UpstreamResetGuard, BudgetBelowTheUpstreamLimitDrainsTheConnectionAndNoOtherRequestFails) {
  H2TestUpstream upstream(rapidResetDefence());
  upstream.setHandler(holdOrAnswer);
  constexpr int kBudget = 3;
  TetherInstance tether(guarded(upstream, kBudget));

  // A request in flight on the first connection through the whole storm.
  AnyClient kept(ClientProtocol::kH1);
  ASSERT_TRUE(kept.connect(tether.port()));
  ASSERT_TRUE(kept.request("GET", "/hold/kept"));
  ASSERT_TRUE(upstream.waitForStreams(1, kBound)) << tether.dumpLog();
  const int32_t kept_stream = upstream.streams()[0].request.stream_id;

  ASSERT_NO_FATAL_FAILURE(cancelOneByOne(upstream, tether, kCancels));

  // The (budget + 1)th reset tripped the guard: tether's graceful GOAWAY on the first connection, and the later
  // cancellations went to a second one. Neither connection got past the upstream's limit.
  ASSERT_TRUE(upstream.waitForGoaways(1, kBound)) << tether.dumpLog();
  const auto goaways = upstream.goawaysReceived();
  ASSERT_EQ(goaways.size(), 1u);
  EXPECT_EQ(goaways[0].connection, 1);
  EXPECT_EQ(goaways[0].error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(upstream.acceptedConnections(), 2);
  EXPECT_EQ(resetsOn(upstream, 1), kBudget + 1);
  EXPECT_EQ(resetsOn(upstream, 2), kCancels - kBudget - 1);
  for (const auto& reset : upstream.resetsReceived())
    EXPECT_EQ(reset.error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));

  // The request in flight finishes on the draining connection, which then closes.
  upstream.release(1, kept_stream);
  const auto kept_response = kept.readResponse();
  ASSERT_TRUE(kept_response) << tether.dumpLog();
  EXPECT_EQ(kept_response->status, 200);
  EXPECT_EQ(kept_response->body, "done /hold/kept");
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound)) << tether.dumpLog();

  // And a request after the storm is served, on the second connection.
  AnyClient after(ClientProtocol::kH1);
  ASSERT_TRUE(after.connect(tether.port()));
  ASSERT_TRUE(after.request("GET", "/after"));
  const auto after_response = after.readResponse();
  ASSERT_TRUE(after_response) << tether.dumpLog();
  EXPECT_EQ(after_response->body, "done /after");
  EXPECT_EQ(upstream.acceptedConnections(), 2);

  // The upstream's defence never fired.
  for (const auto& connection : upstream.connections()) EXPECT_FALSE(connection.goaway_sent) << connection.id;

  const auto trips = tether.waitForLogEvents("upstream_reset_budget", "", 1, kBound);
  ASSERT_EQ(trips.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(trips[0].str("level"), "warn");
  EXPECT_EQ(trips[0].str("upstream"), "backend");
  EXPECT_EQ(trips[0].str("endpoint"), upstream.address());
  EXPECT_EQ(trips[0].integerAt("resets"), kBudget + 1);
  EXPECT_EQ(trips[0].integerAt("window_ms"), 60000);
  EXPECT_EQ(waitForSample(tether, "tether_upstream_reset_budget_exceeded_total{upstream=\"backend\"}", 1), 1);
  EXPECT_EQ(
      waitForSample(tether, "tether_upstream_stream_resets_total{upstream=\"backend\",code=\"CANCEL\"}", kCancels),
      kCancels);

  // Every cancellation's line says what went upstream.
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "", kCancels, kBound);
  ASSERT_EQ(cancelled.size(), static_cast<size_t>(kCancels));
  for (const auto& line : cancelled) {
    EXPECT_EQ(line.str("upstream_protocol"), "h2c");
    EXPECT_EQ(line.str("upstream_reset"), "CANCEL");
  }
  tether.stop();
  EXPECT_EQ(tether.logEvents("upstream_reset_budget").size(), 1u);
}

// The control: the same storm with the guard's budget above the upstream's limit. The upstream's Rapid Reset
// defence fires (GOAWAY ENHANCE_YOUR_CALM, connection closed) and the request in flight on that connection fails:
// the test above would catch a guard that did nothing.
TEST(H2UpstreamResetGuard, BudgetAboveTheUpstreamLimitLetsTheUpstreamDefenceFire) {
  H2TestUpstream upstream(rapidResetDefence());
  upstream.setHandler(holdOrAnswer);
  TetherInstance tether(guarded(upstream, kServerLimit + 10));

  AnyClient kept(ClientProtocol::kH1);
  ASSERT_TRUE(kept.connect(tether.port()));
  ASSERT_TRUE(kept.request("GET", "/hold/kept"));
  ASSERT_TRUE(upstream.waitForStreams(1, kBound)) << tether.dumpLog();

  ASSERT_NO_FATAL_FAILURE(cancelOneByOne(upstream, tether, kServerLimit + 1));

  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound)) << tether.dumpLog();
  EXPECT_EQ(upstream.connection(1)->goaway_sent, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_FALSE(upstream.connection(1)->goaway_received);  // tether never drained it
  const auto kept_response = kept.readResponse();
  ASSERT_TRUE(kept_response) << tether.dumpLog();
  EXPECT_EQ(kept_response->status, 502);  // a request nobody cancelled, lost with the connection
  EXPECT_TRUE(tether.logEvents("upstream_reset_budget").empty());
}

// A trip with nothing else in flight: the reset and the GOAWAY leave in one write, and the connection, now empty,
// closes only once they are out (the upstream sees both before the close); the next request opens a new one.
TEST(H2UpstreamResetGuard, TripWithNothingInFlightSendsTheGoawayThenCloses) {
  H2TestUpstream upstream;
  upstream.setHandler(holdOrAnswer);
  TetherInstance tether(guarded(upstream, 1));
  ASSERT_NO_FATAL_FAILURE(cancelOneByOne(upstream, tether, 2));
  ASSERT_TRUE(upstream.waitForClosedConnections(1, kBound)) << tether.dumpLog();
  const auto first = upstream.connection(1);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->goaway_received) << tether.dumpLog();
  EXPECT_EQ(first->goaway_received->error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(first->resets_received, 2);

  AnyClient after(ClientProtocol::kH1);
  ASSERT_TRUE(after.connect(tether.port()));
  ASSERT_TRUE(after.request("GET", "/after"));
  const auto response = after.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "done /after");
  EXPECT_EQ(upstream.acceptedConnections(), 2);
  EXPECT_EQ(tether.waitForLogEvents("upstream_reset_budget", "", 1, kBound).size(), 1u);
}

// Resets older than reset_window stop counting: two resets (the budget), a pause longer than the window, two more:
// never more than the budget within the window, so the connection is kept. (The test above shows the count trips
// when the resets fall within the window.)
TEST(H2UpstreamResetGuard, ResetsOlderThanTheWindowStopCounting) {
  H2TestUpstream upstream;
  upstream.setHandler(holdOrAnswer);
  TetherInstance tether(guarded(upstream, 2, "100ms"));
  ASSERT_NO_FATAL_FAILURE(cancelOneByOne(upstream, tether, 2));
  std::this_thread::sleep_for(250ms);  // a known minimum duration: longer than the window
  ASSERT_NO_FATAL_FAILURE(cancelOneByOne(upstream, tether, 2));

  AnyClient after(ClientProtocol::kH1);
  ASSERT_TRUE(after.connect(tether.port()));
  ASSERT_TRUE(after.request("GET", "/after"));
  const auto response = after.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "done /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_TRUE(upstream.goawaysReceived().empty());
  tether.stop();
  EXPECT_TRUE(tether.logEvents("upstream_reset_budget").empty());
}

}  // namespace
}  // namespace tether::testing
