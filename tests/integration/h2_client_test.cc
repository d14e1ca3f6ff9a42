// HTTP/2 clients (h2c with prior knowledge) in front of an HTTP/1.1 TestUpstream: request mapping, bodies both
// ways, trailers, and per-stream cancellation (RST_STREAM cancels that stream's upstream request and nothing else).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/h2_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

TEST(H2Client, H2cClientH1Upstream_GetMapsPseudoHeadersAndReturnsBody) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.status = 201;
    reply.headers = {{"X-Upstream", "yes"}};
    reply.body = "hello over h2";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/items?q=1", "",
                                    {{"accept", "text/plain"}, {"cookie", "a=1"}, {"cookie", "b=2"}}, "example.test");
  ASSERT_TRUE(client.waitClosed(id));
  const auto& s = client.stream(id);
  EXPECT_EQ(s.error_code, 0u);
  EXPECT_EQ(s.status, 201);
  EXPECT_EQ(s.body, "hello over h2");
  EXPECT_EQ(s.header("x-upstream"), "yes");
  EXPECT_TRUE(s.header("x-request-id"));

  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/items?q=1");
  EXPECT_EQ(requests[0].version, "HTTP/1.1");
  EXPECT_EQ(requests[0].header("Host"), "example.test");
  EXPECT_EQ(requests[0].header("Accept"), "text/plain");
  EXPECT_EQ(requests[0].header("Cookie"), "a=1; b=2");
  EXPECT_TRUE(tether.findLogLine({"\"request_completed\"", "\"protocol\":\"h2c\""}, 30s));
}

TEST(H2Client, H2cClientH1Upstream_ForwardingOffSendsNoRequestIdBack) {
  TestUpstream upstream;
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("plain", "{path_prefix: /}", "backend", {{"forwarding", "{x_forwarded: false, request_id: false}"}});
  TetherInstance tether(options);

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/p", "", {}, "example.test");
  ASSERT_TRUE(client.waitClosed(id));
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_FALSE(client.stream(id).header("x-request-id"));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].header("X-Request-Id"));
  EXPECT_FALSE(requests[0].header("X-Forwarded-For"));
}

TEST(H2Client, H2cClientH1Upstream_PostBodyAndChunkedTrailers) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = "got " + std::to_string(request.body_bytes);
    reply.chunked = true;
    reply.trailers_raw = "X-Checksum: abc\r\n";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const std::string body = generatedBody(300 * 1024);
  const int32_t id = client.request("POST", "/upload", body, {{"te", "trailers"}});
  ASSERT_TRUE(client.waitClosed(id));
  const auto& s = client.stream(id);
  EXPECT_EQ(s.error_code, 0u);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "got " + std::to_string(body.size()));
  EXPECT_EQ(findHeader(s.trailers, "x-checksum"), "abc");
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body_bytes, body.size());
  EXPECT_EQ(requests[0].body, body.substr(0, RecordedRequest::kMaxKeptBody));
}

TEST(H2Client, H2ClientResetCancelsOnlyThatStreamsH1Upstream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    // /slow/0../slow/4 are reset (their work is cut short); the others finish.
    const bool reset =
        request.target.size() == 7 && request.target.compare(0, 6, "/slow/") == 0 && request.target[6] < '5';
    reply.delay = reset ? 60s : 1500ms;
    reply.body = "body of " + request.target;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  std::vector<int32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(client.request("GET", "/slow/" + std::to_string(i)));
  ASSERT_TRUE(client.runUntil([&] { return upstream.acceptedConnections() >= 10; }, 30s))
      << "accepted " << upstream.acceptedConnections();
  ASSERT_TRUE(upstream.waitForRequests(10, 30s));
  for (int i = 0; i < 5; ++i) client.reset(ids[i]);
  client.runUntil([] { return false; }, 100ms);  // sends the resets

  EXPECT_TRUE(upstream.waitForConnectionClosed(5, 30s));
  EXPECT_EQ(upstream.closedConnections(), 5) << "only the reset streams' upstream connections close";
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_cancelled\"", "\"reason\":\"stream_reset\"",
                                        "\"h2_error\":\"CANCEL\"", "\"protocol\":\"h2c\""},
                                       5, 5s),
            5u);

  ASSERT_TRUE(client.runUntil(
      [&] {
        for (int i = 5; i < 10; ++i) {
          if (!client.stream(ids[i]).closed) return false;
        }
        return true;
      },
      10s));
  for (int i = 5; i < 10; ++i) {
    const auto& s = client.stream(ids[i]);
    EXPECT_EQ(s.status, 200) << i;
    EXPECT_EQ(s.error_code, 0u) << i;
    EXPECT_EQ(s.body, "body of /slow/" + std::to_string(i));
  }
  EXPECT_EQ(upstream.requestsServed(), 5);
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_completed\"", "\"protocol\":\"h2c\""}, 5, 30s), 5u);
  EXPECT_EQ(tether.logLinesWith({"\"request_cancelled\""}).size(), 5u);
}

TEST(H2Client, H2ClientDisconnectCancelsEveryInFlightStream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 3; ++i) client.request("GET", "/slow");
  ASSERT_TRUE(client.runUntil([&] { return upstream.acceptedConnections() >= 3; }, 30s));
  ASSERT_TRUE(upstream.waitForRequests(3, 30s));
  client.disconnect();
  EXPECT_TRUE(upstream.waitForConnectionClosed(3, 30s));
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_cancelled\"", "\"reason\":\"client_closed\""}, 3, 30s), 3u);
  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_EQ(tether.logLinesWith({"\"request_cancelled\""}).size(), 3u) << "each stream logged once";
}

TEST(H2Client, H2ClientGoawayCancelsEveryInFlightStream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 2; ++i) client.request("GET", "/slow");
  ASSERT_TRUE(client.runUntil([&] { return upstream.acceptedConnections() >= 2; }, 30s));
  ASSERT_TRUE(upstream.waitForRequests(2, 30s));
  client.goaway(NGHTTP2_INTERNAL_ERROR);
  client.runUntil([] { return false; }, 100ms);  // flushes the GOAWAY; tether's reaction is awaited below
  EXPECT_TRUE(upstream.waitForConnectionClosed(2, 30s));
  EXPECT_EQ(tether.waitForLogLineCount(
                {"\"request_cancelled\"", "\"reason\":\"client_reset\"", "\"h2_error\":\"INTERNAL_ERROR\""}, 2, 30s),
            2u);
  client.disconnect();
  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_EQ(tether.logLinesWith({"\"request_cancelled\""}).size(), 2u) << "each stream logged once";
}

TEST(H2Client, H1ClientStillServedOnTheSameListener) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(tether.findLogLine({"\"request_completed\"", "\"protocol\":\"http/1.1\""}, 30s));
}

}  // namespace
}  // namespace tether::testing
