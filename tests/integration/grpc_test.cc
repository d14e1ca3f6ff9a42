// gRPC through tether on the real binary: an h2c client (H2Client) -> tether -> an h2c upstream (H2TestUpstream).
// `te: trailers` reaches the upstream, trailers pass both ways, grpc-timeout is a deadline whose remaining budget
// is what the upstream receives, tether's own errors are Trailers-Only gRPC responses (grpc-status, grpc-message,
// no body), and the events carry grpc_method and grpc_status.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "http/grpc.h"
#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/h2_client.h"
#include "support/h2_test_upstream.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;  // only a failing test waits this long
constexpr std::string_view kMethod = "/pkg.Echo/Say";
// A gRPC message frame: not compressed, 3 bytes. tether never looks at it.
const std::string kMessage("\0\0\0\0\3abc", 8);

HeaderList grpcFields(HeaderList extra = {}) {
  HeaderList fields{{"content-type", "application/grpc+proto"}, {"te", "trailers"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return fields;
}

// /pkg.Echo/Say echoes the message with grpc-status 0 in trailers; /pkg.Echo/Missing answers Trailers-Only
// NOT_FOUND; /pkg.Echo/Hold is held until its stream is reset; /pkg.Echo/Reset is answered RST_STREAM.
H2TestUpstream::Reply grpcReply(const H2Request& request) {
  H2TestUpstream::Reply reply;
  reply.headers = {{"content-type", "application/grpc"}};
  if (request.path == "/pkg.Echo/Missing") {
    reply.headers.emplace_back("grpc-status", "5");
    reply.headers.emplace_back("grpc-message", "no such thing");
  } else if (request.path == "/pkg.Echo/Hold") {
    reply.hold = Hold::kBeforeHeaders;
  } else if (request.path == "/pkg.Echo/Reset") {
    reply.reset_code = NGHTTP2_INTERNAL_ERROR;
  } else {
    reply.body = request.body;
    reply.trailers = {{"grpc-status", "0"}, {"x-served-by", "test"}};
  }
  return reply;
}

std::chrono::nanoseconds timeoutOf(const H2Request& request) {
  const auto value = request.header("grpc-timeout");
  if (!value) return std::chrono::nanoseconds(-1);
  return http::grpc::parseTimeout(*value).value_or(std::chrono::nanoseconds(-2));
}

class Grpc : public ::testing::Test {
 protected:
  void SetUp() override { upstream_.setHandler(grpcReply); }

  // One h2c upstream "grpc" behind the route "grpc" for /pkg.Echo/, with these route settings.
  TetherOptions options(Settings route = {}) const {
    TetherOptions options;
    options.addUpstream("grpc", {upstream_.address()}, {{"protocol", "h2c"}, {"connect_timeout", "5s"}});
    options.addRoute("grpc", "{path_prefix: /pkg.Echo/}", "grpc", std::move(route));
    return options;
  }

  // Sends one gRPC call and waits for its stream to close.
  H2Client::Stream call(const TetherInstance& tether, std::string_view path, HeaderList extra = {},
                        HeaderList trailers = {}) {
    H2Client client;
    EXPECT_TRUE(client.connect(tether.port()));
    const int32_t id = trailers.empty() ? client.request("POST", path, kMessage, grpcFields(std::move(extra)))
                                        : client.requestWithTrailers("POST", path, kMessage,
                                                                     grpcFields(std::move(extra)), std::move(trailers));
    EXPECT_GT(id, 0);
    EXPECT_TRUE(client.waitClosed(id, kBound)) << tether.dumpLog();
    return client.stream(id);
  }

  // The stream's answer is tether's Trailers-Only gRPC error with `grpc_status`.
  static void expectTrailersOnly(const H2Client::Stream& stream, int grpc_status) {
    EXPECT_EQ(stream.status, 200);
    EXPECT_EQ(stream.error_code, 0u);
    EXPECT_TRUE(stream.head_ended_stream);
    EXPECT_EQ(stream.body, "");
    EXPECT_TRUE(stream.trailers.empty());
    EXPECT_EQ(stream.header("content-type"), "application/grpc");
    EXPECT_EQ(stream.header("grpc-status"), std::to_string(grpc_status));
    EXPECT_TRUE(stream.header("grpc-message").has_value());
  }

  H2TestUpstream upstream_;
};

TEST_F(Grpc, TeTrailersAndTrailersBothWays) {
  TetherInstance tether(options());
  const auto stream =
      call(tether, kMethod, {{"x-request-id", "grpc-echo"}}, {{"x-checksum", "abc"}, {"grpc-status-hint", "1"}});
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.error_code, 0u);
  EXPECT_EQ(stream.body, kMessage);
  EXPECT_EQ(findHeader(stream.trailers, "grpc-status"), "0");
  EXPECT_EQ(findHeader(stream.trailers, "x-served-by"), "test");

  ASSERT_TRUE(upstream_.waitForRequests(1, kBound));
  const H2Request request = upstream_.requests().front();
  EXPECT_EQ(request.path, kMethod);
  EXPECT_EQ(request.header("te"), "trailers");
  EXPECT_EQ(request.header("content-type"), "application/grpc+proto");
  EXPECT_EQ(request.body, kMessage);
  EXPECT_EQ(findHeader(request.trailers, "x-checksum"), "abc");
  EXPECT_EQ(findHeader(request.trailers, "grpc-status-hint"), "1");

  const auto events = tether.waitForLogEvents("request_completed", "grpc-echo", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("grpc_method"), kMethod);
  EXPECT_EQ(events[0].integerAt("grpc_status"), 0);
  EXPECT_EQ(events[0].integerAt("status"), 200);
  EXPECT_EQ(waitForSample(tether, R"(tether_grpc_requests_total{route="grpc",grpc_status="0"})", 1), 1);
}

TEST_F(Grpc, UpstreamTrailersOnlyStaysTrailersOnlyAndIsLogged) {
  TetherInstance tether(options());
  const auto stream = call(tether, "/pkg.Echo/Missing", {{"x-request-id", "grpc-missing"}});
  EXPECT_EQ(stream.status, 200);
  EXPECT_TRUE(stream.head_ended_stream);  // one HEADERS frame with END_STREAM, as the upstream sent it
  EXPECT_EQ(stream.header("grpc-status"), "5");
  EXPECT_EQ(stream.header("grpc-message"), "no such thing");
  const auto events = tether.waitForLogEvents("request_completed", "grpc-missing", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].integerAt("grpc_status"), 5);
  EXPECT_EQ(events[0].str("grpc_method"), "/pkg.Echo/Missing");
}

