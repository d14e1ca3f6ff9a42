// HTTP/2 cleartext upstreams (`protocol: h2c`) on the real binary, against support/h2_test_upstream.h (serve() below):
// GET and POST bodies arrive byte-exact for HTTP/1.1 and h2c clients, sequential requests reuse one upstream
// connection, concurrent ones multiplex on it, and a client that leaves while the upstream holds its response
// resets only that stream (RST_STREAM CANCEL): the connection serves the next request.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/any_client.h"
#include "support/h2_test_upstream.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kBound = 20s;  // only a failing test waits this long

// The paths the tests ask support/h2_test_upstream.h for:
//   /echo      200 with the request body
//   /hold...   "hello <path>" once the test releases the stream (never, unless it does)
//   /big/N     N generatedBody() bytes
//   /fields    the request's fields, one "name: value" a line, pseudo-headers first
//   /reset     RST_STREAM(INTERNAL_ERROR) instead of an answer
//   /goaway    on the first connection: GOAWAY with the stream before it as the last one processed (this request
//              was refused unprocessed); on later connections answered as any other path
//   anything else: 200 with "hello <path>"
H2TestUpstream::Reply serve(const H2Request& request) {
  H2TestUpstream::Reply reply;
  const std::string& path = request.path;
  if (path.starts_with("/hold")) {
    reply.hold = H2TestUpstream::Reply::Hold::kBeforeHeaders;
    reply.body = "hello " + path;
  } else if (path == "/echo") {
    reply.body = request.body;
  } else if (path.starts_with("/big/")) {
    reply.stream_bytes = std::stoull(path.substr(5));
  } else if (path == "/fields") {
    for (const auto& [name, value] : {std::pair<std::string, std::string>{":method", request.method},
                                      {":scheme", request.scheme},
                                      {":authority", request.authority},
                                      {":path", request.path}}) {
      if (!value.empty()) reply.body += name + ": " + value + "\n";
    }
    for (const auto& [name, value] : request.headers) reply.body += name + ": " + value + "\n";
  } else if (path == "/reset") {
    reply.reset_code = NGHTTP2_INTERNAL_ERROR;
  } else if (path == "/goaway" && request.connection == 1) {
    reply.goaway_last_stream_id = request.stream_id - 2;
  } else {
    reply.body = "hello " + path;
  }
  return reply;
}

// support/h2_test_upstream.h answering as serve() says. `max_streams`: its SETTINGS_MAX_CONCURRENT_STREAMS.
class PathUpstream : public H2TestUpstream {
 public:
  explicit PathUpstream(uint32_t max_streams = 100) : H2TestUpstream(Options{.max_concurrent_streams = max_streams}) {
    setHandler(serve);
  }
};

TetherOptions h2cTo(const H2TestUpstream& upstream) {
  return TetherOptions::proxyTo({upstream.address()}, {{"protocol", "h2c"}, {"connect_timeout", "5s"}});
}

class H2UpstreamTest : public ::testing::TestWithParam<ClientProtocol> {};

TEST_P(H2UpstreamTest, GetAndPostBodiesArriveByteExactOnOneConnection) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/a/b?c=d"));
  auto get = client.readResponse();
  ASSERT_TRUE(get) << tether.dumpLog();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello /a/b?c=d");

  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i) body += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(client.request("POST", "/echo", {}, body));
  auto post = client.readResponse();
  ASSERT_TRUE(post) << tether.dumpLog();
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body.size(), body.size());
  EXPECT_TRUE(post->body == body);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.request("GET", "/again"));
    auto again = client.readResponse();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "hello /again");
  }
  EXPECT_EQ(upstream.acceptedConnections(), 1);  // five sequential requests, one upstream connection
}

TEST_P(H2UpstreamTest, LargeResponseFlowsThroughTheWindows) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  constexpr size_t kSize = 3 * 1024 * 1024;  // well beyond the 64 KiB stream and 1 MiB connection windows
  ASSERT_TRUE(client.request("GET", "/big/" + std::to_string(kSize)));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body_bytes, kSize);
  EXPECT_TRUE(response->body == generatedBody(response->body.size()));
  ASSERT_TRUE(client.request("GET", "/after"));  // the connection's window was given back: it still serves
  auto after = client.readResponse();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ConcurrentRequestsMultiplexOnOneConnection) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  constexpr int kRequests = 4;
  std::vector<std::unique_ptr<AnyClient>> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.push_back(std::make_unique<AnyClient>(GetParam()));
    ASSERT_TRUE(clients.back()->connect(tether.port()));
    ASSERT_TRUE(clients.back()->request("GET", "/hold/" + std::to_string(i)));
  }
  // The upstream answers only once all four are open at once (on one connection).
  ASSERT_TRUE(upstream.waitForRequests(kRequests, kBound)) << tether.dumpLog();
  for (const H2StreamRecord& stream : upstream.streams()) {
    upstream.release(stream.request.connection, stream.request.stream_id);
  }
  for (int i = 0; i < kRequests; ++i) {
    auto response = clients[i]->readResponse();
    ASSERT_TRUE(response) << tether.dumpLog();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "hello /hold/" + std::to_string(i));
  }
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ClientLeavingResetsOnlyItsStream) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  {
    AnyClient leaving(GetParam());
    ASSERT_TRUE(leaving.connect(tether.port()));
    ASSERT_TRUE(leaving.request("GET", "/hold"));
    ASSERT_TRUE(upstream.waitForRequests(1, kBound));
    leaving.leave(Leave::kRst);
  }
  ASSERT_TRUE(upstream.waitForResets(1, kBound)) << tether.dumpLog();
  const auto resets = upstream.resetsReceived();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(resets[0].connection, 1);
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "", 1, kBound);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  // The line says what went upstream: the stream's RST_STREAM code, on an h2c connection.
  EXPECT_EQ(cancelled[0].str("upstream_protocol"), "h2c");
  EXPECT_EQ(cancelled[0].str("upstream_reset"), "CANCEL");

  AnyClient next(GetParam());
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", "/after"));
  auto response = next.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);  // the connection outlived the cancelled stream
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u);
}

