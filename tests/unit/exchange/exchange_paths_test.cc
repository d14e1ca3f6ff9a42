// The exchange's paths besides a client leaving: a request queued for a slot, the deadline header, what the log,
// the /cancellations ring and the counters get, interim responses, tunnels, back-pressure both ways and the
// progress timeouts. Fake streams on both sides, no sockets; a timeout is configured at 1 ms and the test waits
// for the exchange to end, never for a time.

#include <gtest/gtest.h>
#include <strings.h>

#include <string>
#include <utility>
#include <vector>

#include "exchange_harness.h"

namespace tether::testing {
namespace {

using Settled = FakeUpstreamStream::Settled;
using upstream::ResponseBody;
using upstream::UpstreamError;

constexpr size_t kAboveWatermark = 300 * 1024;  // the exchange pauses the producing side above 256 KiB queued

bool has(const std::string& line, const std::string& field, const std::string& value) {
  return line.find("\"" + field + "\":\"" + value + "\"") != std::string::npos;
}

bool hasNumber(const std::string& line, const std::string& field, long long value) {
  return line.find("\"" + field + "\":" + std::to_string(value) + ",") != std::string::npos ||
         line.find("\"" + field + "\":" + std::to_string(value) + "}") != std::string::npos;
}

// The values of `name` in `headers`, in order.
std::vector<std::string> valuesOf(const http::HeaderList& headers, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& header : headers) {
    if (header.name.size() == name.size() && strncasecmp(header.name.data(), name.data(), name.size()) == 0) {
      values.push_back(header.value);
    }
  }
  return values;
}

std::string onlyLine(ExchangeHarness& h) {
  auto lines = h.takeLogLines();
  EXPECT_EQ(lines.size(), 1u);
  return lines.empty() ? std::string() : lines.front();
}

// --- queued: waiting for a slot, then connecting, then bound --------------------------------------------------------

TEST(Queued, MovesThroughConnectingToAwaitingResponse) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  h.startRequest("GET");
  EXPECT_EQ(h.exchange().phase(), Phase::Queued);
  ASSERT_TRUE(h.source().startConnect());
  EXPECT_EQ(h.exchange().phase(), Phase::Connecting);
  ASSERT_TRUE(h.source().serve());
  EXPECT_EQ(h.exchange().phase(), Phase::AwaitingResponse);
  EXPECT_EQ(h.stream().head_target, "/work");
  EXPECT_TRUE(h.stream().request_ended);
}

// A body arriving while the request waits for a slot is kept and sent, whole, once a stream is bound.
TEST(Queued, TheBodyThatArrivedMeanwhileIsSentWhenServed) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  h.startRequest("POST", 100);
  h.exchange().onRequestBody(std::string(60, 'a').data(), 60);
  EXPECT_EQ(h.exchange().phase(), Phase::ReadingRequest) << "the body still arriving comes first";
  h.exchange().onRequestBody(std::string(40, 'b').data(), 40);
  h.exchange().onRequestComplete(nullptr);
  EXPECT_EQ(h.exchange().phase(), Phase::Queued);
  ASSERT_TRUE(h.source().serve());
  EXPECT_EQ(h.stream().body_bytes, 100u);
  EXPECT_TRUE(h.stream().request_ended);
}

// A body queued while no stream exists is bounded like one queued towards an upstream: the client is paused.
TEST(Queued, ABodyPiledUpWhileWaitingPausesTheClient) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Connect;
  h.startRequest("POST", 1024 * 1024);
  const std::string chunk(kAboveWatermark, 'x');
  h.exchange().onRequestBody(chunk.data(), chunk.size());
  EXPECT_TRUE(h.downstream().request_paused);
  ASSERT_TRUE(h.source().serve());
  EXPECT_EQ(h.stream().body_bytes, chunk.size());
  h.stream().drained();
  EXPECT_FALSE(h.downstream().request_paused) << "bytes written upstream resume the client";
}

struct Unavailable {
  UpstreamError error;
  int status;
  const char* metric;
};

