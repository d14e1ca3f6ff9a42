// Progress timeouts (issue 11, items 4 and 5): nothing a peer does (or stops doing) holds a request, its upstream
// connection or tether's memory for longer than a configured timeout. Each timeout has its status, reason and log
// line: a body that never comes (408, request_body_timeout), a client that stops reading (send_timeout), an
// upstream that never answers, stalls mid-body or stops reading the request body (504 or a cut connection,
// upstream_timeout), an HTTP/2 header block that never ends (GOAWAY). And an upstream repeating 1xx responses to a
// client that does not read gets at most a few of them through, with bounded memory.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/any_client.h"
#include "support/h2_client.h"
#include "support/protocol_matrix.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The one request_cancelled line of `id`, checked for reason, phase and status.
void expectCancelled(const TetherInstance& tether, const std::string& id, const std::string& reason,
                     const std::string& phase, int status) {
  const auto lines = tether.waitForLogEvents("request_cancelled", id, 1, 10s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), reason) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("phase"), phase) << tether.dumpLog();
  EXPECT_EQ(lines[0].integerAt("status"), status) << tether.dumpLog();
}

// A loopback listener whose connections are accepted by a thread and then handled by `serve` (which gets the
// socket and a stop flag); closed, and its threads joined, on destruction.
class RawUpstream {
 public:
  using Serve = std::function<void(int fd, const std::atomic<bool>& stop)>;
  explicit RawUpstream(Serve serve) : serve_(std::move(serve)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len);
    listen(listen_fd_, 16);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        if (waitFor(listen_fd_, POLLIN, -1, deadlineAfter(50ms)) != IoResult::kOk) continue;
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++accepted_;
        serve_(fd, stop_);
        ::close(fd);
      }
    });
  }
  ~RawUpstream() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  Serve serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// ---- the client -----------------------------------------------------------------------------------------------

// For every client: HTTP/1.1 gets the 408 and its connection closed; an HTTP/2 client gets the 408 on the stream.
class RequestBodyThatStops : public ::testing::TestWithParam<ClientProtocol> {};

TEST_P(RequestBodyThatStops, Gets408AndCancelsTheUpstream) {
  const ClientProtocol protocol = GetParam();
  TestUpstream upstream;
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("request_body_timeout", "300ms");
  TetherInstance tether(forClient(options, protocol));
  AnyClient client(protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.sendHead("POST", "/upload", {{"X-Request-Id", "body-stalls"}}, 1000, /*end=*/false, "x"));
  const auto response = client.readResponse(10s);
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 408);
  if (!isH2(protocol)) {
    EXPECT_TRUE(client.waitClosed(10s)) << "the connection stayed open after the 408";
  }
  expectCancelled(tether, "body-stalls", "request_body_timeout", "reading_request", 408);
  EXPECT_EQ(tether.logEvents("request_cancelled", "body-stalls")[0].str("protocol"), logProtocol(protocol));
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 5s));
}

INSTANTIATE_TEST_SUITE_P(Timeouts, RequestBodyThatStops, ::testing::ValuesIn(matrixProtocols()), protocolName);

TEST(Timeouts, H1RequestBodyNeverSentGets408) {
  TestUpstream upstream;
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("request_body_timeout", "300ms");
  TetherInstance tether(options);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(
      client.send("PUT /upload HTTP/1.1\r\nHost: test\r\nX-Request-Id: body-never\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"));
  const auto response = client.readResponse(10s);
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 408);
  expectCancelled(tether, "body-never", "request_body_timeout", "reading_request", 408);
}

TEST(Timeouts, H2RequestBodyNeverSentGets408OnTheStream) {
  TestUpstream upstream;
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("request_body_timeout", "300ms");
  TetherInstance tether(options);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  const HeaderList fields{{":method", "POST"},    {":scheme", "http"},      {":path", "/upload"},
                          {":authority", "test"}, {"content-length", "10"}, {"x-request-id", "h2-body-never"}};
  ASSERT_TRUE(client.send(h2frames::preface() + h2frames::headers(1, fields, false)));
  expectCancelled(tether, "h2-body-never", "request_body_timeout", "reading_request", 408);
  EXPECT_TRUE(upstream.waitForConnectionClosed(upstream.acceptedConnections(), 5s));
}

