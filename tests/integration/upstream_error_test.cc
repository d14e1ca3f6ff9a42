// The upstream fails after the response started (body cut short, a bad chunk): the client must learn that the body
// is incomplete (HTTP/1.1: the connection is closed; HTTP/2: the stream is reset), and the log line says
// `"error":"upstream_error"` instead of passing for a completed response.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/h2_client.h"
#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

constexpr size_t kPromised = 100000;
constexpr size_t kDelivered = 1000;

// Promises kPromised body bytes, sends kDelivered, then closes.
Reply cutShort() {
  Reply reply;
  reply.raw =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kPromised) + "\r\n\r\n" + std::string(kDelivered, 'b');
  reply.close_after = true;
  return reply;
}

// A chunk size that is not hex, after a good chunk; the connection stays open, so only the framing error can end it.
Reply badChunk() {
  Reply reply;
  reply.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n";
  return reply;
}

void expectUpstreamErrorLine(const TetherInstance& tether, const std::string& id, const std::string& protocol) {
  const auto lines = tether.waitForLogEvents("request_completed", id, 1, 30s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].integerAt("status"), 200);
  EXPECT_EQ(lines[0].str("error"), "upstream_error");
  EXPECT_EQ(lines[0].str("protocol"), protocol);
  EXPECT_TRUE(tether.logEvents("request_cancelled", id).empty());
}

// Everything after the head, from what the client read until tether closed the connection.
std::string bodyBytes(const std::string& received) {
  const auto end = received.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : received.substr(end + 4);
}

TEST(UpstreamError, H1ClientH1Upstream_ClosedMidBodyClosesTheClientConnection) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return cutShort(); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/cut", "X-Request-Id: cut-h1\r\n")));
  const std::string received = client.readUntilClosed(30s);
  EXPECT_TRUE(client.peerClosed()) << "tether kept the connection open after an incomplete body";
  // What was queued when the upstream broke off may or may not have gone out first; never the whole body.
  EXPECT_LT(bodyBytes(received).size(), kPromised);
  expectUpstreamErrorLine(tether, "cut-h1", "http/1.1");
}

TEST(UpstreamError, H1ClientH1Upstream_BadChunkClosesTheClientConnection) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return badChunk(); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/chunk", "X-Request-Id: chunk-h1\r\n")));
  const std::string received = client.readUntilClosed(30s);
  EXPECT_TRUE(client.peerClosed()) << "tether kept the connection open after a broken chunked body";
  // The last chunk never came: the client must not see the body's terminating 0-size chunk.
  EXPECT_EQ(received.find("\r\n0\r\n\r\n"), std::string::npos) << received;
  expectUpstreamErrorLine(tether, "chunk-h1", "http/1.1");
}

// An HTTP/1.0 client gets a chunked upstream body read-until-close: a plain close would look like its end, so the
// connection is reset instead.
TEST(UpstreamError, H10ClientReadUntilCloseBody_IsResetNotClosed) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return badChunk(); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send("GET /chunk HTTP/1.0\r\nHost: example.test\r\nX-Request-Id: chunk-h10\r\n\r\n"));
  const std::string received = client.readUntilClosed(30s);
  EXPECT_TRUE(client.peerClosed());
  EXPECT_TRUE(client.peerReset()) << "a FIN would tell an HTTP/1.0 client its body was complete: " << received;
  expectUpstreamErrorLine(tether, "chunk-h10", "http/1.1");
}

TEST(UpstreamError, H2cClientH1Upstream_ClosedMidBodyResetsTheStream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return cutShort(); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/cut", "", {{"x-request-id", "cut-h2"}});
  ASSERT_TRUE(client.waitClosed(id, 30s));
  const auto& stream = client.stream(id);
  EXPECT_NE(stream.error_code, 0u) << "the stream ended cleanly with " << stream.body.size() << " of " << kPromised
                                   << " bytes";
  EXPECT_LT(stream.body.size(), kPromised);
  expectUpstreamErrorLine(tether, "cut-h2", "h2c");
}

TEST(UpstreamError, H2cClientH1Upstream_BadChunkResetsTheStream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) { return badChunk(); });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  H2Client client;
  ASSERT_TRUE(client.connect(tether.port()));
  const int32_t id = client.request("GET", "/chunk", "", {{"x-request-id", "chunk-h2"}});
  ASSERT_TRUE(client.waitClosed(id, 30s));
  EXPECT_NE(client.stream(id).error_code, 0u);
  expectUpstreamErrorLine(tether, "chunk-h2", "h2c");
}

TEST(UpstreamError, CompleteResponseHasNoErrorField) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/ok", "X-Request-Id: whole\r\n")));
  ASSERT_TRUE(client.readResponse(30s));
  const auto lines = tether.waitForLogEvents("request_completed", "whole", 1, 30s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("error"), nullptr);
}

}  // namespace
}  // namespace tether::testing