class SourceAnswers : public ::testing::TestWithParam<Unavailable> {};

// The source gives up on a waiting request: tether answers it, one request_completed line, counted by status.
TEST_P(SourceAnswers, WithTheStatusOfItsFailure) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  h.startRequest("GET");
  ASSERT_TRUE(h.source().fail(GetParam().error));
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.downstream().local_status, GetParam().status);
  EXPECT_EQ(h.stream().settled, Settled::No) << "no stream was ever bound";
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "event", "request_completed")) << line;
  EXPECT_TRUE(hasNumber(line, "status", GetParam().status)) << line;
  EXPECT_NE(line.find("\"endpoint\":null"), std::string::npos) << line;
  EXPECT_EQ(h.requestsCount("GET", GetParam().status), 1u);
  EXPECT_TRUE(h.recentCancellations().empty()) << "an answered request is not a cancellation";
}

INSTANTIATE_TEST_SUITE_P(Failures, SourceAnswers,
                         ::testing::Values(Unavailable{UpstreamError::QueueTimeout, 503, "queue_timeout"},
                                           Unavailable{UpstreamError::ConnectRefused, 502, "connect_failed"},
                                           Unavailable{UpstreamError::ConnectTimeout, 504, "connect_timeout"}),
                         [](const ::testing::TestParamInfo<Unavailable>& param) { return param.param.metric; });

// --- deadline_header ------------------------------------------------------------------------------------------------

// The upstream learns what is left of the route's budget; a value the client sent is never forwarded.
TEST(DeadlineHeader, TellsTheUpstreamTheBudgetLeftAndDropsTheClientsValue) {
  ExchangeHarness h("    timeout: 10s\n    deadline_header: X-Deadline-Ms\n");
  http::MessageHead head = ExchangeHarness::requestHead("GET");
  head.appendHeader("x-deadline-ms", "999999");
  h.startRequest(head, true);
  const auto values = valuesOf(h.stream().head_headers, "X-Deadline-Ms");
  ASSERT_EQ(values.size(), 1u);
  const long long left = std::stoll(values[0]);
  EXPECT_GE(left, 0);
  EXPECT_LE(left, 10000);
}

// Queued, the header is computed when the request finally goes out, not when it arrived.
TEST(DeadlineHeader, IsWrittenWhenAQueuedRequestIsSent) {
  ExchangeHarness h("    timeout: 10s\n    deadline_header: X-Deadline-Ms\n");
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  h.startRequest("GET");
  EXPECT_TRUE(h.stream().head_headers.empty()) << "nothing goes upstream while queued";
  ASSERT_TRUE(h.source().serve());
  const auto values = valuesOf(h.stream().head_headers, "X-Deadline-Ms");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_LE(std::stoll(values[0]), 10000);
}

// Without a route timeout there is no budget to tell: the client's value is still dropped, none is added.
TEST(DeadlineHeader, WithoutATimeoutOnlyDropsTheClientsValue) {
  ExchangeHarness h("    deadline_header: X-Deadline-Ms\n");
  http::MessageHead head = ExchangeHarness::requestHead("GET");
  head.appendHeader("X-Deadline-Ms", "5");
  h.startRequest(head, true);
  EXPECT_TRUE(valuesOf(h.stream().head_headers, "X-Deadline-Ms").empty());
  EXPECT_EQ(valuesOf(h.stream().head_headers, "Host").size(), 1u) << "the rest of the head is forwarded";
}

// --- one record: the log line, the /cancellations ring and the counters --------------------------------------------

TEST(OneRecord, TheCancellationLineIsTheRingEntryAndIsCounted) {
  ExchangeHarness h;
  h.startRequest("GET");
  EXPECT_EQ(h.workerMetrics().activeRequests(), 1u);
  h.clientLeaves(Outcome::ClientReset);
  const std::string line = onlyLine(h);
  const auto ring = h.recentCancellations();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0], line) << "the ring must hold the very bytes the log got";
  // What the stream said it sent upstream, through the seam (the fake says "rst"), and the upstream's protocol.
  EXPECT_TRUE(has(line, "upstream_reset", "rst")) << line;
  EXPECT_TRUE(has(line, "upstream_protocol", "http1")) << line;
  EXPECT_EQ(h.cancelledCount(Outcome::ClientReset, Phase::AwaitingResponse), 1u);
  EXPECT_EQ(h.requestsCount("GET", 499), 1u);
  h.destroyExchange();
  EXPECT_EQ(h.workerMetrics().activeRequests(), 0u);
}