TEST(Timeouts, H1ClientThatStopsReadingIsCutWithSendTimeout) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.stream_bytes = 256ull << 20;  // far more than the socket buffers and tether's watermarks hold
    return reply;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("send_timeout", "300ms");
  TetherInstance tether(options);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/big", "X-Request-Id: never-reads\r\n")));
  // The client reads nothing at all.
  const auto lines = tether.waitForLogEvents("request_cancelled", "never-reads", 1, 20s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), "send_timeout");
  EXPECT_EQ(lines[0].str("phase"), "streaming_response");
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 5s)) << "the upstream kept streaming";
  EXPECT_TRUE(client.waitClosed(20s)) << "tether kept the connection of a client that does not read";
}

// An HTTP/2 client that never opens its flow-control window: the response (small enough for the exchange to end)
// waits in tether for good unless the connection's send timeout closes it.
TEST(Timeouts, H2ClientThatNeverTakesTheResponseIsClosed) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.stream_bytes = 200 * 1024;  // more than the 64 KiB initial window, less than the exchange's watermark
    return reply;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("send_timeout", "300ms");
  TetherInstance tether(options);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(h2frames::preface() + h2frames::getHeaders(1, "/window-never-opens")));
  // Reading the socket (waitClosed buffers what arrives) never sends WINDOW_UPDATE: the stream stays stalled.
  EXPECT_TRUE(client.waitClosed(20s)) << "the connection of a client that takes nothing stayed open\n"
                                      << tether.dumpLog();
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "", 1, 5s).size(), 1u) << tether.dumpLog();
}

// ---- the upstream ---------------------------------------------------------------------------------------------

TEST(Timeouts, UpstreamThatNeverAnswersGets504) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"response_timeout", "300ms"}}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/hangs", "X-Request-Id: no-answer\r\n")));
  const auto response = client.readResponse(10s);
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 504);
  expectCancelled(tether, "no-answer", "upstream_timeout", "awaiting_response", 504);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 5s));
}

TEST(Timeouts, UpstreamThatStallsMidBodyIsCut) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.stream_bytes = 1 << 20;
    reply.stream_interval = 60s;  // the first piece, then nothing
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"read_timeout", "300ms"}}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/stalls", "X-Request-Id: stalls-mid-body\r\n")));
  EXPECT_TRUE(client.waitClosed(10s)) << "the client was left waiting for a body that stopped";
  expectCancelled(tether, "stalls-mid-body", "upstream_timeout", "streaming_response", 504);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 5s));
}

TEST(Timeouts, UpstreamThatStopsReadingTheBodyGets504) {
  // Accepts, reads nothing, holds the connection until tether lets go.
  RawUpstream upstream([](int fd, const std::atomic<bool>& stop) {
    while (!stop) {
      pollfd p{fd, POLLRDHUP, 0};
      if (poll(&p, 1, 50) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
    }
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"send_timeout", "300ms"}}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: test\r\nX-Request-Id: upstream-not-reading\r\n"
                  "Content-Length: 1073741824\r\n\r\n"));
  // Send until tether stops taking bytes (its buffers and the upstream's are full), then wait for the answer.
  const std::string chunk(64 * 1024, 'b');
  while (client.send(chunk, 200ms)) {
  }
  const auto response = client.readResponse(10s);
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 504);
  expectCancelled(tether, "upstream-not-reading", "upstream_timeout", "reading_request", 504);
}

