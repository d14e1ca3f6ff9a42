// SIGTERM drains: tether stops accepting, /readyz answers 503, a request that finishes within drain_timeout
// completes normally, one that does not is cancelled with reason `shutdown`, and the process exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "support/raw_client.h"
#include "support/tether_fixture.h"
#include "support/test_upstream.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

std::optional<RawClient::Response> get(uint16_t port, std::string_view path) {
  RawClient client;
  if (!client.connect(port, 1s)) return std::nullopt;
  if (!client.send("GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) {
    return std::nullopt;
  }
  return client.readResponse(3s);
}

TEST(Drain, H1ClientsDuringSigterm_FinishWithinDrainTimeoutOrAreCancelledWithShutdown) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    reply.body = "done " + request.target;
    reply.delay = request.target == "/short" ? 400ms : 5s;
    return reply;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.drain_timeout = "1500ms";
  TetherInstance tether(options);
  ASSERT_EQ(get(tether.adminPort(), "/readyz")->status, 200);

  RawClient short_client;
  RawClient long_client;
  ASSERT_TRUE(short_client.connect(tether.port()));
  ASSERT_TRUE(long_client.connect(tether.port()));
  ASSERT_TRUE(short_client.send(getRequest("/short", "X-Request-Id: drain-short\r\n")));
  ASSERT_TRUE(long_client.send(getRequest("/long", "X-Request-Id: drain-long\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(2, 3s));

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  ASSERT_TRUE(tether.waitForLogLine("drain_started", 2s));
  const auto ready = get(tether.adminPort(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);

  // The short request still completes, on the drained connection.
  auto short_response = short_client.readResponse(3s);
  ASSERT_TRUE(short_response);
  EXPECT_EQ(short_response->status, 200);
  EXPECT_EQ(short_response->body, "done /short");

  // The long one outlives drain_timeout: cancelled with `shutdown`, and the client connection closed.
  EXPECT_TRUE(long_client.waitClosed(4s));
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, 1400ms);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 2s));
  EXPECT_EQ(tether.stop(), 0);

  const auto cancelled = tether.logEvents("request_cancelled", "drain-long");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].str("reason"), "shutdown");
  EXPECT_EQ(tether.logEvents("request_cancelled", "drain-short").size(), 0u);
  EXPECT_EQ(tether.logEvents("request_completed", "drain-short").size(), 1u);
}

}  // namespace
}  // namespace tether::testing
