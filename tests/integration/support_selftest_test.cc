// Self-tests of the integration-test peers (tests/support) against each other and against the
// demo upstream, so that a failing proxy test can be trusted to be about the proxy.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "support/h2_client.h"
#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The response, or an empty one (status 0) after recording a failure: keeps tests that chain
// several reads from dereferencing a missing response.
RawClient::Response nextResponse(RawClient& client, std::chrono::milliseconds timeout = 5s) {
  auto response = client.readResponse(timeout);
  EXPECT_TRUE(response) << "no response";
  return response.value_or(RawClient::Response{});
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

TEST(TestUpstreamSelfTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/r" + std::to_string(i))));
    auto response = client.readResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok");
  }
  ASSERT_TRUE(client.send(get("/p1") + get("/p2")));  // pipelined
  EXPECT_EQ(nextResponse(client).body, "ok");
  EXPECT_EQ(nextResponse(client).body, "ok");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_EQ(upstream.requestsServed(), 5);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[4].target, "/p2");
  EXPECT_EQ(requests[4].connection, 1);
  EXPECT_EQ(requests[0].header("host"), "test");
  EXPECT_EQ(upstream.closedConnections(), 0);
  client.close();
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
}

TEST(TestUpstreamSelfTest, DecodesChunkedRequestBodyAndTrailers) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(
      client.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 12\r\n\r\n"));
  ASSERT_TRUE(client.readResponse());
  const auto request = upstream.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, "hello, world");
  EXPECT_EQ(request.body_bytes, 12u);
  ASSERT_EQ(request.trailers.size(), 1u);
  EXPECT_EQ(request.trailers[0].second, "12");
}

TEST(TestUpstreamSelfTest, CountsLargeBodiesButKeepsOnlyTheFirstMebibyte) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  const std::string body = generatedBody(3 << 20);
  ASSERT_TRUE(client.send(
      "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body, 10s));
  ASSERT_TRUE(client.readResponse(30s));
  const auto request = upstream.requests().at(0);
  EXPECT_EQ(request.body_bytes, body.size());
  EXPECT_EQ(request.body, body.substr(0, RecordedRequest::kMaxKeptBody));
}

TEST(TestUpstreamSelfTest, SendsChunkedRepliesWithTrailers) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.body = "chunky";
    reply.chunked = true;
    reply.trailers_raw = "X-Checksum: abc\r\n";
    reply.headers = {{"X-Kind", "test"}};
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->chunked);
  EXPECT_EQ(response->body, "chunky");
  EXPECT_EQ(response->header("x-kind"), "test");
  ASSERT_EQ(response->trailers.size(), 1u);
  EXPECT_EQ(response->trailers[0].first, "X-Checksum");
}

TEST(TestUpstreamSelfTest, StreamsGeneratedBodies) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.stream_bytes = 1 << 20;
    reply.chunked = request.target == "/chunked";
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  for (const char* target : {"/length", "/chunked"}) {
    ASSERT_TRUE(client.send(get(target)));
    auto response = client.readResponse(30s);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->chunked, std::string(target) == "/chunked");
    EXPECT_TRUE(response->body == generatedBody(1 << 20)) << target;
  }
}

// The core of the cancellation tests: the upstream must see the close while it is "working".
TEST(TestUpstreamSelfTest, NoticesClientCloseDuringDelayedReply) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/slow")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  const auto closed_at = std::chrono::steady_clock::now();
  client.close();
  ASSERT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  // Generous for a busy machine; not noticing would take the 60 s delay.
  EXPECT_LT(*upstream.lastCloseTime() - closed_at, 5s);
  EXPECT_EQ(upstream.requestsServed(), 0);
}

TEST(TestUpstreamSelfTest, NoticesClientResetDuringDelayedReply) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 10s;
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/slow")));
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  client.closeWithRst();
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
}

TEST(TestUpstreamSelfTest, NoticesClientLeavingMidStream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.stream_bytes = uint64_t{1} << 30;
    reply.stream_interval = 10ms;
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/download")));
  EXPECT_FALSE(client.recvSome().empty());
  client.close();
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  EXPECT_EQ(upstream.requestsServed(), 0);
}

TEST(TestUpstreamSelfTest, AnswersExpectContinueBeforeReadingTheBody) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.readResponse();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send("hello"));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(upstream.requests().at(0).body, "hello");
}

TEST(TestUpstreamSelfTest, UpgradesAndEchoes) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n")));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 101);
  EXPECT_EQ(response->header("Upgrade"), "websocket");
  ASSERT_TRUE(client.send("ping\x01\x02"));
  std::string echoed;
  while (echoed.size() < 6) {
    const std::string more = client.recvSome(2s);
    if (more.empty()) break;
    echoed += more;
  }
  EXPECT_EQ(echoed, "ping\x01\x02");
  client.shutdownWrite();
  EXPECT_TRUE(client.waitClosed(2s));
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
}

