// examples/go (a net/http API) behind the real tether: when a client leaves (curl's --max-time, a TCP reset, an
// HTTP/2 RST_STREAM over h2c or h2/TLS), the proof is the app's own log: its handler's r.Context() fired for that
// request id (`request cancelled id=<id>`), and tether wrote exactly one request_cancelled line for it, with the
// phase, the departure's reason and the client's protocol. The CPU loop (ctx.Err()), the outgoing call made with
// http.NewRequestWithContext (cancelled too, and the downstream's own context fires), an h2c upstream (tether resets
// the stream) and the negative (a normal request fires nothing) each have a test.
//
// The delay from tether's request_cancelled to the app's line is printed (RecordProperty "cancel_delay_ms") and
// bounded at 5 s (example_departure.h), a guard against "never" only: measured here 0-2 ms (examples/go/README.md).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "example_app.h"
#include "example_departure.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto kBound = 30s;  // only a failing test waits this long

#define REQUIRE_GO_EXAMPLE() TETHER_REQUIRE_RUNTIME(missingFiles({TETHER_GO_EXAMPLE}))

std::vector<std::string> goApp() { return {TETHER_GO_EXAMPLE, "-listen", "127.0.0.1:0"}; }

TetherOptions behindTether(const ExampleApp& app, ClientProtocol client, std::string_view upstream_protocol = "http1") {
  return forClient(TetherOptions::proxyTo({app.endpoint()}, {{"protocol", std::string(upstream_protocol)}}), client);
}

class GoExample : public ::testing::TestWithParam<Departure> {};

TEST_P(GoExample, SlowHandlersContextFiresWhenTheClientLeaves) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  TetherInstance tether(behindTether(app, clientProtocol(GetParam())));
  const std::string id = std::string("go-slow-") + name(GetParam());
  ASSERT_TRUE(sendAndLeave(GetParam(), tether, app, "/slow", id));
  expectCancelledOnBothSides(tether, app, id, expectedReasons(GetParam()), expectedProtocol(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Interop, GoExample, ::testing::ValuesIn(everyExampleDeparture()),
                         [](const auto& param_info) { return std::string(name(param_info.param)); });

TEST(GoExample, CpuLoopStopsAtCtxErr) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  ASSERT_TRUE(sendAndLeave(Departure::kRst, tether, app, "/cpu", "go-cpu"));
  const auto line = app.waitFor("request cancelled", "go-cpu");
  ASSERT_TRUE(line) << app.output();
  EXPECT_EQ(appField(*line, "path"), "/cpu");
  expectCancelledOnBothSides(tether, app, "go-cpu", {"client_reset"}, "http/1.1");
}

// The context passed to http.NewRequestWithContext cancels the outgoing call: the app logs `downstream cancelled`,
// and the downstream (the app itself, called with X-Request-Id <id>-downstream) sees its own context fire.
TEST(GoExample, OutgoingCallWithTheRequestsContextIsCancelled) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  ASSERT_TRUE(sendAndLeave(Departure::kRst, tether, app, "/downstream", "go-call", "go-call-downstream"));
  const auto outgoing = app.waitFor("downstream cancelled", "go-call");
  ASSERT_TRUE(outgoing) << app.output();
  EXPECT_NE(outgoing->find("context canceled"), std::string::npos) << *outgoing;
  const auto downstream = app.waitFor("request cancelled", "go-call-downstream");
  ASSERT_TRUE(downstream) << app.output();
  EXPECT_EQ(appField(*downstream, "path"), "/slow");
  expectCancelledOnBothSides(tether, app, "go-call", {"client_reset"}, "http/1.1");
}

// tether speaks h2c to the app (h2c.NewHandler): a client's RST_STREAM becomes tether's RST_STREAM(CANCEL) on the
// upstream stream, and Go cancels that request's context (the connection stays up).
TEST(GoExample, H2cUpstreamContextFiresOnRstStream) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  TetherInstance tether(behindTether(app, ClientProtocol::kH2c, "h2c"));
  ASSERT_TRUE(sendAndLeave(Departure::kH2cStreamReset, tether, app, "/slow", "go-h2c"));
  const auto started = app.waitFor("request started", "go-h2c");
  ASSERT_TRUE(started);
  EXPECT_EQ(appField(*started, "proto"), "h2c") << *started;
  ASSERT_TRUE(app.waitFor("request cancelled", "go-h2c")) << app.output();
  const auto events = tether.waitForLogEvents("request_cancelled", "go-h2c", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("upstream_protocol"), "h2c");
  EXPECT_EQ(events[0].str("upstream_reset"), "CANCEL");
  expectCancelledOnBothSides(tether, app, "go-h2c", {"stream_reset"}, "h2c");
}

TEST(GoExample, NormalRequestFiresNothing) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  TetherInstance tether(behindTether(app, ClientProtocol::kH1));
  expectCompletesWithoutCancellation(tether, app, "go-fast");
}

// What net/http notices without tether in front (docs/upstreams.md, "Go net/http"): a client's half-close of an
// HTTP/1.1 connection (shutdown(SHUT_WR), its read side still open) fires r.Context() at once, and the client then
// reads what the handler left behind (it wrote nothing: net/http's empty 200).
TEST(GoExample, WithoutTetherAHalfCloseFiresTheContext) {
  REQUIRE_GO_EXAMPLE();
  ExampleApp app(goApp());
  RawClient client;
  ASSERT_TRUE(client.connect(app.port()));
  ASSERT_TRUE(client.send(getRequest("/slow", "X-Request-Id: go-half-close\r\n")));
  ASSERT_TRUE(app.waitFor("request started", "go-half-close")) << app.output();
  client.shutdownWrite();
  const auto cancelled = app.waitFor("request cancelled", "go-half-close");
  ASSERT_TRUE(cancelled) << app.output();
  EXPECT_EQ(appField(*cancelled, "cause"), "context");  // "context canceled"
  const auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
}

}  // namespace
}  // namespace tether::testing
