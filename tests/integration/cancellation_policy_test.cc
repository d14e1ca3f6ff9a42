// A route's `cancellation:` policy decides what a client leaving does to the upstream work:
// `mode: ignore` and methods outside `methods` let it run to completion (client_gone), `grace` and
// `grace_bytes` let it run a bounded while (then drain_limit), `half_close: wait` treats a FIN after
// a complete request as "done sending" rather than "gone".
//
// The policies run for HTTP/1.1, h2c and h2 over TLS clients that leave with a FIN, and for HTTP/2 clients that
// reset the stream (protocol_matrix.h): the same lines, reasons and counters, only the reason of the departure
// differs (client_closed, stream_reset). half_close is about a FIN after a complete request on an HTTP/1.1
// connection: HTTP/2's half-close is END_STREAM, which ends every complete h2 request, and a FIN on an h2
// connection closes it (client_closed, as AwaitingResponse/*Fin in cancellation_phases_test shows). So the
// half_close tests are HTTP/1.1 only, except that a reset still cancels under `half_close: wait` for every client.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/admin_client.h"
#include "support/any_client.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;
using Clock = std::chrono::steady_clock;

// How soon the upstream must see a cancellation. Generous, so a machine busy with other work does not fail it;
// the defects it catches (work left running for kSlowWork, or a grace far too long) take much longer.
constexpr auto kCloseBound = std::chrono::milliseconds(3s);
// Upstream work a test expects tether to cancel: the upstream stops early when tether closes the connection.
constexpr auto kSlowWork = std::chrono::milliseconds(60s);

