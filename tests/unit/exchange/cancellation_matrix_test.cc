// The cancellation policy of a route against where the exchange was and how the client left, on an Exchange with
// fake streams on both sides: what happened to the upstream (aborted, acquire withdrawn, left running and then
// released), the log line and the counters. No sockets; each test runs in milliseconds.

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "exchange_harness.h"

namespace tether::testing {
namespace {

using Settled = FakeUpstreamStream::Settled;

// Drives a GET (or a POST with its body under way) to `phase`.
void driveTo(ExchangeHarness& h, Phase phase, std::string_view method = "GET") {
  switch (phase) {
    case Phase::ReadingRequest:
      h.startRequest("POST", 100);
      h.exchange().onRequestBody("0123456789", 10);
      break;
    case Phase::Queued:
      h.source().answer = FakeUpstreamSource::Answer::Queue;
      h.startRequest(method);
      break;
    case Phase::Connecting:
      h.source().answer = FakeUpstreamSource::Answer::Connect;
      h.startRequest(method);
      break;
    case Phase::AwaitingResponse: h.startRequest(method); break;
    case Phase::StreamingResponse:
      h.startRequest(method);
      h.stream().respondHead(200);
      h.stream().respondBody(10);
      break;
    case Phase::Count: break;
  }
  ASSERT_EQ(h.exchange().phase(), phase);
  ASSERT_FALSE(h.ended());
}

bool has(const std::string& line, const std::string& field, const std::string& value) {
  return line.find("\"" + field + "\":\"" + value + "\"") != std::string::npos;
}

// The upstream work was stopped: the stream aborted, or, still connecting, the acquire withdrawn with nothing sent.
void expectUpstreamStopped(ExchangeHarness& h, Phase phase) {
  if (phase == Phase::Queued || phase == Phase::Connecting) {
    EXPECT_EQ(h.source().cancels, 1) << "the queued/connecting acquire was not withdrawn";
    EXPECT_FALSE(h.source().waiting());
    EXPECT_EQ(h.stream().settled, Settled::No);
  } else {
    EXPECT_EQ(h.stream().settled, Settled::Aborted);
  }
}

void expectOneCancelledLine(ExchangeHarness& h, Outcome reason, Phase phase) {
  const auto lines = h.takeLogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], "event", "request_cancelled")) << lines[0];
  EXPECT_TRUE(has(lines[0], "reason", std::string(logName(reason)))) << lines[0];
  EXPECT_TRUE(has(lines[0], "phase", std::string(toString(phase)))) << lines[0];
  EXPECT_EQ(h.cancelledCount(reason, phase), 1u);
}

constexpr Phase kPhases[] = {Phase::ReadingRequest, Phase::Queued, Phase::Connecting, Phase::AwaitingResponse,
                             Phase::StreamingResponse};
constexpr Outcome kDepartures[] = {Outcome::ClientClosed, Outcome::ClientReset, Outcome::StreamReset};

class ClientLeaves : public ::testing::TestWithParam<std::tuple<Phase, Outcome>> {
 protected:
  Phase phase() const { return std::get<0>(GetParam()); }
  Outcome how() const { return std::get<1>(GetParam()); }
};

// mode: propagate (the default): whatever the phase and however the client left, the upstream work stops at once.
TEST_P(ClientLeaves, PropagateStopsTheUpstreamAndLogsOneCancellation) {
  ExchangeHarness h;
  driveTo(h, phase());
  h.clientLeaves(how());
  EXPECT_TRUE(h.ended());
  EXPECT_FALSE(h.detached());
  expectUpstreamStopped(h, phase());
  expectOneCancelledLine(h, how(), phase());
  EXPECT_EQ(h.downstream().local_status, 0) << "nobody is left to answer";
}

