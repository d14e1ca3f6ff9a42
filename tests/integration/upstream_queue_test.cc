// The upstream connection queue on the real binary (max_connections_per_endpoint: 1): a request that finds the only
// connection busy waits at most queue_timeout, not connect_timeout, then gets 503 and a request_completed line
// saying so; a queued client that leaves is cancelled in phase connecting with no upstream connection opened for
// it, and the requests queued behind it are served in order.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "support/admin_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

std::string dumpLog(const TetherInstance& tether) {
  std::string all;
  for (const auto& line : tether.logLines()) all += line + "\n";
  return all;
}

// An upstream whose /busy request holds its connection until the test calls release(); everything else is
// answered at once with its target as the body.
class HeldUpstream {
 public:
  HeldUpstream() : released_(release_.get_future().share()) {
    upstream_.setHandler([held = released_](const RecordedRequest& request) {
      if (request.target == "/busy") held.wait_for(60s);  // bounded for a failing test
      Reply reply;
      reply.body = request.target;
      return reply;
    });
  }
  ~HeldUpstream() { release(); }
  void release() {
    if (!released_flag_) release_.set_value();
    released_flag_ = true;
  }
  TestUpstream& upstream() { return upstream_; }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_;
  bool released_flag_ = false;
  TestUpstream upstream_;  // last: its threads stop (and stop waiting) before the promise goes
};

// Sends /busy on `client` and returns once the upstream holds it: the one connection allowed is taken.
void takeTheOnlyConnection(HeldUpstream& held, RawClient& client, uint16_t port) {
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(getRequest("/busy", "X-Request-Id: busy\r\n")));
  ASSERT_TRUE(held.upstream().waitForRequests(1, 30s));
}

// Sends `target` with `id` as its request id on a new client, and returns once tether runs `active` exchanges
// (this one queued among them).
void queueRequest(const TetherInstance& tether, RawClient& client, const std::string& target, const std::string& id,
                  int active) {
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest(target, "X-Request-Id: " + id + "\r\n")));
  ASSERT_EQ(waitForSample(tether, "tether_active_requests", active), active);
}

TEST(UpstreamQueue, H1ClientQueuedPastQueueTimeout_Gets503NotConnectTimeout) {
  HeldUpstream held;
  TetherInstance tether(TetherOptions::proxyTo(
      {held.upstream().address()},
      {{"max_connections_per_endpoint", "1"}, {"queue_timeout", "200ms"}, {"connect_timeout", "60s"}}));
  RawClient busy;
  takeTheOnlyConnection(held, busy, tether.port());

  RawClient queued;
  ASSERT_TRUE(queued.connect(tether.port()));
  ASSERT_TRUE(queued.send(getRequest("/queued", "X-Request-Id: queued\r\n")));
  const auto response = queued.readResponse(30s);  // bound far below connect_timeout: 60 s would fail it
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_NE(response->body.find("upstream connection limit reached"), std::string::npos) << response->body;

  const auto lines = tether.waitForLogEvents("request_completed", "queued", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << dumpLog(tether);
  EXPECT_EQ(lines[0].integerAt("status"), 503);
  EXPECT_EQ(lines[0].str("upstream"), "backend");
  ASSERT_TRUE(lines[0].find("endpoint"));
  EXPECT_TRUE(lines[0].find("endpoint")->isNull()) << "a queued request never had a connection";
  EXPECT_GE(lines[0].integerAt("elapsed_ms").value_or(0), 200) << "answered before queue_timeout";
  EXPECT_LT(lines[0].integerAt("elapsed_ms").value_or(0), 60000);
  EXPECT_TRUE(tether.logEvents("request_cancelled", "queued").empty());

  // The busy request was left alone, and no connection was opened for the queued one.
  held.release();
  const auto busy_response = busy.readResponse(30s);
  ASSERT_TRUE(busy_response);
  EXPECT_EQ(busy_response->status, 200);
  EXPECT_EQ(held.upstream().acceptedConnections(), 1);
  ASSERT_EQ(held.upstream().requests().size(), 1u);
}

void runQueuedClientLeaves(bool reset) {
  HeldUpstream held;
  // queue_timeout far beyond the test: every answer here comes from a release or a departure, never the timer.
  TetherInstance tether(TetherOptions::proxyTo({held.upstream().address()},
                                               {{"max_connections_per_endpoint", "1"}, {"queue_timeout", "60s"}}));
  RawClient busy, first, middle, last;
  takeTheOnlyConnection(held, busy, tether.port());
  queueRequest(tether, first, "/first", "first", 2);
  queueRequest(tether, middle, "/middle", "middle", 3);
  queueRequest(tether, last, "/last", "last", 4);

  if (reset) {
    middle.closeWithRst();
  } else {
    middle.close();
  }
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "middle", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << dumpLog(tether);
  EXPECT_EQ(cancelled[0].str("phase"), "queued");
  EXPECT_EQ(cancelled[0].str("reason"), reset ? "client_reset" : "client_closed");
  EXPECT_EQ(cancelled[0].integerAt("status"), 499);
  ASSERT_TRUE(cancelled[0].find("endpoint"));
  EXPECT_TRUE(cancelled[0].find("endpoint")->isNull());
  EXPECT_EQ(held.upstream().acceptedConnections(), 1) << "a connection was opened for the queued request";

  // The slot frees up: the waiters left are served in order on the one connection, the one that left never.
  held.release();
  for (RawClient* client : {&busy, &first, &last}) {
    const auto response = client->readResponse(30s);
    ASSERT_TRUE(response) << dumpLog(tether);
    EXPECT_EQ(response->status, 200);
  }
  std::vector<std::string> targets;
  for (const auto& request : held.upstream().requests()) targets.push_back(request.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/busy", "/first", "/last"}));
  EXPECT_EQ(held.upstream().acceptedConnections(), 1) << "the keep-alive connection was not handed on";
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "last", 1, 30s).size(), 1u);
  EXPECT_TRUE(tether.logEvents("request_completed", "middle").empty());
}

TEST(UpstreamQueue, H1ClientFinWhileQueued_LeavesQueueOthersServedInOrder) { runQueuedClientLeaves(false); }
TEST(UpstreamQueue, H1ClientRstWhileQueued_LeavesQueueOthersServedInOrder) { runQueuedClientLeaves(true); }

TEST(UpstreamQueue, QueueTimeoutDefaultsToConnectTimeoutInConfigDump) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"connect_timeout", "1500ms"}}));
  const auto response = adminRequest(tether, "/config");
  ASSERT_TRUE(response);
  EXPECT_NE(response->body.find("\"queue_timeout_ms\":1500"), std::string::npos) << response->body;
}

}  // namespace
}  // namespace tether::testing