// Upstream work that must still be running when tether notices the client leave: the handler blocks until the
// test has seen tether notice it (waitForDeparture) and opens the gate. A gate destroyed unopened (a failing
// test) opens, so the upstream's threads end; declare it after the TestUpstream.
class Gate {
 public:
  Gate() : opened_(promise_.get_future().share()) {}
  ~Gate() { open(); }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  void open() {
    if (!open_) promise_.set_value();
    open_ = true;
  }
  // For the handler: returns once the gate is open (bounded for a failing test).
  std::function<void()> waiter() const {
    return [opened = opened_] { opened.wait_for(60s); };
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_;
  bool open_ = false;
};

// Waits until tether has seen the client of `c` leave: its HTTP/2 stream reset counted, or (a closed or reset
// connection) no client connection left open.
void waitForDeparture(const TetherInstance& tether, const MatrixCase& c) {
  if (c.how == Leave::kStreamReset) {
    ASSERT_GE(waitForSample(tether, "tether_h2_stream_resets_total", 1), 1) << "the stream reset went unnoticed";
    return;
  }
  ASSERT_EQ(waitForSampleAtMost(tether, "tether_downstream_connections{protocol=\"http\"}", 0), 0);
  ASSERT_EQ(waitForSampleAtMost(tether, "tether_downstream_connections{protocol=\"https\"}", 0), 0)
      << "the client's departure went unnoticed";
}

int64_t millis(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

Reply delayed(std::chrono::milliseconds delay) {
  Reply reply;
  reply.delay = delay;
  reply.body = "done";
  return reply;
}

// One upstream "backend" and one catch-all route "all" with this cancellation policy (YAML flow map).
TetherOptions withPolicy(const TestUpstream& upstream, const std::string& policy) {
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("all", "{path_prefix: /}", "backend", {{"cancellation", policy}});
  return options;
}

bool waitForServed(const TestUpstream& upstream, int n, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (upstream.requestsServed() < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);  // poll
  return upstream.requestsServed() >= n;
}

// A client that has left (its connection stays open after an HTTP/2 stream reset), and when it left.
struct Departed {
  std::unique_ptr<AnyClient> client;
  Clock::time_point left;
};

// Sends a request, waits until the upstream has it (the `n`-th request), then leaves as `c` says.
Departed sendAndLeave(const TetherInstance& tether, const TestUpstream& upstream, const MatrixCase& c,
                      std::string_view method, std::string_view path, const std::string& id, int n,
                      std::string_view body = "") {
  Departed departed{std::make_unique<AnyClient>(c.protocol), {}};
  EXPECT_TRUE(departed.client->connect(tether.port()));
  EXPECT_TRUE(departed.client->request(method, path, {{"X-Request-Id", id}}, body));
  EXPECT_TRUE(upstream.waitForRequests(n, 30s)) << "the request did not reach the upstream";
  departed.left = Clock::now();
  departed.client->leave(c.how);
  return departed;
}

// tether_requests_client_gone_total{route="all", reason, phase} once it reached 1 (up to 30 s).
double clientGoneSample(const TetherInstance& tether, const std::string& reason, const std::string& phase) {
  return waitForSample(
      tether, "tether_requests_client_gone_total{route=\"all\",reason=\"" + reason + "\",phase=\"" + phase + "\"}", 1);
}

void expectUpstreamClosedSoon(const TestUpstream& upstream, int n, Clock::time_point left,
                              std::chrono::milliseconds bound = kCloseBound) {
  ASSERT_TRUE(upstream.waitForConnectionClosed(n, 30s)) << "the upstream connection was not closed";
  const auto closed_at = upstream.lastCloseTime();
  ASSERT_TRUE(closed_at);
  EXPECT_GE(*closed_at, left);
  EXPECT_LT(*closed_at - left, bound) << "upstream noticed after " << millis(*closed_at - left) << " ms";
}

// A later request on a fresh client connection answers 200; its request_completed line is a
// barrier for every line written before it on the single worker.
void barrier(const TetherInstance& tether, const std::string& id, ClientProtocol protocol = ClientProtocol::kH1) {
  AnyClient client(protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/barrier", {{"X-Request-Id", id}}));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  ASSERT_EQ(tether.waitForLogEvents("request_completed", id, 1, 30s).size(), 1u) << tether.dumpLog();
}

// The single client_gone line of `id` (upstream ran on after the client left).
JsonValue oneClientGone(const TetherInstance& tether, const std::string& id, const std::string& ended) {
  const auto lines = tether.waitForLogEvents("client_gone", id, 1, 30s);
  EXPECT_EQ(lines.size(), 1u) << tether.dumpLog();
  if (lines.empty()) return {};
  const auto& line = lines.front();
  EXPECT_EQ(line.str("ended"), ended) << tether.dumpLog();
  EXPECT_EQ(line.boolAt("upstream_left_running"), true);
  EXPECT_EQ(line.integerAt("status"), 499);
  return line;
}

// ---- mode: ignore ------------------------------------------------------------------------------

class CancellationPolicy : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(CancellationPolicy, AwaitingResponseModeIgnore_H1UpstreamRunsToCompletion) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  Gate gate;
  upstream.setHandler([wait = gate.waiter()](const RecordedRequest& request) {
    if (request.target == "/work") wait();
    return delayed(0ms);
  });
  TetherInstance tether(forClient(withPolicy(upstream, "{mode: ignore}"), c.protocol));

  // That the upstream ran on after the client left is what client_gone with `ended: completed` says below.
  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/work", "ignore-1", 1);
  waitForDeparture(tether, c);
  gate.open();
  ASSERT_TRUE(waitForServed(upstream, 1, 30s)) << "the upstream did not finish";
  EXPECT_EQ(upstream.closedConnections(), 0) << "mode: ignore closed the upstream connection";

  const auto gone = oneClientGone(tether, "ignore-1", "completed");
  EXPECT_EQ(gone.integerAt("upstream_status"), 200);
  EXPECT_EQ(gone.str("reason"), cancelReason(c.how));
  EXPECT_EQ(gone.str("phase"), "awaiting_response");
  EXPECT_EQ(gone.str("protocol"), logProtocol(c.protocol));
  EXPECT_EQ(clientGoneSample(tether, cancelReason(c.how), "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "ignore-1-next", c.protocol);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("request_completed", "ignore-1").empty()) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("client_gone").size(), 1u);
  // The completed upstream connection went back to the pool and served the next request.
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_EQ(upstream.closedConnections(), 0);
}

// ---- methods: [GET] ----------------------------------------------------------------------------

TEST_P(CancellationPolicy, MethodsGetOnly_PostRunsOnGetClosesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  Gate gate;
  upstream.setHandler([wait = gate.waiter()](const RecordedRequest& request) {
    if (request.target == "/work" && request.method == "POST") wait();
    return delayed(request.target == "/work" && request.method != "POST" ? kSlowWork : 0ms);
  });
  TetherInstance tether(forClient(withPolicy(upstream, "{methods: [GET]}"), c.protocol));

  // POST is outside the propagating set: it behaves as `ignore`.
  const auto post = sendAndLeave(tether, upstream, c, "POST", "/work", "methods-post", 1, "data");
  waitForDeparture(tether, c);
  gate.open();
  ASSERT_TRUE(waitForServed(upstream, 1, 30s)) << "the POST was cancelled";
  EXPECT_EQ(upstream.closedConnections(), 0);
  const auto gone = oneClientGone(tether, "methods-post", "completed");
  EXPECT_EQ(gone.str("method"), "POST");
  EXPECT_EQ(gone.integerAt("upstream_status"), 200);

  // GET propagates.
  const auto get = sendAndLeave(tether, upstream, c, "GET", "/work", "methods-get", 2);
  expectUpstreamClosedSoon(upstream, 1, get.left);
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "methods-get", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), cancelReason(c.how));
  EXPECT_EQ(cancelled[0].str("phase"), "awaiting_response");
  EXPECT_EQ(cancelled[0].integerAt("status"), 499);
  EXPECT_EQ(cancelledSample(tether, "all", cancelReason(c.how), "awaiting_response"), 1) << scrape(tether);
  EXPECT_EQ(clientGoneSample(tether, cancelReason(c.how), "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "methods-next", c.protocol);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("client_gone").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(upstream.requestsServed(), 2);  // the POST and the barrier
}

// ---- grace ---------------------------------------------------------------------------------------

TEST_P(CancellationPolicy, GraceExpires_ClosesH1UpstreamAfterGrace) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return delayed(request.target == "/work" ? kSlowWork : 0ms); });
  TetherInstance tether(forClient(withPolicy(upstream, "{grace: 300ms}"), c.protocol));

  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/work", "grace-short", 1);
  ASSERT_TRUE(upstream.waitForConnectionClosed(1, 30s)) << "the grace period never ended";
  const auto after = *upstream.lastCloseTime() - departed.left;
  EXPECT_GE(after, 250ms) << "cancelled before the grace period: " << millis(after) << " ms";
  EXPECT_LT(after, 300ms + kCloseBound) << "cancelled " << millis(after) << " ms after the client left";
  EXPECT_EQ(upstream.requestsServed(), 0);

  const auto gone = oneClientGone(tether, "grace-short", "drain_limit");
  EXPECT_TRUE(gone.find("upstream_status") && gone.find("upstream_status")->isNull());
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "grace-short", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), "drain_limit");
  EXPECT_EQ(cancelled[0].str("phase"), "awaiting_response");
  EXPECT_EQ(cancelled[0].integerAt("status"), 499);
  EXPECT_EQ(gone.str("reason"), cancelReason(c.how));
  EXPECT_EQ(cancelledSample(tether, "all", "drain_limit", "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "grace-short-next", c.protocol);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logEvents("client_gone").size(), 1u) << tether.dumpLog();
  EXPECT_EQ(upstream.acceptedConnections(), 2) << "the cancelled connection was reused";
}

TEST_P(CancellationPolicy, UpstreamFinishesWithinGrace_H1UpstreamCompletes) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  Gate gate;
  upstream.setHandler([wait = gate.waiter()](const RecordedRequest& request) {
    if (request.target == "/work") wait();
    return delayed(0ms);
  });
  TetherInstance tether(forClient(withPolicy(upstream, "{grace: 60s}"), c.protocol));

  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/work", "grace-long", 1);
  waitForDeparture(tether, c);
  gate.open();
  ASSERT_TRUE(waitForServed(upstream, 1, 30s));
  const auto gone = oneClientGone(tether, "grace-long", "completed");
  EXPECT_EQ(gone.integerAt("upstream_status"), 200);
  EXPECT_EQ(gone.str("reason"), cancelReason(c.how));
  EXPECT_EQ(clientGoneSample(tether, cancelReason(c.how), "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "grace-long-next", c.protocol);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_EQ(upstream.closedConnections(), 0);
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(CancellationPolicy, GraceBytesExceeded_ClosesH1UpstreamBeforeGrace) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  Gate gate;
  upstream.setHandler([wait = gate.waiter()](const RecordedRequest& request) {
    Reply reply;
    if (request.target == "/download") {
      wait();  // the client is gone (and noticed) before the body starts
      reply.stream_bytes = 1 << 20;
      reply.stream_interval = 10ms;  // 16 KiB every 10 ms: the whole MiB would take ~640 ms
    } else {
      reply.body = "ok";
    }
    return reply;
  });
  TetherInstance tether(forClient(withPolicy(upstream, "{grace: 60s, grace_bytes: 1000}"), c.protocol));

  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/download", "grace-bytes", 1);
  waitForDeparture(tether, c);
  const auto opened = Clock::now();
  gate.open();
  // The first body bytes past 1000 end it: long before the 60 s grace and before the MiB is out.
  expectUpstreamClosedSoon(upstream, 1, opened, kCloseBound);
  EXPECT_EQ(upstream.requestsServed(), 0);
  const auto gone = oneClientGone(tether, "grace-bytes", "drain_limit");
  ASSERT_TRUE(gone.integerAt("bytes_discarded"));
  EXPECT_GT(*gone.integerAt("bytes_discarded"), 1000);
  EXPECT_LT(*gone.integerAt("bytes_discarded"), 1 << 20);
  EXPECT_EQ(gone.integerAt("upstream_status"), 200);
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "grace-bytes", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), "drain_limit");
  EXPECT_EQ(gone.str("reason"), cancelReason(c.how));
  EXPECT_EQ(cancelledSample(tether, "all", "drain_limit", "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "grace-bytes-next", c.protocol);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

// grace_bytes bounds only propagating requests: a method outside `methods` runs to completion.
TEST_P(CancellationPolicy, MethodOutsideSetWithGraceBytes_H1UpstreamCompletes) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  Gate gate;
  upstream.setHandler([wait = gate.waiter()](const RecordedRequest& request) {
    Reply reply;
    if (request.target == "/export") {
      wait();  // the client is gone (and noticed) before the body starts
      reply.stream_bytes = 256 * 1024;
      reply.stream_interval = 5ms;
    } else {
      reply.body = "ok";
    }
    return reply;
  });
  TetherInstance tether(forClient(withPolicy(upstream, "{methods: [GET], grace_bytes: 1000}"), c.protocol));

  const auto departed = sendAndLeave(tether, upstream, c, "POST", "/export", "bytes-post", 1, "{}");
  waitForDeparture(tether, c);
  gate.open();
  ASSERT_TRUE(waitForServed(upstream, 1, 30s)) << "grace_bytes cut a request outside `methods`";
  const auto gone = oneClientGone(tether, "bytes-post", "completed");
  EXPECT_EQ(gone.integerAt("bytes_discarded"), 256 * 1024);
  EXPECT_EQ(gone.str("reason"), cancelReason(c.how));
  barrier(tether, "bytes-post-next", c.protocol);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_EQ(upstream.closedConnections(), 0);
}

// The route timeout still bounds work that runs on after the client left, even under `ignore`.
TEST_P(CancellationPolicy, ModeIgnoreThenRouteTimeout_ClosesH1UpstreamAtDeadline) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return delayed(request.target == "/work" ? kSlowWork : 0ms); });
  TetherOptions options;
  options.addUpstream("backend", {upstream.address()})
      .addRoute("all", "{path_prefix: /}", "backend", {{"timeout", "2s"}, {"cancellation", "{mode: ignore}"}});
  TetherInstance tether(forClient(options, c.protocol));

  // The client leaves right after the upstream has the request, well within the 2 s timeout; being cut no
  // earlier than the timeout shows the departure itself did not cut it.
  const auto sent = Clock::now();
  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/work", "ignore-timeout", 1);
  ASSERT_TRUE(upstream.waitForConnectionClosed(1, 30s)) << "mode: ignore outlived the route timeout";
  const auto closed_at = *upstream.lastCloseTime();
  EXPECT_GE(closed_at, departed.left);
  EXPECT_GE(closed_at - sent, 1980ms) << "cut before the route timeout, despite mode: ignore";
  EXPECT_LT(closed_at - (sent + 2s), kCloseBound);
  EXPECT_EQ(upstream.requestsServed(), 0);

  const auto cancelled = tether.waitForLogEvents("request_cancelled", "ignore-timeout", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("reason"), "deadline_exceeded");
  EXPECT_EQ(cancelled[0].integerAt("status"), 504);
  EXPECT_EQ(oneClientGone(tether, "ignore-timeout", "deadline_exceeded").str("reason"), cancelReason(c.how));
  EXPECT_EQ(cancelledSample(tether, "all", "deadline_exceeded", "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "ignore-timeout-next", c.protocol);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

INSTANTIATE_TEST_SUITE_P(FinOrStreamReset, CancellationPolicy, ::testing::ValuesIn(finOrStreamReset()), matrixCaseName);

// ---- half_close ------------------------------------------------------------------------------------

TEST(CancellationPolicyH1, H1ClientHalfCloseWithWait_StillGetsH1UpstreamResponse) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply = delayed(300ms);
    reply.body = std::string(10000, 'w');
    return reply;
  });
  TetherInstance tether(withPolicy(upstream, "{half_close: wait}"));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/half", "X-Request-Id: half-wait\r\n")));
  client.shutdownWrite();
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response) << "no response after a half-close with half_close: wait\n" << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::string(10000, 'w'));
  EXPECT_TRUE(client.waitClosed(30s)) << "tether kept the half-closed connection open";

  ASSERT_EQ(tether.waitForLogEvents("request_completed", "half-wait", 1, 30s).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.stop(), 0);  // every line is written once the process has exited
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty()) << tether.dumpLog();
  EXPECT_TRUE(tether.logEvents("client_gone").empty()) << tether.dumpLog();
  EXPECT_EQ(upstream.requestsServed(), 1);
}

