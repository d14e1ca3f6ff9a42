// Request smuggling patterns through the real tether binary: each ambiguous or malformed request
// gets 400 and a closed connection, and the upstream receives nothing at all. The same strictness
// applies to upstream responses (502).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/raw_client.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

struct SmugglingCase {
  const char* name;
  std::string request;
};

std::string post(const std::string& headers, const std::string& body) {
  return "POST /submit HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n" + body;
}

// A request that would be fine but for `field_line` (which ends in CRLF).
std::string getWith(const std::string& field_line) { return "GET /x HTTP/1.1\r\nHost: test\r\n" + field_line + "\r\n"; }

const SmugglingCase kCases[] = {
    {"ContentLengthAndTransferEncoding",
     post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n")},
    {"TransferEncodingAndContentLength", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n")},
    {"TwoContentLengthsSameValue", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")},
    {"TwoContentLengthsDifferentValues", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")},
    {"TransferEncodingGzipOnly", post("Transfer-Encoding: gzip\r\n", "hello")},
    {"TransferEncodingChunkedThenGzip", post("Transfer-Encoding: chunked, gzip\r\n", "5\r\nhello\r\n0\r\n\r\n")},
    {"ObsFoldContinuationLine", getWith("X-Folded: a\r\n b\r\n")},
    {"ObsFoldedTransferEncoding", post("X-Other: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "hello")},
    {"SpaceBeforeColon", getWith("X-Spaced : 1\r\n")},
    {"SpaceBeforeColonTransferEncoding", post("Transfer-Encoding : chunked\r\n", "5\r\nhello\r\n0\r\n\r\n")},
    {"InvalidCharInHeaderName", getWith("X@Name: 1\r\n")},
    {"BareCrInHeaderValue", getWith("X-Value: a\rb\r\n")},
    {"NulInHeaderValue", getWith(std::string("X-Value: a\0b\r\n", 14))},
};

class ProxySmuggling : public ::testing::TestWithParam<SmugglingCase> {};

TEST_P(ProxySmuggling, H1ClientH1Upstream_RejectedWith400AndNothingReachesUpstream) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(GetParam().request));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response) << "no parsable response";
  EXPECT_EQ(response->status, 400) << response->head << response->body;
  EXPECT_TRUE(client.waitClosed(30s)) << "connection left open";
  // Anything tether forwarded has arrived once it has exited and the upstream has seen every connection close.
  EXPECT_EQ(tether.stop(), 0);
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 30s));
  EXPECT_EQ(upstream.requestsServed(), 0);
  EXPECT_TRUE(upstream.requests().empty())
      << "upstream received " << upstream.requests().at(0).method << " " << upstream.requests().at(0).target;
}

INSTANTIATE_TEST_SUITE_P(Requests, ProxySmuggling, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<SmugglingCase>& test) { return test.param.name; });

TEST(ProxyUpstreamStrictness, H1ClientH1Upstream_ResponseWithContentLengthAndChunkedReturns502) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    reply.close_after = true;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/x", "X-Request-Id: strict-1\r\n")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 502);
  EXPECT_NE(response->body.find("strict-1"), std::string::npos) << response->body;
}

TEST(ProxyUpstreamStrictness, H1ClientH1Upstream_ResponseWithTwoContentLengthsReturns502) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk";
    reply.close_after = true;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/x")));
  const auto response = client.readResponse(30s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 502);
}

}  // namespace
}  // namespace tether::testing