TEST_F(Grpc, GrpcTimeoutGoesUpstreamAsTheRemainingBudget) {
  TetherInstance tether(options({{"timeout", "20s"}, {"deadline_header", "x-deadline-ms"}}));
  call(tether, kMethod, {{"grpc-timeout", "5S"}});         // below the route timeout: it is the deadline
  call(tether, kMethod, {{"grpc-timeout", "9999999u"}});   // 10 s in microseconds
  call(tether, kMethod, {{"grpc-timeout", "99999999H"}});  // above the route timeout: capped by it
  call(tether, kMethod);                                   // none: the route timeout is the deadline
  call(tether, kMethod, {{"grpc-timeout", "5 seconds"}});  // malformed: ignored, the route timeout applies
  ASSERT_TRUE(upstream_.waitForRequests(5, kBound));
  const auto requests = upstream_.requests();
  ASSERT_EQ(requests.size(), 5u);

  EXPECT_LT(timeoutOf(requests[0]), 5s);  // some of it was spent before the request went upstream
  EXPECT_GT(timeoutOf(requests[0]), 4s);
  EXPECT_LE(std::stoll(requests[0].header("x-deadline-ms").value_or("-1")), 5000);
  EXPECT_LT(timeoutOf(requests[1]), 9999999us);
  EXPECT_GT(timeoutOf(requests[1]), 5s);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_LT(timeoutOf(requests[i]), 20s) << i;
    EXPECT_GT(timeoutOf(requests[i]), 15s) << i;
    EXPECT_EQ(requests[i].headers.end(), std::find_if(requests[i].headers.begin(), requests[i].headers.end(),
                                                      [](const auto& h) { return h.second == "5 seconds"; }));
  }
  for (const auto& request : requests) {
    EXPECT_EQ(std::count_if(request.headers.begin(), request.headers.end(),
                            [](const auto& h) { return h.first == "grpc-timeout"; }),
              1);
  }
}