TEST(CancellationPolicyH1, H1ClientHalfCloseDefault_CancelsH1Upstream) {
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return delayed(request.target == "/half" ? kSlowWork : 0ms); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/half", "X-Request-Id: half-cancel\r\n")));
  const auto left = Clock::now();
  client.shutdownWrite();
  EXPECT_TRUE(client.waitClosed(30s));
  EXPECT_EQ(client.readUntilClosed(100ms), "") << "a response was sent to a client that half-closed";

  const auto lines = tether.waitForLogEvents("request_cancelled", "half-cancel", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), "client_closed");
  const auto phase = lines[0].str("phase").value_or("");
  EXPECT_TRUE(phase == "connecting" || phase == "awaiting_response") << phase;
  EXPECT_EQ(lines[0].integerAt("status"), 499);
  // Whatever reached the upstream was cancelled.
  if (upstream.acceptedConnections() > 0) expectUpstreamClosedSoon(upstream, 1, left);
  EXPECT_EQ(upstream.requestsServed(), 0);
  barrier(tether, "half-cancel-next");
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

class HalfCloseWait : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(HalfCloseWait, ClientResets_ClosesH1Upstream) {
  const MatrixCase c = GetParam();
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return delayed(request.target == "/work" ? kSlowWork : 0ms); });
  TetherInstance tether(forClient(withPolicy(upstream, "{half_close: wait}"), c.protocol));

  const auto departed = sendAndLeave(tether, upstream, c, "GET", "/work", "half-rst", 1);
  expectUpstreamClosedSoon(upstream, 1, departed.left);
  const auto lines = tether.waitForLogEvents("request_cancelled", "half-rst", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), cancelReason(c.how));
  EXPECT_EQ(lines[0].str("phase"), "awaiting_response");
  EXPECT_EQ(lines[0].str("protocol"), logProtocol(c.protocol));
  EXPECT_EQ(cancelledSample(tether, "all", cancelReason(c.how), "awaiting_response"), 1) << scrape(tether);
  barrier(tether, "half-rst-next", c.protocol);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u) << tether.dumpLog();
}