// mode: ignore: a complete request's upstream runs on, detached, and is released when it completes; a request whose
// body was still arriving can never complete upstream, so it is cancelled all the same.
TEST_P(ClientLeaves, IgnoreLetsACompleteRequestRunOn) {
  ExchangeHarness h("    cancellation: {mode: ignore}\n");
  driveTo(h, phase());
  h.clientLeaves(how());
  if (phase() == Phase::ReadingRequest) {
    EXPECT_TRUE(h.ended());
    expectUpstreamStopped(h, phase());
    expectOneCancelledLine(h, how(), phase());
    return;
  }
  ASSERT_TRUE(h.detached());
  EXPECT_FALSE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::No);
  EXPECT_EQ(h.source().cancels, 0);
  EXPECT_TRUE(h.takeLogLines().empty()) << "nothing is logged until the upstream ends";
  if (phase() == Phase::Queued) {
    ASSERT_TRUE(h.source().startConnect());
  }
  if (phase() == Phase::Queued || phase() == Phase::Connecting) {
    ASSERT_TRUE(h.source().serve());
  }
  if (phase() != Phase::StreamingResponse) h.stream().respondHead(200);
  h.stream().respondBody(1000);
  h.stream().respondComplete();
  EXPECT_TRUE(h.ended());
  EXPECT_TRUE(h.releasedByDetachedExchange());
  EXPECT_EQ(h.stream().settled, Settled::ReleasedReusable);
  const auto lines = h.takeLogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], "event", "client_gone")) << lines[0];
  EXPECT_TRUE(has(lines[0], "ended", "completed")) << lines[0];
  EXPECT_TRUE(has(lines[0], "phase", std::string(toString(phase())))) << lines[0];
  EXPECT_EQ(h.clientGoneCount(how(), phase()), 1u);
}

// methods: only the listed methods propagate; another method behaves as under `ignore`.
TEST_P(ClientLeaves, AMethodOutsideMethodsRunsOn) {
  ExchangeHarness h("    cancellation: {methods: [GET]}\n");
  driveTo(h, phase(), "DELETE");  // reading_request: a POST, also outside `methods`
  h.clientLeaves(how());
  if (phase() == Phase::ReadingRequest) {
    EXPECT_TRUE(h.ended()) << "a request still sending its body can never complete upstream: always cancelled";
    expectOneCancelledLine(h, how(), phase());
    return;
  }
  EXPECT_TRUE(h.detached());
  EXPECT_FALSE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::No);
  EXPECT_EQ(h.source().cancels, 0);
}

// grace: the upstream runs on for the grace period, then is cut (drain_limit): request_cancelled then client_gone.
TEST_P(ClientLeaves, GraceCutsTheUpstreamWhenItRunsOut) {
  ExchangeHarness h("    cancellation: {grace: 1ms}\n");
  driveTo(h, phase());
  h.clientLeaves(how());
  if (phase() == Phase::ReadingRequest) {
    EXPECT_TRUE(h.ended());
    expectOneCancelledLine(h, how(), phase());
    return;
  }
  ASSERT_TRUE(h.detached());
  EXPECT_EQ(h.stream().settled, Settled::No);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  expectUpstreamStopped(h, phase());
  const auto lines = h.takeLogLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(has(lines[0], "event", "request_cancelled")) << lines[0];
  EXPECT_TRUE(has(lines[0], "reason", "drain_limit")) << lines[0];
  EXPECT_TRUE(has(lines[1], "event", "client_gone")) << lines[1];
  EXPECT_TRUE(has(lines[1], "ended", "drain_limit")) << lines[1];
  EXPECT_EQ(h.cancelledCount(Outcome::DrainLimit, phase()), 1u);
}

INSTANTIATE_TEST_SUITE_P(PhaseByDeparture, ClientLeaves,
                         ::testing::Combine(::testing::ValuesIn(kPhases), ::testing::ValuesIn(kDepartures)),
                         [](const ::testing::TestParamInfo<ClientLeaves::ParamType>& param) {
                           return std::string(toString(std::get<0>(param.param))) + "_" +
                                  std::string(logName(std::get<1>(param.param)));
                         });

// grace_bytes: the response is read and discarded up to the limit; one byte more cuts the upstream.
TEST(CancellationPolicy, GraceBytesCutsTheUpstreamPastTheLimit) {
  ExchangeHarness h("    cancellation: {grace_bytes: 100}\n");
  driveTo(h, Phase::StreamingResponse);
  h.clientLeaves(Outcome::ClientReset);
  ASSERT_TRUE(h.detached());
  h.stream().respondBody(100);
  EXPECT_FALSE(h.ended());
  h.stream().respondBody(1);
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_EQ(h.cancelledCount(Outcome::DrainLimit, Phase::StreamingResponse), 1u);
}