TEST_F(Grpc, RemainingBudgetExcludesTheTimeSpentQueued) {
  // One connection of one stream: the gRPC call waits in tether's queue behind a held call.
  H2TestUpstream upstream(H2TestUpstream::Options{.max_concurrent_streams = 1});
  upstream.setHandler([](const H2Request& request) {
    H2TestUpstream::Reply reply = grpcReply(request);
    if (request.path == "/pkg.Echo/First") reply.hold = Hold::kBeforeHeaders;
    return reply;
  });
  TetherOptions opts;
  opts.addUpstream("grpc", {upstream.address()},
                   {{"protocol", "h2c"}, {"max_connections_per_endpoint", "1"}, {"queue_timeout", "30s"}});
  opts.addRoute("grpc", "{path_prefix: /pkg.Echo/}", "grpc");
  TetherInstance tether(opts);
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t first = client.request("POST", "/pkg.Echo/First", kMessage, grpcFields());
  ASSERT_TRUE(client.runUntil([&] { return upstream.streams().size() == 1; }, kBound));
  const int32_t second = client.request("POST", "/pkg.Echo/Second", kMessage, grpcFields({{"grpc-timeout", "20S"}}));
  // The second call waits about this long in tether's queue (less the time its head took to reach tether, which a
  // busy machine may stretch: hence the 500 ms allowance below).
  client.runUntil([] { return false; }, 1s);
  EXPECT_EQ(upstream.streams().size(), 1u);  // still queued
  upstream.releaseAll();
  ASSERT_TRUE(client.waitClosed(first, kBound));
  ASSERT_TRUE(client.waitClosed(second, kBound));
  EXPECT_EQ(findHeader(client.stream(second).trailers, "grpc-status"), "0");
  ASSERT_TRUE(upstream.waitForRequests(2, kBound));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].path, "/pkg.Echo/Second");
  EXPECT_LE(timeoutOf(requests[1]), 19500ms);  // the budget shrank by the time spent queued
  EXPECT_GT(timeoutOf(requests[1]), 0ms);
}

TEST_F(Grpc, DeadlineGivesDeadlineExceededAndCancelsTheUpstreamStream) {
  TetherInstance tether(options({{"timeout", "30s"}}));
  const auto stream = call(tether, "/pkg.Echo/Hold", {{"grpc-timeout", "300m"}, {"x-request-id", "grpc-deadline"}});
  expectTrailersOnly(stream, 4);
  ASSERT_TRUE(upstream_.waitForResets(1, kBound));
  const auto resets = upstream_.resetsReceived();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  const auto events = tether.waitForLogEvents("request_cancelled", "grpc-deadline", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("reason"), "deadline_exceeded");
  EXPECT_EQ(events[0].integerAt("status"), 504);  // what tether meant; the client read grpc-status 4
  EXPECT_EQ(events[0].integerAt("grpc_status"), 4);
  EXPECT_EQ(events[0].str("grpc_method"), "/pkg.Echo/Hold");
  // The 300 ms grpc-timeout, not the 30 s route timeout, ended it (libevent arms timers from the time its loop
  // cached, so they may fire a few ms early by the clock).
  EXPECT_GE(events[0].integerAt("elapsed_ms").value_or(0), 250);
  EXPECT_LT(events[0].integerAt("elapsed_ms").value_or(0), 30000);
  EXPECT_EQ(waitForSample(tether, R"(tether_grpc_requests_total{route="grpc",grpc_status="4"})", 1), 1);
  EXPECT_EQ(sampleValue(scrape(tether), R"(tether_requests_total{route="grpc",method="POST",code="504"})"), 1);
}