TEST(OneRecord, AClientGoneLineIsTheRingEntry) {
  ExchangeHarness h("    cancellation: {mode: ignore}\n");
  h.startRequest("GET");
  h.clientLeaves(Outcome::ClientClosed);
  ASSERT_TRUE(h.detached());
  h.stream().respondHead(200);
  h.stream().respondBody(1000);
  h.stream().respondComplete();
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "event", "client_gone")) << line;
  EXPECT_NE(line.find("\"upstream_reset\":null"), std::string::npos) << line;  // ran to its end: nothing sent
  EXPECT_TRUE(hasNumber(line, "upstream_status", 200)) << line;
  EXPECT_TRUE(hasNumber(line, "bytes_discarded", 1000)) << line;
  const auto ring = h.recentCancellations();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0], line);
  EXPECT_EQ(h.clientGoneCount(Outcome::ClientClosed, Phase::AwaitingResponse), 1u);
  EXPECT_EQ(h.cancelledCount(Outcome::ClientClosed, Phase::AwaitingResponse), 0u);
}

TEST(OneRecord, ACompletedRequestIsLoggedAndCountedButNotKept) {
  ExchangeHarness h;
  h.startRequest("GET");
  h.stream().respondHead(200);
  h.stream().respondBody(1000);
  h.stream().respondComplete();
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "event", "request_completed")) << line;
  EXPECT_TRUE(hasNumber(line, "bytes_sent", 1000)) << line;
  EXPECT_TRUE(has(line, "endpoint", "10.0.0.1:8080")) << line;
  EXPECT_TRUE(h.recentCancellations().empty());
  EXPECT_EQ(h.requestsCount("GET", 200), 1u);
}

TEST(OneRecord, AccessLogOffStillLogsAndKeepsCancellations) {
  ExchangeHarness h("", "", "log:\n  access_log: false\n");
  h.startRequest("GET");
  h.stream().respondHead(200);
  h.stream().respondComplete();
  EXPECT_TRUE(h.takeLogLines().empty()) << "access_log: false drops request_completed";
  EXPECT_EQ(h.requestsCount("GET", 200), 1u) << "but the request is counted";
}

// --- interim responses ----------------------------------------------------------------------------------------------

// 1xx responses go to the client (at most 8 of them), and do not start the response: the phase stays.
TEST(Interim, AreForwardedBoundedAndDoNotStartTheResponse) {
  ExchangeHarness h;
  h.startRequest("GET");
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(h.stream().respondInterim(103));
  EXPECT_EQ(h.downstream().interim_statuses.size(), 8u);
  EXPECT_EQ(h.exchange().phase(), Phase::AwaitingResponse);
  h.clientLeaves(Outcome::ClientClosed);
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "phase", "awaiting_response")) << line;
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
}

TEST(Interim, TheFinalResponseFollows) {
  ExchangeHarness h;
  h.startRequest("GET");
  h.stream().respondInterim(100);
  EXPECT_EQ(h.stream().respondHead(200), ResponseBody::AsFramed);
  h.stream().respondComplete();
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.downstream().response_status, 200);
  EXPECT_EQ(h.stream().settled, Settled::ReleasedReusable);
}

// A HEAD, a 204 and a 304 have no body whatever their head says: the stream is told so.
TEST(Interim, NoBodyResponsesAreAnnounced) {
  for (const auto& [method, status] : {std::pair{"HEAD", 200}, std::pair{"GET", 204}, std::pair{"GET", 304}}) {
    ExchangeHarness h;
    h.startRequest(method);
    EXPECT_EQ(h.stream().respondHead(status), ResponseBody::None) << method << " " << status;
  }
}