TEST(TestUpstreamSelfTest, RawRepliesAndCloseAfter) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.raw = "HTTP/1.1 200 OK\r\nX-Raw: 1\r\n\r\nuntil close";
    reply.close_after = true;
    return reply;
  });
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "until close");
  EXPECT_TRUE(client.peerClosed());
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
}

TEST(TestUpstreamSelfTest, HonoursConnectionCloseAndHead) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = client.readResponse(30s, /*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Length"), "2");
  EXPECT_EQ(head->body, "");
  ASSERT_TRUE(client.send(get("/", "Connection: close\r\n")));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.waitClosed(2s));
}

TEST(TestUpstreamSelfTest, RejectsMalformedRequests) {
  TestUpstream upstream;
  RawClient client;
  ASSERT_TRUE(client.connect(upstream.port()));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"));
  auto response = client.readResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(upstream.requests().empty());
}

TEST(TestUpstreamSelfTest, DestructorDoesNotWaitForDelayedReplies) {
  RawClient client;
  const auto start = std::chrono::steady_clock::now();
  {
    TestUpstream upstream;
    upstream.setHandler([](const RecordedRequest&) {
      Reply reply;
      reply.delay = 60s;
      return reply;
    });
    ASSERT_TRUE(client.connect(upstream.port()));
    ASSERT_TRUE(client.send(get("/slow")));
    ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  }
  // The destructor cuts the 60 s delay short: generous for a busy machine, far below the delay.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_TRUE(client.waitClosed(30s));
}

TEST(ProcessSelfTest, CapturesOutputAndExitCode) {
  Process process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_TRUE(process.waitForOutput("out"));
  EXPECT_TRUE(process.waitForOutput("err"));
  EXPECT_EQ(process.waitExit(), 3);
  EXPECT_FALSE(process.waitForOutput("never", 100ms));
}

TEST(ProcessSelfTest, StopsWithSignalAndThrowsForMissingBinary) {
  Process sleeper({"/bin/sleep", "60"});
  EXPECT_TRUE(sleeper.running());
  EXPECT_EQ(sleeper.stop(SIGTERM, 2s), 128 + SIGTERM);
  EXPECT_THROW(Process({"/nonexistent/tether-binary"}), std::runtime_error);
}

TEST(TestEnvSelfTest, FreePortAndTempDir) {
  EXPECT_NE(freePort(), 0);
  const std::string dir = tempDir();
  const std::string other = tempDir();
  EXPECT_NE(dir.find("tether-test-"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_NE(dir, other);
  std::filesystem::remove(dir);
  std::filesystem::remove(other);
}

// Runs tether-demo-upstream on an ephemeral port and returns that port (0 on failure).
uint16_t startDemo(Process& demo) {
  if (!demo.waitForOutput("listening on 127.0.0.1:")) return 0;
  const std::string out = demo.output();
  const auto pos = out.find("listening on 127.0.0.1:") + std::string("listening on 127.0.0.1:").size();
  return static_cast<uint16_t>(std::stoi(out.substr(pos)));
}

TEST(DemoUpstreamSelfTest, SlowTestFinishes) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t port = startDemo(demo);
  ASSERT_NE(port, 0) << demo.output();
  RawClient client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(get("/slowtest?ms=300", "X-Request-Id: fin-1\r\n")));
  auto response = client.readResponse(30s);
  ASSERT_TRUE(response) << demo.output();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "Finished slow delay of 0.3 seconds.");
  EXPECT_TRUE(demo.waitForOutput("[fin-1] Starting to do slow work"));
  EXPECT_TRUE(demo.waitForOutput("[fin-1] Finished slow delay of 0.3 seconds."));
  ASSERT_TRUE(client.send(get("/fast")));  // same connection: keep-alive
  EXPECT_EQ(nextResponse(client).body, "ok\n");
  EXPECT_EQ(demo.stop(SIGTERM), 0);
}

TEST(DemoUpstreamSelfTest, SlowTestNoticesClientLeaving) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t port = startDemo(demo);
  ASSERT_NE(port, 0) << demo.output();
  RawClient client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(get("/slowtest", "X-Request-Id: gone-1\r\n")));
  ASSERT_TRUE(demo.waitForOutput("[gone-1] Starting to do slow work"));
  client.close();
  EXPECT_TRUE(demo.waitForOutput("[gone-1] request aborted after", 30s)) << demo.output();
  EXPECT_EQ(demo.output().find("Finished"), std::string::npos);
  EXPECT_EQ(demo.stop(SIGINT), 0);
}

// The FIN sits behind an unread pipelined request: a socket peek would miss it.
TEST(DemoUpstreamSelfTest, SlowTestNoticesCloseBehindPipelinedRequest) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t port = startDemo(demo);
  ASSERT_NE(port, 0) << demo.output();
  RawClient client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(get("/slowtest", "X-Request-Id: piped-1\r\n") + get("/fast")));
  ASSERT_TRUE(demo.waitForOutput("[piped-1] Starting to do slow work"));
  client.close();
  EXPECT_TRUE(demo.waitForOutput("[piped-1] request aborted after", 30s)) << demo.output();
}

TEST(DemoUpstreamSelfTest, StopsCleanlyWithSlowWorkPending) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t port = startDemo(demo);
  ASSERT_NE(port, 0) << demo.output();
  RawClient client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send(get("/slowtest", "X-Request-Id: pending-1\r\n")));
  ASSERT_TRUE(demo.waitForOutput("[pending-1] Starting to do slow work"));
  EXPECT_EQ(demo.stop(SIGTERM), 0) << demo.output();  // LeakSanitizer would fail the exit code
  EXPECT_TRUE(client.waitClosed(2s));
}

TEST(DemoUpstreamSelfTest, EchoBytesAndErrors) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"});
  const uint16_t port = startDemo(demo);
  ASSERT_NE(port, 0) << demo.output();
  RawClient client;
  ASSERT_TRUE(client.connect(port));
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_EQ(nextResponse(client).body, "hello");
  ASSERT_TRUE(client.send(get("/bytes?n=200000")));
  auto bytes = client.readResponse();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->body.size(), 200000u);
  ASSERT_TRUE(client.send(get("/healthz")));
  EXPECT_EQ(nextResponse(client).status, 200);
  ASSERT_TRUE(client.send(get("/nope")));
  EXPECT_EQ(nextResponse(client).status, 404);
  ASSERT_TRUE(client.send(get("/slowtest?ms=abc")));
  EXPECT_EQ(nextResponse(client).status, 400);
}

// The h2c side: a reset stream stops its slow work (logged with the code), and the connection serves on.
TEST(DemoUpstreamSelfTest, H2cSlowTestStopsOnItsStreamResetOnly) {
  Process demo({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "127.0.0.1:0", "--h2c-listen", "127.0.0.1:0"});
  ASSERT_TRUE(demo.waitForOutput("h2c listening on 127.0.0.1:")) << demo.output();
  const std::string out = demo.output();
  const std::string marker = "h2c listening on 127.0.0.1:";
  const auto port = static_cast<uint16_t>(std::stoi(out.substr(out.find(marker) + marker.size())));
  H2Client client;
  ASSERT_TRUE(client.connect(port));
  const int32_t slow = client.request("GET", "/h2c/slowtest", "", {{"x-request-id", "h2-gone"}});
  const int32_t other = client.request("GET", "/slowtest?ms=1", "", {{"x-request-id", "h2-other"}});
  ASSERT_TRUE(client.waitClosed(other)) << demo.output();
  EXPECT_EQ(client.stream(other).body, "Finished slow delay of 0.001 seconds.");
  ASSERT_TRUE(demo.waitForOutput("[h2-gone] Starting to do slow work"));
  client.reset(slow, NGHTTP2_CANCEL);
  // The client's pump sends the frame: keep it turning until the server has logged the abort.
  EXPECT_TRUE(
      client.runUntil([&] { return demo.output().find("[h2-gone] request aborted after") != std::string::npos; }, 30s))
      << demo.output();
  EXPECT_NE(demo.output().find("RST_STREAM(CANCEL) on stream " + std::to_string(slow) + ", connection kept"),
            std::string::npos)
      << demo.output();
  const int32_t fast = client.request("GET", "/fast");
  ASSERT_TRUE(client.waitClosed(fast));
  EXPECT_EQ(client.stream(fast).status, 200);
  EXPECT_EQ(client.stream(fast).body, "ok\n");
  EXPECT_FALSE(client.connectionEnded());
  EXPECT_EQ(demo.output().find("[h2-gone] Finished"), std::string::npos);
  EXPECT_EQ(demo.stop(SIGTERM), 0) << demo.output();  // LeakSanitizer would fail the exit code
}

TEST(DemoUpstreamSelfTest, HelpAndBadArguments) {
  Process help({TETHER_DEMO_UPSTREAM_BINARY, "--help"});
  EXPECT_EQ(help.waitExit(), 0);
  EXPECT_TRUE(help.waitForOutput("usage: tether-demo-upstream"));
  Process bad({TETHER_DEMO_UPSTREAM_BINARY, "--listen", "nonsense"});
  EXPECT_EQ(bad.waitExit(), 2);
}

}  // namespace
}  // namespace tether::testing