TEST_P(H2UpstreamTest, StreamResetByTheUpstreamGets502AndTheConnectionGoesOn) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/reset"));
  auto reset = client.readResponse();
  ASSERT_TRUE(reset) << tether.dumpLog();
  EXPECT_EQ(reset->status, 502);
  ASSERT_TRUE(client.request("GET", "/after"));
  auto after = client.readResponse();
  ASSERT_TRUE(after) << tether.dumpLog();
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ServerStreamLimitOpensAnotherConnection) {
  PathUpstream upstream(2);  // SETTINGS_MAX_CONCURRENT_STREAMS 2
  TetherInstance tether(h2cTo(upstream));
  std::vector<std::unique_ptr<AnyClient>> clients;
  for (int i = 1; i <= 3; ++i) {
    clients.push_back(std::make_unique<AnyClient>(GetParam()));
    ASSERT_TRUE(clients.back()->connect(tether.port()));
    ASSERT_TRUE(clients.back()->request("GET", "/hold"));
    ASSERT_TRUE(upstream.waitForRequests(i, kBound)) << tether.dumpLog();
  }
  EXPECT_EQ(upstream.acceptedConnections(), 2);  // two streams on the first, the third on a second one
  for (auto& client : clients) client->leave(Leave::kRst);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", "", 3, kBound).size(), 3u) << tether.dumpLog();
}

TEST(H2UpstreamConfigTest, ClientStreamResetCancelsTheUpstreamStream) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH2c);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/hold"));
  ASSERT_TRUE(upstream.waitForRequests(1, kBound));
  client.leave(Leave::kStreamReset);
  ASSERT_TRUE(upstream.waitForResets(1, kBound)) << tether.dumpLog();
  EXPECT_EQ(upstream.resetsReceived()[0].error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  ASSERT_TRUE(client.request("GET", "/after"));  // both connections live on
  auto after = client.readResponse();
  ASSERT_TRUE(after) << tether.dumpLog();
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, RequestRefusedByGoawayIsRetriedOnANewConnection) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/first"));
  ASSERT_TRUE(client.readResponse());
  ASSERT_TRUE(client.request("GET", "/goaway"));  // stream 3: GOAWAY says only stream 1 was processed
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello /goaway");
  EXPECT_EQ(upstream.acceptedConnections(), 2);
  const auto requests = upstream.requests();
  EXPECT_EQ(std::count_if(requests.begin(), requests.end(), [](const H2Request& r) { return r.connection == 2; }), 1);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty());
}

TEST(H2UpstreamConfigTest, ConnectionSpecificFieldsAreDropped) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/fields",
                             {{"Connection", "keep-alive, X-Hop"},
                              {"Keep-Alive", "timeout=5"},
                              {"X-Hop", "1"},
                              {"Proxy-Connection", "keep-alive"},
                              {"TE", "trailers"},
                              {"X-Kept", "Yes"},
                              // Lowercased eight bytes at a time, then the tail: capitals in both parts.
                              {"X-Long-Mixed-CASE-Name-42Z", "Value-Kept-AS-IS"}}));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  ASSERT_EQ(response->status, 200);
  const std::string& fields = response->body;
  EXPECT_NE(fields.find(":method: GET\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":scheme: http\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":authority: test\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":path: /fields\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find("x-kept: Yes\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find("x-long-mixed-case-name-42z: Value-Kept-AS-IS\n"), std::string::npos) << fields;
  for (const char* dropped : {"connection:", "keep-alive:", "x-hop:", "proxy-connection:", "\nhost:"}) {
    EXPECT_EQ(fields.find(dropped), std::string::npos) << dropped << " in\n" << fields;
  }
}

TEST(H2UpstreamConfigTest, IdleConnectionIsPingedThenClosedAtTheKeepaliveTimeout) {
  PathUpstream upstream;
  TetherInstance tether(
      TetherOptions::proxyTo({upstream.address()}, {{"protocol", "h2c"}, {"keepalive_idle_timeout", "300ms"}}));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/one"));
  ASSERT_TRUE(client.readResponse());
  // Idle: a PING after half the timeout (the server answers it), the close at the timeout.
  ASSERT_TRUE((upstream.waitForPings(1, kBound) && upstream.waitForClosedConnections(1, kBound))) << tether.dumpLog();
  ASSERT_TRUE(client.request("GET", "/two"));  // a new connection serves the next request
  auto two = client.readResponse();
  ASSERT_TRUE(two) << tether.dumpLog();
  EXPECT_EQ(two->body, "hello /two");
  EXPECT_EQ(upstream.acceptedConnections(), 2);
}

TEST(H2UpstreamConfigTest, UpgradeRequestGets502) {
  PathUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/ws", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 502);
}

INSTANTIATE_TEST_SUITE_P(Clients, H2UpstreamTest, ::testing::Values(ClientProtocol::kH1, ClientProtocol::kH2c),
                         [](const auto& test) { return std::string(name(test.param)); });

}  // namespace
}  // namespace tether::testing