// A tunnel (101 Switching Protocols) with no bytes either way for the upstream's read_timeout is closed, as
// nginx's proxy_read_timeout closes an idle WebSocket: a peer cannot hold one forever.
TEST(Timeouts, IdleTunnelIsClosedAfterReadTimeout) {
  TestUpstream upstream;  // default handler: 101 for requests with Upgrade, then echo
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}, {{"read_timeout", "500ms"}}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n")));
  const auto response = client.readResponse(5s);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 101);
  ASSERT_TRUE(client.send("ping"));
  EXPECT_EQ(client.recvSome(5s), "ping");
  // Then nothing moves: the tunnel ends.
  EXPECT_TRUE(client.waitClosed(10s)) << "an idle tunnel stayed open";
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 5s));
}

// An upstream that answers every request with an endless run of 103 Early Hints, to a client that reads nothing:
// at most a few reach the client, tether's memory stays flat, and response_timeout ends it with a 504.
TEST(Timeouts, RepeatedInterimResponsesAreCappedAndBounded) {
  std::atomic<uint64_t> interim_sent{0};
  RawUpstream upstream([&](int fd, const std::atomic<bool>& stop) {
    std::string request;
    readSome(fd, request, -1, deadlineAfter(5s));
    const std::string hint = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n";
    std::string burst;
    for (int i = 0; i < 256; ++i) burst += hint;
    while (!stop && writeAll(fd, burst, -1, deadlineAfter(2s)) == IoResult::kOk) interim_sent += 256;
  });
  TetherOptions options = TetherOptions::proxyTo({upstream.address()}, {{"response_timeout", "2s"}});
  options.small_sanitizer_quarantine = true;
  TetherInstance tether(options);
  ASSERT_TRUE(tether.waitForLogLine("\"startup\"", 10s));
  const uint64_t rss_before = rssKiB(tether.pid());

  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/hints", "X-Request-Id: endless-hints\r\n")));
  const auto lines = tether.waitForLogEvents("request_cancelled", "endless-hints", 1, 20s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("reason"), "upstream_timeout");
  EXPECT_EQ(lines[0].integerAt("status"), 504);
  const uint64_t rss_after = rssKiB(tether.pid());
  EXPECT_GT(interim_sent.load(), 1000u) << "the upstream did not get to flood";
  EXPECT_LT(rss_after, rss_before + 32 * 1024) << "RSS grew from " << rss_before << " to " << rss_after << " KiB";

  // Now the client reads: a handful of 103s, then the 504.
  int interim = 0;
  for (;;) {
    const auto response = client.readResponse(10s);
    ASSERT_TRUE(response);
    if (response->status == 103) {
      ++interim;
      continue;
    }
    EXPECT_EQ(response->status, 504);
    break;
  }
  EXPECT_GE(interim, 1);
  EXPECT_LE(interim, 8);
}

// ---- HTTP/2 request head -------------------------------------------------------------------------------------

TEST(Timeouts, H2HeaderBlockThatNeverEndsGetsGoaway) {
  TestUpstream upstream;
  TetherOptions options = TetherOptions::proxyTo({upstream.address()});
  options.limit("header_read_timeout", "300ms");
  TetherInstance tether(options);
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  // HEADERS without END_HEADERS: a CONTINUATION must follow, and never does.
  std::string headers =
      h2frames::headers(1, {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "test"}}, true);
  headers[4] = static_cast<char>(NGHTTP2_FLAG_END_STREAM);  // flags byte: END_HEADERS cleared
  ASSERT_TRUE(client.send(h2frames::preface() + headers));
  std::string server_bytes;
  const Deadline deadline = deadlineAfter(10s);
  while (!h2frames::findGoaway(server_bytes) && Clock::now() < deadline) {
    if (readSome(client.fd(), server_bytes, -1, deadline) != IoResult::kOk) break;
  }
  EXPECT_TRUE(h2frames::findGoaway(server_bytes)) << "no GOAWAY for a stalled header block";
  EXPECT_TRUE(client.waitClosed(10s));
  EXPECT_EQ(upstream.acceptedConnections(), 0);
}

}  // namespace
}  // namespace tether::testing
