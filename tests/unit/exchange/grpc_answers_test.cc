// What tether answers a gRPC call itself: a Trailers-Only response (HTTP 200, grpc-status, grpc-message) for a
// client that reads trailers, the JSON error for an HTTP/1.1 one; which grpc-status each way of failing maps to; and
// what the record logs (status: what tether meant; grpc_status: what the client read). Fake streams, no sockets.
#include <gtest/gtest.h>
#include <strings.h>

#include <string>
#include <vector>

#include "exchange_harness.h"

namespace tether::testing {
namespace {

using upstream::UpstreamError;

std::string valueOf(const http::HeaderList& headers, std::string_view name) {
  for (const auto& header : headers) {
    if (header.name.size() == name.size() && strncasecmp(header.name.data(), name.data(), name.size()) == 0) {
      return header.value;
    }
  }
  return "(absent)";
}

http::MessageHead grpcHead(std::string_view timeout = {}) {
  http::MessageHead head = ExchangeHarness::requestHead("POST");
  head.target = "/pkg.Service/Method";
  head.appendHeader("content-type", "application/grpc");
  if (!timeout.empty()) head.appendHeader("grpc-timeout", timeout);
  return head;
}

std::string onlyLine(ExchangeHarness& h) {
  auto lines = h.takeLogLines();
  EXPECT_EQ(lines.size(), 1u);
  return lines.empty() ? std::string() : lines.front();
}

bool has(const std::string& line, const std::string& json) { return line.find(json) != std::string::npos; }

// The client read a Trailers-Only answer with `grpc_status`, and nothing else.
void expectTrailersOnly(ExchangeHarness& h, int grpc_status) {
  EXPECT_EQ(h.downstream().local_status, 0) << "no JSON error";
  EXPECT_EQ(h.downstream().response_status, 200);
  EXPECT_EQ(valueOf(h.downstream().response_headers, "content-type"), "application/grpc");
  EXPECT_EQ(valueOf(h.downstream().response_headers, "grpc-status"), std::to_string(grpc_status));
}

struct Failure {
  UpstreamError error;
  int status;  // logged
  int grpc_status;
  const char* name;
};

class GrpcSourceFailures : public ::testing::TestWithParam<Failure> {};

TEST_P(GrpcSourceFailures, AreTrailersOnlyWithTheirGrpcStatus) {
  ExchangeHarness h;
  h.downstream().protocol_name = "h2c";
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  http::MessageHead head = grpcHead();
  h.startRequest(head, true);
  ASSERT_TRUE(h.source().fail(GetParam().error));
  expectTrailersOnly(h, GetParam().grpc_status);
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "\"status\":" + std::to_string(GetParam().status) + ",")) << line;
  EXPECT_TRUE(has(
      line, "\"grpc_method\":\"/pkg.Service/Method\",\"grpc_status\":" + std::to_string(GetParam().grpc_status) + "}"))
      << line;
}

INSTANTIATE_TEST_SUITE_P(Unavailable, GrpcSourceFailures,
                         ::testing::Values(Failure{UpstreamError::QueueTimeout, 503, 14, "queue_timeout"},
                                           Failure{UpstreamError::ConnectRefused, 502, 14, "connect_refused"},
                                           Failure{UpstreamError::ConnectTimeout, 504, 14, "connect_timeout"}),
                         [](const ::testing::TestParamInfo<Failure>& param) { return param.param.name; });

TEST(GrpcAnswers, AnUpstreamTimeoutIsDeadlineExceeded) {
  ExchangeHarness h("", "    response_timeout: 1ms\n");
  h.downstream().protocol_name = "h2c";
  http::MessageHead head = grpcHead();
  h.startRequest(head, true);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  expectTrailersOnly(h, 4);
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, "\"reason\":\"upstream_timeout\"")) << line;
  EXPECT_TRUE(has(line, "\"status\":504,")) << line;
}

// No route timeout: the client's grpc-timeout alone is the deadline.
TEST(GrpcAnswers, TheClientsGrpcTimeoutIsADeadline) {
  ExchangeHarness h;
  h.downstream().protocol_name = "h2c";
  http::MessageHead head = grpcHead("1m");
  h.startRequest(head, true);
  ASSERT_TRUE(h.runUntil([&] { return h.ended(); }));
  expectTrailersOnly(h, 4);
  EXPECT_TRUE(has(onlyLine(h), "\"reason\":\"deadline_exceeded\"")) << "the 1 ms grpc-timeout ended it";
  const std::string sent = valueOf(h.stream().head_headers, "grpc-timeout");
  EXPECT_EQ(sent.back(), 'n') << sent << ": below 0.1 s the budget goes upstream in nanoseconds";
  EXPECT_LE(std::stoll(sent), 1'000'000) << sent;
}

TEST(GrpcAnswers, AnHttp1ClientGetsTheJsonErrorAndNoGrpcStatus) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  http::MessageHead head = grpcHead();
  h.startRequest(head, true);
  ASSERT_TRUE(h.source().fail(UpstreamError::QueueTimeout));
  EXPECT_EQ(h.downstream().local_status, 503);
  EXPECT_EQ(h.downstream().response_status, 0);
  EXPECT_TRUE(has(onlyLine(h), "\"grpc_method\":\"/pkg.Service/Method\",\"grpc_status\":null}"));
}

TEST(GrpcAnswers, APlainRequestFromAnH2ClientGetsTheJsonError) {
  ExchangeHarness h;
  h.downstream().protocol_name = "h2c";
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  h.startRequest("GET");
  ASSERT_TRUE(h.source().fail(UpstreamError::QueueTimeout));
  EXPECT_EQ(h.downstream().local_status, 503);
  EXPECT_TRUE(has(onlyLine(h), "\"grpc_method\":null,\"grpc_status\":null}"));
}

}  // namespace
}  // namespace tether::testing
