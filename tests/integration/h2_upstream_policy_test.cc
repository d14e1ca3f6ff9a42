// The cancellation policies and tether's own cancellations behave with an HTTP/2 upstream exactly as with an
// HTTP/1.1 one (issue 13, item 3), only the upstream sees RST_STREAM(CANCEL) on that one stream instead of a closed
// connection: `mode: ignore` and methods outside `methods` let the stream run to its end (its body read and
// discarded, flow-control credit given back); `grace` lets it finish within the grace and resets it after;
// `grace_bytes` resets it once the response outgrows them; the route deadline, a drain past drain_timeout and the
// loss of an HTTP/2 client connection carrying several streams reset each stream. The upstream connection lives on
// and serves the next request whenever tether itself goes on.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/h2_client.h"
#include "support/h2_test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;                // only a failing test waits this long
constexpr uint64_t kBigBody = 1024 * 1024;  // far beyond every flow-control window on the way
constexpr uint64_t kBeforeHold = 1000;      // body bytes sent before a kAfterHeaders hold

// /hold: nothing until released; /stream: the head and kBeforeHold bytes, then kBigBody more once released;
// anything else: "hello <path>".
H2TestUpstream::Reply reply(const H2Request& request) {
  H2TestUpstream::Reply reply;
  if (request.path == "/hold") {
    reply.hold = Hold::kBeforeHeaders;
    reply.stream_bytes = kBigBody;
  } else if (request.path == "/stream") {
    reply.hold = Hold::kAfterHeaders;
    reply.body_before_hold = kBeforeHold;
    reply.stream_bytes = kBeforeHold + kBigBody;
  } else {
    reply.body = "hello " + request.path;
  }
  return reply;
}

class H2UpstreamPolicy : public ::testing::TestWithParam<ClientProtocol> {
 protected:
  void SetUp() override { upstream_.setHandler(reply); }

  // One h2c upstream "backend" behind one catch-all route with these route settings.
  TetherOptions options(Settings route) const {
    TetherOptions options;
    options.addUpstream("backend", {upstream_.address()}, {{"protocol", "h2c"}})
        .addRoute("all", "{path_prefix: /}", "backend", std::move(route));
    return options;
  }

  // Sends `method path` and leaves (FIN) once the upstream has the request (and, for /stream, once tether has
  // started the response); returns once tether has seen the client go.
  void sendAndLeave(const TetherInstance& tether, const std::string& method, const std::string& path) {
    AnyClient client(GetParam());
    ASSERT_TRUE(client.connect(tether.port()));
    ASSERT_TRUE(client.request(method, path));
    ASSERT_TRUE(upstream_.waitForRequests(++requests_, kBound)) << tether.dumpLog();
    if (path == "/stream") {
      ASSERT_TRUE(client.readResponseStart(kBeforeHold)) << tether.dumpLog();
    }
    client.leave(Leave::kFin);
    ASSERT_EQ(waitForSampleAtMost(tether, "tether_downstream_connections{protocol=\"http\"}", 0), 0)
        << "the client's departure went unnoticed";
  }

  // The stream of the latest request.
  int32_t latestStream() const { return upstream_.requests().back().stream_id; }
  // Lets the latest request's held reply go on. Not releaseAll(): the request is recorded before its reply is
  // held, and a release by stream id is remembered until then.
  void releaseLatest() { upstream_.release(1, latestStream()); }

  // A request after the cancellation is served on the same upstream connection.
  void expectConnectionServesTheNext(const TetherInstance& tether) {
    AnyClient next(GetParam());
    ASSERT_TRUE(next.connect(tether.port()));
    ASSERT_TRUE(next.request("GET", "/next"));
    const auto response = next.readResponse();
    ASSERT_TRUE(response) << tether.dumpLog();
    EXPECT_EQ(response->body, "hello /next");
    EXPECT_EQ(upstream_.acceptedConnections(), 1);
  }

  H2TestUpstream upstream_;
  int requests_ = 0;
};

// The client left and the policy let the upstream run: its stream ends normally (no RST_STREAM), every byte of
// the big body was read and discarded, and the line is client_gone.
void expectRanToTheEnd(const TetherInstance& tether, H2TestUpstream& upstream, int32_t stream, uint64_t discarded) {
  ASSERT_TRUE(upstream.waitForStreamClosed(1, stream, kBound)) << tether.dumpLog();
  const auto record = upstream.stream(1, stream);
  ASSERT_TRUE(record);
  EXPECT_TRUE(record->endedNormally()) << "close code " << record->close_code;
  EXPECT_TRUE(upstream.resetsReceived().empty());
  const auto gone = tether.waitForLogEvents("client_gone", "", 1, kBound);
  ASSERT_EQ(gone.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(gone[0].str("ended"), "completed");
  EXPECT_EQ(gone[0].integerAt("bytes_discarded"), static_cast<int64_t>(discarded));
  ASSERT_NE(gone[0].find("upstream_reset"), nullptr);
  EXPECT_TRUE(gone[0].find("upstream_reset")->isNull()) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
}

// tether reset `stream` with CANCEL, and nothing else, and logged one request_cancelled with `reason`.
void expectCancelled(const TetherInstance& tether, H2TestUpstream& upstream, int32_t stream, const char* reason) {
  ASSERT_TRUE(upstream.waitForResets(1, kBound)) << tether.dumpLog();
  EXPECT_EQ(upstream.resetsReceived(), (std::vector<H2ResetRecord>{{1, stream, NGHTTP2_CANCEL}}));
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "", 1, kBound);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), reason);
  EXPECT_EQ(cancelled[0].str("upstream_protocol"), "h2c");
  EXPECT_EQ(cancelled[0].str("upstream_reset"), "CANCEL");
}