TEST_F(Grpc, ConnectFailureGivesUnavailable) {
  TetherOptions opts;
  opts.addUpstream("gone", {"127.0.0.1:" + std::to_string(freePort())}, {{"protocol", "h2c"}});
  opts.addRoute("gone", "{path_prefix: /pkg.Echo/}", "gone");
  TetherInstance tether(opts);
  const auto stream = call(tether, kMethod, {{"x-request-id", "grpc-refused"}});
  expectTrailersOnly(stream, 14);
  const auto events = tether.waitForLogEvents("request_completed", "grpc-refused", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].integerAt("status"), 502);
  EXPECT_EQ(events[0].integerAt("grpc_status"), 14);
  EXPECT_EQ(events[0].str("grpc_method"), kMethod);
}

TEST_F(Grpc, UpstreamResetBeforeTheHeadGivesUnavailable) {
  TetherInstance tether(options());
  const auto stream = call(tether, "/pkg.Echo/Reset", {{"x-request-id", "grpc-reset"}});
  expectTrailersOnly(stream, 14);
  const auto events = tether.waitForLogEvents("request_completed", "grpc-reset", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].integerAt("status"), 502);
  EXPECT_EQ(events[0].integerAt("grpc_status"), 14);
}

TEST_F(Grpc, Http1ClientsGetTheUsualError) {
  // gRPC needs trailers, which tether does not give HTTP/1.1 clients: its own errors stay JSON.
  TetherInstance tether(options());
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("POST", "/other.Service/Call",
                             {{"Content-Type", "application/grpc"}, {"X-Request-Id", "grpc-h1"}}, kMessage));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->header("content-type"), "application/json");
  const auto events = tether.waitForLogEvents("request_completed", "grpc-h1", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].str("grpc_method"), "/other.Service/Call");
  EXPECT_TRUE(events[0].find("grpc_status")->isNull());  // the client read no gRPC status
}

TEST_F(Grpc, TeOtherThanTrailersNeverReachesTheUpstream) {
  // From an HTTP/1.1 client, TE may list codings too: only "trailers" goes on, as HTTP/2 allows.
  TetherInstance tether(options());
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("POST", kMethod,
                             {{"Content-Type", "application/grpc"}, {"TE", "gzip, trailers"}, {"Connection", "TE"}},
                             kMessage));
  ASSERT_TRUE(client.readResponse()) << tether.dumpLog();
  ASSERT_TRUE(client.request("POST", kMethod, {{"Content-Type", "application/grpc"}, {"TE", "gzip"}}, kMessage));
  ASSERT_TRUE(client.readResponse()) << tether.dumpLog();
  ASSERT_TRUE(upstream_.waitForRequests(2, kBound));
  const auto requests = upstream_.requests();
  EXPECT_EQ(requests[0].header("te"), "trailers");
  EXPECT_FALSE(requests[1].header("te").has_value());
}

TEST_F(Grpc, NoRouteGivesUnimplemented) {
  TetherInstance tether(options());
  const auto stream = call(tether, "/other.Service/Call", {{"x-request-id", "grpc-noroute"}});
  expectTrailersOnly(stream, 12);
  const auto events = tether.waitForLogEvents("request_completed", "grpc-noroute", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(events[0].integerAt("status"), 404);
  EXPECT_EQ(events[0].integerAt("grpc_status"), 12);
}

TEST_F(Grpc, PlainRequestsKeepTheirShape) {
  TetherInstance tether(options());
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/elsewhere", "", {{"x-request-id", "plain-404"}});
  ASSERT_TRUE(client.waitClosed(id, kBound));
  EXPECT_EQ(client.stream(id).status, 404);  // not gRPC: the JSON error
  EXPECT_EQ(client.stream(id).header("content-type"), "application/json");
  const auto events = tether.waitForLogEvents("request_completed", "plain-404", 1, kBound);
  ASSERT_EQ(events.size(), 1u) << tether.dumpLog();
  ASSERT_NE(events[0].find("grpc_method"), nullptr);
  EXPECT_TRUE(events[0].find("grpc_method")->isNull());
  EXPECT_TRUE(events[0].find("grpc_status")->isNull());
}

}  // namespace
}  // namespace tether::testing