// --- tunnels --------------------------------------------------------------------------------------------------------

http::MessageHead upgradeRequest() {
  http::MessageHead head = ExchangeHarness::requestHead("GET");
  head.upgrade = true;
  head.appendHeader("Connection", "Upgrade");
  head.appendHeader("Upgrade", "websocket");
  return head;
}

TEST(Tunnel, CarriesBytesBothWaysAndEndsCompletedWhenTheUpstreamCloses) {
  ExchangeHarness h;
  http::MessageHead head = upgradeRequest();
  h.startRequest(head, true);
  EXPECT_EQ(h.stream().respondHead(101, "websocket"), ResponseBody::Tunnel);
  EXPECT_TRUE(h.downstream().tunnel_started);
  EXPECT_EQ(h.downstream().response_status, 101);
  EXPECT_EQ(h.exchange().phase(), Phase::StreamingResponse);
  h.stream().tunnelFromUpstream(50);
  EXPECT_EQ(h.downstream().tunnel_bytes, 50u);
  util::EvBufferPtr up(evbuffer_new());
  evbuffer_add(up.get(), "0123456789", 10);
  h.exchange().onDownstreamTunnelData(up.get());
  EXPECT_EQ(h.stream().tunnel_bytes, 10u);
  h.stream().closeTunnel();
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::Released) << "a connection that carried a tunnel is never reused";
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "event", "request_completed")) << line;
  EXPECT_TRUE(hasNumber(line, "status", 101)) << line;
  EXPECT_TRUE(hasNumber(line, "bytes_sent", 50)) << line;
  EXPECT_TRUE(hasNumber(line, "bytes_received", 10)) << line;
}

// Either side closing a tunnel is its normal end, not a cancellation.
TEST(Tunnel, TheClientClosingItIsItsNormalEnd) {
  ExchangeHarness h("    cancellation: {mode: ignore}\n");
  http::MessageHead head = upgradeRequest();
  h.startRequest(head, true);
  h.stream().respondHead(101, "websocket");
  h.clientLeaves(Outcome::ClientReset);
  EXPECT_TRUE(h.ended());
  EXPECT_FALSE(h.detached()) << "a tunnel has no response to finish: nothing runs on";
  EXPECT_EQ(h.stream().settled, Settled::Released);
  EXPECT_TRUE(has(onlyLine(h), "event", "request_completed"));
  EXPECT_TRUE(h.recentCancellations().empty());
}

// A switch to a protocol the client did not ask for is a malformed response: 502, nothing tunnelled.
TEST(Tunnel, AnUnrequestedSwitchIsA502) {
  ExchangeHarness h;
  h.startRequest("GET");
  h.stream().respondHead(101, "websocket");
  EXPECT_TRUE(h.ended());
  EXPECT_FALSE(h.downstream().tunnel_started);
  EXPECT_EQ(h.downstream().local_status, 502);
  EXPECT_EQ(h.stream().settled, Settled::Released);
}

// The route timeout stops at the switch; an idle tunnel ends after the upstream's read_timeout, as completed.
TEST(Tunnel, AnIdleTunnelEndsAfterReadTimeoutNotTheRouteTimeout) {
  ExchangeHarness h("    timeout: 1h\n", "    read_timeout: 1ms\n");
  http::MessageHead head = upgradeRequest();
  h.startRequest(head, true);
  h.stream().respondHead(101, "websocket");
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_TRUE(has(onlyLine(h), "event", "request_completed"));
  EXPECT_EQ(h.stream().settled, Settled::Released);
}

// --- back-pressure --------------------------------------------------------------------------------------------------

TEST(BackPressure, AClientNotReadingPausesTheUpstreamUntilItDrains) {
  ExchangeHarness h;
  h.startRequest("GET");
  h.stream().respondHead(200);
  h.downstream().pending_output = kAboveWatermark;
  h.stream().respondBody(10);
  EXPECT_TRUE(h.stream().reading_paused);
  h.downstream().pending_output = 0;
  h.exchange().onDownstreamDrained();
  EXPECT_FALSE(h.stream().reading_paused);
}

