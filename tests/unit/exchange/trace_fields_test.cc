// An exchange reads the request's W3C traceparent and forwards it untouched: the ids go into every request event
// (the cancellation line and its ring entry, a client_gone line written after the client left, request_completed),
// null without a valid field. Queued requests keep the field in the copy of the head that waits for a stream.
#include <gtest/gtest.h>
#include <strings.h>

#include <string>
#include <vector>

#include "exchange_harness.h"

namespace tether::testing {
namespace {

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr const char* kIds = R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","parent_span_id":"00f067aa0ba902b7")";
constexpr const char* kNulls = R"("trace_id":null,"parent_span_id":null)";

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

bool has(const std::string& line, const char* text) { return line.find(text) != std::string::npos; }

http::MessageHead tracedHead(std::string_view traceparent = kTraceparent) {
  http::MessageHead head = ExchangeHarness::requestHead("GET");
  head.appendHeader("traceparent", traceparent);
  head.appendHeader("tracestate", "rojo=00f067aa0ba902b7");
  return head;
}

TEST(TraceFields, CancellationLineAndRingEntryCarryTheIdsAndTheFieldsGoUpstreamUnchanged) {
  ExchangeHarness h;
  http::MessageHead head = tracedHead();
  h.startRequest(head, true);
  EXPECT_EQ(valuesOf(h.stream().head_headers, "traceparent"), std::vector<std::string>{kTraceparent});
  EXPECT_EQ(valuesOf(h.stream().head_headers, "tracestate"), std::vector<std::string>{"rojo=00f067aa0ba902b7"});
  h.clientLeaves(Outcome::ClientClosed);
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, R"("event":"request_cancelled")")) << line;
  EXPECT_TRUE(has(line, kIds)) << line;
  const auto ring = h.recentCancellations();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0], line);
}

TEST(TraceFields, AClientGoneLineWrittenAfterTheClientLeftHasThem) {
  ExchangeHarness h("    cancellation: {mode: ignore}\n");
  http::MessageHead head = tracedHead();
  h.startRequest(head, true);
  h.clientLeaves(Outcome::ClientClosed);
  ASSERT_TRUE(h.detached());
  h.stream().respondHead(200);
  h.stream().respondBody(1000);
  h.stream().respondComplete();
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, R"("event":"client_gone")")) << line;
  EXPECT_TRUE(has(line, kIds)) << line;
}

TEST(TraceFields, AQueuedRequestKeepsTheFieldForItsStream) {
  ExchangeHarness h;
  h.source().answer = FakeUpstreamSource::Answer::Queue;
  http::MessageHead head = tracedHead();
  h.startRequest(head, true);
  head.clear();  // the session reuses its head for the next request: the exchange must not depend on it
  ASSERT_TRUE(h.source().serve());
  EXPECT_EQ(valuesOf(h.stream().head_headers, "traceparent"), std::vector<std::string>{kTraceparent});
  h.stream().respondHead(200);
  h.stream().respondBody(1000);
  h.stream().respondComplete();
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, R"("event":"request_completed")")) << line;
  EXPECT_TRUE(has(line, kIds)) << line;
}

TEST(TraceFields, AnInvalidFieldIsForwardedButLoggedAsNull) {
  ExchangeHarness h;
  const std::string uppercase = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01";
  http::MessageHead head = tracedHead(uppercase);
  h.startRequest(head, true);
  EXPECT_EQ(valuesOf(h.stream().head_headers, "traceparent"), std::vector<std::string>{uppercase});
  h.clientLeaves(Outcome::ClientReset);
  const std::string line = onlyLine(h);
  EXPECT_TRUE(has(line, kNulls)) << line;
}

TEST(TraceFields, WithoutTheFieldBothAreNull) {
  ExchangeHarness h;
  h.startRequest("GET");
  h.clientLeaves(Outcome::ClientReset);
  EXPECT_TRUE(has(onlyLine(h), kNulls));
}

}  // namespace
}  // namespace tether::testing