TEST_P(H2UpstreamPolicy, IgnoreLetsTheStreamRunToItsEnd) {
  TetherInstance tether(options({{"cancellation", "{mode: ignore}"}}));
  sendAndLeave(tether, "GET", "/hold");
  releaseLatest();
  expectRanToTheEnd(tether, upstream_, latestStream(), kBigBody);
  expectConnectionServesTheNext(tether);
}

TEST_P(H2UpstreamPolicy, MethodsOutsideTheListRunOnAndListedOnesAreReset) {
  TetherInstance tether(options({{"cancellation", "{methods: [GET]}"}}));
  sendAndLeave(tether, "POST", "/hold");
  const int32_t post = latestStream();
  releaseLatest();
  expectRanToTheEnd(tether, upstream_, post, kBigBody);
  sendAndLeave(tether, "GET", "/hold");
  expectCancelled(tether, upstream_, latestStream(), "client_closed");
  expectConnectionServesTheNext(tether);
}

TEST_P(H2UpstreamPolicy, WithinTheGraceTheStreamFinishes) {
  TetherInstance tether(options({{"cancellation", "{grace: 60s}"}}));
  sendAndLeave(tether, "GET", "/hold");
  releaseLatest();
  expectRanToTheEnd(tether, upstream_, latestStream(), kBigBody);
}

TEST_P(H2UpstreamPolicy, PastTheGraceTheStreamIsReset) {
  TetherInstance tether(options({{"cancellation", "{grace: 1ms}"}}));
  sendAndLeave(tether, "GET", "/hold");
  expectCancelled(tether, upstream_, latestStream(), "drain_limit");
  expectConnectionServesTheNext(tether);
}

TEST_P(H2UpstreamPolicy, PastTheGraceBytesTheStreamIsReset) {
  TetherInstance tether(options({{"cancellation", "{grace: 60s, grace_bytes: 64KiB}"}}));
  sendAndLeave(tether, "GET", "/stream");
  releaseLatest();
  expectCancelled(tether, upstream_, latestStream(), "drain_limit");
  expectConnectionServesTheNext(tether);
}

TEST_P(H2UpstreamPolicy, TheRouteDeadlineResetsTheStreamAndAnswers504) {
  TetherInstance tether(options({{"timeout", "300ms"}}));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/hold"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 504);
  ASSERT_EQ(upstream_.requests().size(), 1u);
  expectCancelled(tether, upstream_, latestStream(), "deadline_exceeded");
  expectConnectionServesTheNext(tether);
}

// SIGTERM with a stream still held past drain_timeout: that stream is reset (shutdown), not left to the upstream.
TEST_P(H2UpstreamPolicy, ShutdownPastTheDrainTimeoutResetsTheStream) {
  TetherOptions drained = options({});
  drained.drain_timeout = "200ms";
  TetherInstance tether(drained);
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/hold"));
  ASSERT_TRUE(upstream_.waitForRequests(1, kBound)) << tether.dumpLog();
  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  ASSERT_TRUE(upstream_.waitForResets(1, kBound)) << tether.dumpLog();
  EXPECT_EQ(upstream_.resetsReceived(), (std::vector<H2ResetRecord>{{1, latestStream(), NGHTTP2_CANCEL}}));
  EXPECT_EQ(tether.stop(), 0);
  const auto cancelled = tether.logEvents("request_cancelled");
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), "shutdown");
  EXPECT_EQ(cancelled[0].str("upstream_reset"), "CANCEL");
}

INSTANTIATE_TEST_SUITE_P(Clients, H2UpstreamPolicy, ::testing::Values(ClientProtocol::kH1, ClientProtocol::kH2c),
                         [](const auto& test) { return std::string(name(test.param)); });

// An HTTP/2 client connection carrying three streams is lost: each of its streams is reset upstream, one line
// each, on the one upstream connection, which goes on.
TEST(H2UpstreamConnectionLoss, EveryStreamOfTheLostClientConnectionIsReset) {
  H2TestUpstream upstream;
  upstream.setHandler(reply);
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"protocol", "h2c"}}));
  {
    H2Client client;
    ASSERT_TRUE(client.connect(tether.port()));
    for (int i = 0; i < 3; ++i) client.request("GET", "/hold");
    ASSERT_TRUE(client.runUntil([&] { return upstream.requests().size() == 3; }, kBound)) << tether.dumpLog();
    client.disconnect();
  }
  ASSERT_TRUE(upstream.waitForResets(3, kBound)) << tether.dumpLog();
  for (const H2ResetRecord& reset : upstream.resetsReceived()) {
    EXPECT_EQ(reset.connection, 1);
    EXPECT_EQ(reset.error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  }
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "", 3, kBound).size(), 3u) << tether.dumpLog();
  AnyClient next(ClientProtocol::kH2c);
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", "/next"));
  const auto response = next.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "hello /next");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

}  // namespace
}  // namespace tether::testing