// half_close: wait: a FIN after the whole request is a client that only shut its write side; a RST still cancels.
TEST(CancellationPolicy, HalfCloseWaitKeepsServingAfterFinButNotAfterReset) {
  ExchangeHarness h("    cancellation: {half_close: wait}\n");
  driveTo(h, Phase::AwaitingResponse);
  h.clientLeaves(Outcome::ClientClosed);
  EXPECT_FALSE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::No);
  h.clientLeaves(Outcome::ClientReset);
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  expectOneCancelledLine(h, Outcome::ClientReset, Phase::AwaitingResponse);
}

// half_close: wait does not apply while the request body is still arriving: that FIN cancels.
TEST(CancellationPolicy, HalfCloseWaitStillCancelsAFinMidRequest) {
  ExchangeHarness h("    cancellation: {half_close: wait}\n");
  driveTo(h, Phase::ReadingRequest);
  h.clientLeaves(Outcome::ClientClosed);
  EXPECT_TRUE(h.ended());
  expectOneCancelledLine(h, Outcome::ClientClosed, Phase::ReadingRequest);
}

// The route's timeout: before the response, the client gets 504; once it started, the client side is cut.
TEST(CancellationPolicy, DeadlineAnswers504BeforeTheResponse) {
  ExchangeHarness h("    timeout: 1ms\n");
  driveTo(h, Phase::AwaitingResponse);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_EQ(h.downstream().local_status, 504);
  expectOneCancelledLine(h, Outcome::DeadlineExceeded, Phase::AwaitingResponse);
}

TEST(CancellationPolicy, DeadlineCutsAResponseUnderWay) {
  ExchangeHarness h("    timeout: 1ms\n");
  driveTo(h, Phase::StreamingResponse);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  EXPECT_EQ(h.stream().settled, Settled::Aborted);
  EXPECT_EQ(h.downstream().local_status, 0);
  EXPECT_TRUE(h.downstream().aborted);
  expectOneCancelledLine(h, Outcome::DeadlineExceeded, Phase::StreamingResponse);
}

TEST(CancellationPolicy, DeadlineWithdrawsAnAcquireStillWaiting) {
  ExchangeHarness h("    timeout: 1ms\n");
  driveTo(h, Phase::Connecting);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  expectUpstreamStopped(h, Phase::Connecting);
  EXPECT_EQ(h.downstream().local_status, 504);
  expectOneCancelledLine(h, Outcome::DeadlineExceeded, Phase::Connecting);
}

// Nobody left: the response completes and the stream goes back for reuse; one request_completed line.
TEST(CancellationPolicy, ACompletedExchangeReleasesTheStreamForReuse) {
  ExchangeHarness h;
  driveTo(h, Phase::StreamingResponse);
  h.stream().respondBody(990);
  h.stream().respondComplete();
  EXPECT_TRUE(h.ended());
  EXPECT_TRUE(h.downstream().completed);
  EXPECT_EQ(h.stream().settled, Settled::ReleasedReusable);
  const auto lines = h.takeLogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], "event", "request_completed")) << lines[0];
}

// The upstream fails after the response started: the client side is cut (it must learn the body is short), the
// stream is closed rather than reused, and the line is request_completed with the upstream_error field.
TEST(UpstreamFailure, MidResponseCutsTheClientAndClosesTheStream) {
  ExchangeHarness h;
  driveTo(h, Phase::StreamingResponse);
  h.stream().failWith(upstream::UpstreamError::ConnectionLost);
  EXPECT_TRUE(h.ended());
  EXPECT_TRUE(h.downstream().aborted);
  EXPECT_EQ(h.stream().settled, Settled::Released);
  const auto lines = h.takeLogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(has(lines[0], "event", "request_completed")) << lines[0];
  EXPECT_TRUE(has(lines[0], "error", "upstream_error")) << lines[0];
}

// Before the response head, the same failure is answered with a 502 from tether.
TEST(UpstreamFailure, BeforeTheResponseAnswers502) {
  ExchangeHarness h;
  driveTo(h, Phase::AwaitingResponse);
  h.stream().failWith(upstream::UpstreamError::ConnectionLost);
  EXPECT_TRUE(h.ended());
  EXPECT_EQ(h.downstream().local_status, 502);
  EXPECT_EQ(h.stream().settled, Settled::Released);
}

}  // namespace
}  // namespace tether::testing
