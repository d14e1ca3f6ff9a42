// Error answers of the real tether binary: each has a JSON body that carries the request id.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// A JSON object body that mentions `request_id` as a string value; the X-Request-Id header, when
// present, agrees.
void expectJsonErrorWithId(const RawClient::Response& response, const std::string& request_id) {
  const auto first = response.body.find_first_not_of(" \r\n\t");
  const auto last = response.body.find_last_not_of(" \r\n\t");
  ASSERT_NE(first, std::string::npos) << "empty body";
  EXPECT_EQ(response.body[first], '{') << response.body;
  EXPECT_EQ(response.body[last], '}') << response.body;
  EXPECT_NE(response.body.find("\"" + request_id + "\""), std::string::npos)
      << "request id " << request_id << " not in body: " << response.body;
  if (response.header("X-Request-Id")) {
    EXPECT_EQ(response.header("X-Request-Id"), request_id);
  }
  if (response.header("Content-Type")) {
    EXPECT_NE(response.header("Content-Type")->find("json"), std::string::npos) << *response.header("Content-Type");
  }
}

// For errors found before any request id could be taken from the request: a generated one.
void expectJsonErrorWithGeneratedId(const RawClient::Response& response) {
  const auto id = find32Hex(response.body);
  ASSERT_TRUE(id) << "no 32-hex-digit request id in body: " << response.body;
  expectJsonErrorWithId(response, *id);
}

RawClient::Response exchange(uint16_t port, const std::string& request, RawClient& client) {
  EXPECT_TRUE(client.connect(port));
  EXPECT_TRUE(client.send(request));
  auto response = client.readResponse(30s);
  EXPECT_TRUE(response) << "no response";
  return response.value_or(RawClient::Response{});
}

TEST(ProxyErrors, H1ClientNoRoute_Returns404WithRequestId) {
  TestUpstream upstream;
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()}).addRoute("api", "{path_prefix: /api/}", "backend");
  TetherInstance tether(options);

  RawClient client;
  const auto response = exchange(tether.port(), getRequest("/other", "X-Request-Id: err-404\r\n"), client);
  EXPECT_EQ(response.status, 404);
  expectJsonErrorWithId(response, "err-404");
  EXPECT_EQ(upstream.acceptedConnections(), 0);

  // A generated id when the client sent none; /api/ still routes.
  RawClient other;
  const auto generated = exchange(tether.port(), getRequest("/apix"), other);
  EXPECT_EQ(generated.status, 404);
  expectJsonErrorWithGeneratedId(generated);
  RawClient routed;
  EXPECT_EQ(exchange(tether.port(), getRequest("/api/x"), routed).status, 200);
}

TEST(ProxyErrors, H1ClientRefusedUpstream_Returns502WithRequestId) {
  const std::string refused = "127.0.0.1:" + std::to_string(freePort());
  TetherInstance tether(TetherOptions::proxyTo({refused}));

  RawClient client;
  const auto response = exchange(tether.port(), getRequest("/x", "X-Request-Id: err-502\r\n"), client);
  EXPECT_EQ(response.status, 502);
  expectJsonErrorWithId(response, "err-502");
}

TEST(ProxyErrors, H1ClientSlowUpstream_RouteTimeoutReturns504AndCancelsUpstream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cut short by the route timeout
    return reply;
  });
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("slow", "{path_prefix: /}", "backend", {{"timeout", "300ms"}});
  TetherInstance tether(options);

  RawClient client;
  const auto start = std::chrono::steady_clock::now();
  const auto response = exchange(tether.port(), getRequest("/slow", "X-Request-Id: err-504\r\n"), client);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(response.status, 504);
  expectJsonErrorWithId(response, "err-504");
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 10s);  // generous for a busy machine; without the timeout the upstream answers after 60 s
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s)) << "the upstream request was not cancelled";
  EXPECT_EQ(upstream.requestsServed(), 0);
}

TEST(ProxyErrors, H1ClientMalformedRequest_Returns400AndCloses) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  const auto response = exchange(tether.port(), "HELLO\r\n\r\n", client);
  EXPECT_EQ(response.status, 400);
  expectJsonErrorWithGeneratedId(response);
  EXPECT_TRUE(client.waitClosed(2s)) << "connection left open after a malformed request";
  EXPECT_EQ(upstream.acceptedConnections(), 0);
}

TEST(ProxyErrors, H1ClientOversizedHeader_Returns431AndCloses) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}).limit("max_request_header_bytes", "4KiB"));

  RawClient client;
  const auto response =
      exchange(tether.port(), getRequest("/big", "X-Big: " + std::string(8 * 1024, 'a') + "\r\n"), client);
  EXPECT_EQ(response.status, 431);
  expectJsonErrorWithGeneratedId(response);
  EXPECT_TRUE(client.waitClosed(2s));
  EXPECT_EQ(upstream.acceptedConnections(), 0);

  // Just under the limit still works.
  RawClient fits;
  EXPECT_EQ(exchange(tether.port(), getRequest("/fits", "X-Big: " + std::string(3 * 1024, 'a') + "\r\n"), fits).status,
            200);
}

TEST(ProxyErrors, H1ClientGarbageUpstreamResponse_Returns502) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.raw = "this is not HTTP at all\r\n\r\n";
    reply.close_after = true;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  const auto response = exchange(tether.port(), getRequest("/x", "X-Request-Id: err-garbage\r\n"), client);
  EXPECT_EQ(response.status, 502);
  expectJsonErrorWithId(response, "err-garbage");
}

TEST(ProxyErrors, H1ClientH1Upstream_UpstreamClosesBeforeResponding_Returns502) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.raw = "HTTP/1.1 200 OK\r\nContent-Le";  // cut off mid-head, then closed
    reply.close_after = true;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  const auto response = exchange(tether.port(), getRequest("/x", "X-Request-Id: err-cut\r\n"), client);
  EXPECT_EQ(response.status, 502);
  expectJsonErrorWithId(response, "err-cut");
}

}  // namespace
}  // namespace tether::testing
