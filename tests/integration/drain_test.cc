// SIGTERM drains: tether stops accepting, /readyz answers 503, a request that finishes within drain_timeout
// completes normally, one that does not is cancelled with reason `shutdown`, and the process exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <thread>

#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

TEST(Drain, H1ClientsDuringSigterm_FinishWithinDrainTimeoutOrAreCancelledWithShutdown) {
  // /short answers once the test has seen the drain begin (an event, not a delay); /long works until tether
  // cancels it (its delay ends when tether closes the connection).
  std::promise<void> release_short;
  std::shared_future<void> short_released = release_short.get_future().share();
  TestUpstream upstream;
  upstream.setHandler([short_released](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    reply.body = "done " + request.target;
    if (request.target == "/short") {
      short_released.wait_for(60s);  // bounded, so a failed test still ends
    } else {
      reply.delay = 120s;
    }
    return reply;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  // Long enough for the test to see the drain start and release /short on a busy machine.
  options.drain_timeout = "5s";
  TetherInstance tether(options);
  const auto ready_before = fetchOnce(tether.adminPort(), "/readyz");
  ASSERT_TRUE(ready_before);
  EXPECT_EQ(ready_before->status, 200);

  RawClient short_client;
  RawClient long_client;
  ASSERT_TRUE(short_client.connect(tether.port()));
  ASSERT_TRUE(long_client.connect(tether.port()));
  ASSERT_TRUE(short_client.send(getRequest("/short", "X-Request-Id: drain-short\r\n")));
  ASSERT_TRUE(long_client.send(getRequest("/long", "X-Request-Id: drain-long\r\n")));
  ASSERT_TRUE(upstream.waitForRequests(2, 30s));

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(tether.pid(), SIGTERM), 0);
  const bool drain_started = tether.waitForLogLine("drain_started", 30s);
  const auto ready = drain_started ? fetchOnce(tether.adminPort(), "/readyz") : std::nullopt;
  release_short.set_value();
  ASSERT_TRUE(drain_started);
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);

  // The short request still completes, on the drained connection.
  auto short_response = short_client.readResponse(30s);
  ASSERT_TRUE(short_response);
  EXPECT_EQ(short_response->status, 200);
  EXPECT_EQ(short_response->body, "done /short");

  // The long one outlives drain_timeout: cancelled with `shutdown`, and the client connection closed.
  EXPECT_TRUE(long_client.waitClosed(60s));
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, 4900ms);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  EXPECT_EQ(tether.stop(), 0);

  const auto cancelled = tether.logEvents("request_cancelled", "drain-long");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].str("reason"), "shutdown");
  EXPECT_EQ(tether.logEvents("request_cancelled", "drain-short").size(), 0u);
  EXPECT_EQ(tether.logEvents("request_completed", "drain-short").size(), 1u);
}

}  // namespace
}  // namespace tether::testing