// Every reset: a TCP reset for every client, RST_STREAM for HTTP/2.
std::vector<MatrixCase> resets() {
  std::vector<MatrixCase> cases;
  for (const MatrixCase& c : everyDeparture()) {
    if (c.how != Leave::kFin && c.how != Leave::kCloseNotify) cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(CancellationPolicy, HalfCloseWait, ::testing::ValuesIn(resets()), matrixCaseName);

// The client half-closes (allowed to wait), then resets: it is gone now and the work must stop.
TEST(CancellationPolicyH1, H1ClientHalfCloseThenRstWithWait_ClosesH1Upstream) {
  TestUpstream upstream;
  upstream.setHandler(
      [](const RecordedRequest& request) { return delayed(request.target == "/work" ? kSlowWork : 0ms); });
  TetherInstance tether(withPolicy(upstream, "{half_close: wait}"));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/work", "X-Request-Id: half-fin-rst\r\n")));
  client.shutdownWrite();
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  // A sleep on purpose: the claim is an absence (the FIN does not cancel), given time to happen.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(upstream.closedConnections(), 0) << "half_close: wait cancelled on the FIN";
  const auto left = Clock::now();
  client.closeWithRst();

  expectUpstreamClosedSoon(upstream, 1, left);
  const auto lines = tether.waitForLogEvents("request_cancelled", "half-fin-rst", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << "the reset after a half-close went unnoticed\n" << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), "client_reset");
}

}  // namespace
}  // namespace tether::testing