TEST(BackPressure, AnUpstreamNotTakingTheBodyPausesTheClientUntilItDrains) {
  ExchangeHarness h;
  h.startRequest("POST", 1024 * 1024);
  h.stream().pending_output = kAboveWatermark;
  h.exchange().onRequestBody("0123456789", 10);
  EXPECT_TRUE(h.downstream().request_paused);
  h.stream().drained(kAboveWatermark - 1);
  EXPECT_TRUE(h.downstream().request_paused) << "resumes only below half the watermark";
  h.stream().drained(0);
  EXPECT_FALSE(h.downstream().request_paused);
}

// The client leaves while it held the upstream back: detached, the response is read and discarded, so resumed.
TEST(BackPressure, DetachingResumesAPausedUpstream) {
  ExchangeHarness h("    cancellation: {mode: ignore}\n");
  h.startRequest("GET");
  h.stream().respondHead(200);
  h.downstream().pending_output = kAboveWatermark;
  h.stream().respondBody(10);
  ASSERT_TRUE(h.stream().reading_paused);
  h.clientLeaves(Outcome::ClientReset);
  ASSERT_TRUE(h.detached());
  EXPECT_FALSE(h.stream().reading_paused);
}

// --- progress timeouts ----------------------------------------------------------------------------------------------

TEST(Timeouts, AClientNotReadingIsCutAfterSendTimeout) {
  ExchangeHarness h("", "", "limits:\n  send_timeout: 1ms\n");
  h.startRequest("GET");
  h.stream().respondHead(200);
  h.downstream().pending_output = kAboveWatermark;
  h.stream().respondBody(10);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_TRUE(h.downstream().aborted);
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_TRUE(has(onlyLine(h), "reason", "send_timeout"));
  EXPECT_EQ(h.cancelledCount(Outcome::SendTimeout, Phase::StreamingResponse), 1u);
}

TEST(Timeouts, AnUpstreamNotTakingTheBodyIsCancelledAfterItsSendTimeout) {
  ExchangeHarness h("", "    send_timeout: 1ms\n");
  h.startRequest("POST", 1024 * 1024);
  h.stream().pending_output = kAboveWatermark;
  h.exchange().onRequestBody("0123456789", 10);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_EQ(h.downstream().local_status, 504);
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_TRUE(has(onlyLine(h), "reason", "upstream_timeout"));
  EXPECT_EQ(h.cancelledCount(Outcome::UpstreamTimeout, Phase::ReadingRequest), 1u);
}

TEST(Timeouts, NoResponseHeadWithinResponseTimeoutAnswers504) {
  ExchangeHarness h("", "    response_timeout: 1ms\n");
  h.startRequest("GET");
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_EQ(h.downstream().local_status, 504);
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_TRUE(has(onlyLine(h), "reason", "upstream_timeout"));
  EXPECT_EQ(h.cancelledCount(Outcome::UpstreamTimeout, Phase::AwaitingResponse), 1u);
}

TEST(Timeouts, AStalledResponseBodyIsCutAfterReadTimeout) {
  ExchangeHarness h("", "    read_timeout: 1ms\n");
  h.startRequest("GET");
  h.stream().respondHead(200);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_TRUE(h.downstream().aborted) << "the head is out: only a cut connection tells the client";
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_EQ(h.cancelledCount(Outcome::UpstreamTimeout, Phase::StreamingResponse), 1u);
}

TEST(Timeouts, AClientNotSendingItsBodyGets408) {
  ExchangeHarness h("", "", "limits:\n  request_body_timeout: 1ms\n");
  h.startRequest("POST", 100);
  h.exchange().onRequestBody("0123456789", 10);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_EQ(h.downstream().local_status, 408);
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_TRUE(has(onlyLine(h), "reason", "request_body_timeout"));
  EXPECT_EQ(h.cancelledCount(Outcome::RequestBodyTimeout, Phase::ReadingRequest), 1u);
}

}  // namespace
}  // namespace tether::testing
