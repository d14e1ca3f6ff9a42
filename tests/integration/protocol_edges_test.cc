// Protocol gaps of issue 11, item 7, end to end through the real binary: what reaches the upstream (or does not)
// and what the client is answered. The choices are documented in docs/http.md.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/h2_client.h"
#include "support/process.h"
#include "support/raw_client.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// One request on a new connection; the response (nullopt if none came).
std::optional<RawClient::Response> exchange(uint16_t port, const std::string& request) {
  RawClient client;
  if (!client.connect(port) || !client.send(request)) return std::nullopt;
  return client.readResponse(5s);
}

int statusOf(uint16_t port, const std::string& request) {
  const auto response = exchange(port, request);
  return response ? response->status : 0;
}

TEST(ProtocolEdges, H1ClientHttp10WithoutHost_ReachesUpstreamWithTheLocalAddressAsHost) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const auto response = exchange(tether.port(), "GET /old HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].version, "HTTP/1.1");
  EXPECT_EQ(requests[0].header("Host"), "127.0.0.1:" + std::to_string(tether.port()));
}

TEST(ProtocolEdges, H1ClientHttp11WithoutHost_Is400) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"), 400);
  EXPECT_EQ(upstream.requests().size(), 0u);
}

TEST(ProtocolEdges, H1ClientInvalidHostValues_Are400AndNeverReachTheUpstream) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  for (const char* host : {"a b", "a/b", "user@a", "a:8o", "a:65536", "a:80:81", "[::1"}) {
    SCOPED_TRACE(host);
    EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n"), 400);
  }
  EXPECT_EQ(statusOf(tether.port(), "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 200);
  EXPECT_EQ(upstream.requests().size(), 1u);
}

TEST(ProtocolEdges, H1ClientAbsoluteFormTarget_ItsAuthorityWinsOverHostForRoutingAndForwarding) {
  TestUpstream named;
  TestUpstream other;
  TetherOptions options;
  options.addUpstream("named", {named.address()}).addUpstream("other", {other.address()});
  options.addRoute("by-host", "{host: real.example, path_prefix: /}", "named");
  options.addRoute("rest", "{path_prefix: /}", "other");
  TetherInstance tether(options);

  EXPECT_EQ(statusOf(tether.port(), "GET http://real.example:8080/p?q=1 HTTP/1.1\r\nHost: decoy.example\r\n\r\n"), 200);
  ASSERT_EQ(named.requests().size(), 1u);
  EXPECT_EQ(other.requests().size(), 0u);
  const auto request = named.requests()[0];
  EXPECT_EQ(request.target, "/p?q=1");
  EXPECT_EQ(request.header("Host"), "real.example:8080");
  EXPECT_EQ(request.header("X-Forwarded-Host"), "real.example:8080");
}

TEST(ProtocolEdges, H1ClientUpgradeH2c_IsNotForwardedAndTheRequestIsServedAsHttp11) {
  TestUpstream upstream;  // default handler: 101 to any request that still carries Upgrade
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(
      client.send("POST /up HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                  "HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 3\r\n\r\nabc"));
  const auto response = client.readResponse(5s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].header("Upgrade"));
  EXPECT_FALSE(requests[0].header("HTTP2-Settings"));
  EXPECT_EQ(requests[0].body, "abc");
  // The connection stays an HTTP/1.1 connection: the next request on it is routed and logged.
  ASSERT_TRUE(client.send(getRequest("/after", "X-Request-Id: after-h2c\r\n")));
  const auto next = client.readResponse(5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(upstream.requests().size(), 2u);
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "after-h2c", 1, 5s).size(), 1u);
}

TEST(ProtocolEdges, H1ClientH1Upstream_A101ForAProtocolTheClientDidNotAskFor_Is502) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.raw = request.target == "/no-upgrade-field"
                    ? "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n"
                    : "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
                      "Upgrade: h2c\r\n\r\n";
    return reply;
  });
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const std::string websocket = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
  EXPECT_EQ(statusOf(tether.port(), getRequest("/other-protocol", websocket)), 502);
  EXPECT_EQ(statusOf(tether.port(), getRequest("/no-upgrade-field", websocket)), 502);
  EXPECT_EQ(statusOf(tether.port(), getRequest("/unsolicited")), 502);
}

TEST(ProtocolEdges, H1ClientHttpVersions_1Dot2IsServedAs1Dot1_OtherMajorsAre505) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const auto response = exchange(tether.port(), "GET /v12 HTTP/1.2\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->version, "HTTP/1.1");
  ASSERT_EQ(upstream.requests().size(), 1u);
  EXPECT_EQ(upstream.requests()[0].version, "HTTP/1.1");

  EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/2.0\r\nHost: t\r\n\r\n"), 505);
  EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/3.0\r\nHost: t\r\n\r\n"), 505);
  EXPECT_EQ(statusOf(tether.port(), "GET / HTTP/0.9\r\nHost: t\r\n\r\n"), 505);
  EXPECT_EQ(upstream.requests().size(), 1u);
}

TEST(ProtocolEdges, H1ClientUnknownMethodIs501_NonTokenIs400) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  EXPECT_EQ(statusOf(tether.port(), "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n"), 501);
  EXPECT_EQ(statusOf(tether.port(), "G@T / HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  EXPECT_EQ(upstream.requests().size(), 0u);
}

TEST(ProtocolEdges, H1ClientTransferCodings_GzipChunkedIs501_TeListingChunkedIs400) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  EXPECT_EQ(statusOf(tether.port(), "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            501);
  EXPECT_EQ(statusOf(tether.port(), getRequest("/", "TE: gzip, chunked\r\n")), 400);
  EXPECT_EQ(statusOf(tether.port(), getRequest("/", "TE: trailers\r\n")), 200);
  ASSERT_EQ(upstream.requests().size(), 1u);
  EXPECT_FALSE(upstream.requests()[0].header("TE"));  // hop-by-hop
}

TEST(ProtocolEdges, H1ClientChunkExtensionWithAnEmptyName_Is400) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const std::string head = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(statusOf(tether.port(), head + "5;=x\r\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(statusOf(tether.port(), head + "5;name=x\r\nhello\r\n0\r\n\r\n"), 200);
}

TEST(ProtocolEdges, H1ClientH1Upstream_HostAndOtherForbiddenFieldsInRequestTrailersAreNotForwarded) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  EXPECT_EQ(statusOf(tether.port(),
                     "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                     "Host: evil.example\r\nX-Checksum: 42\r\nContent-Length: 1\r\nAuthorization: x\r\n\r\n"),
            200);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body, "abc");
  EXPECT_EQ(findHeader(requests[0].trailers, "X-Checksum"), "42");
  EXPECT_FALSE(findHeader(requests[0].trailers, "Host"));
  EXPECT_FALSE(findHeader(requests[0].trailers, "Content-Length"));
  EXPECT_FALSE(findHeader(requests[0].trailers, "Authorization"));
}

// Reads what the server sends until it closes (or `timeout`, the failure bound).
std::string readUntilClosed(int fd, std::chrono::milliseconds timeout) {
  std::string in;
  const auto deadline = deadlineAfter(timeout);
  while (readSome(fd, in, -1, deadline) == IoResult::kOk) {
  }
  return in;
}

TEST(ProtocolEdges, H2cClientHeadersOnALowerStreamId_IsConnectionErrorProtocolError) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  const int fd = connectLoopback(tether.port(), deadlineAfter(5s));
  ASSERT_GE(fd, 0);
  const std::string bytes = h2frames::preface() + h2frames::getHeaders(5, "/five") + h2frames::getHeaders(3, "/three");
  ASSERT_EQ(writeAll(fd, bytes, -1, deadlineAfter(5s)), IoResult::kOk);
  const std::string reply = readUntilClosed(fd, 5s);
  ::close(fd);
  EXPECT_EQ(h2frames::findGoaway(reply), static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

// A `tls:` listener (TetherInstance writes plaintext ones only): the generated config plus a tls map.
class TlsTether {
 public:
  explicit TlsTether(const TestUpstream& upstream) : dir_(tempDir()) {
    const std::string cert = dir_ + "/cert.pem";
    const std::string key = dir_ + "/key.pem";
    Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"});
    if (openssl.waitExit(20s) != 0) throw std::runtime_error("openssl failed: " + openssl.output());
    port_ = freePort();
    uint16_t admin = freePort();
    while (admin == port_) admin = freePort();
    std::string yaml =
        TetherInstance::configYaml(TetherOptions::proxyTo({upstream.address()}), port_, admin, dir_ + "/tether.log");
    const std::string address_line = "    address: 127.0.0.1:" + std::to_string(port_) + "\n";
    yaml.insert(yaml.find(address_line) + address_line.size(),
                "    tls: {cert: \"" + cert + "\", key: \"" + key + "\"}\n");
    std::ofstream(dir_ + "/tether.yaml") << yaml;
    process_ = std::make_unique<Process>(std::vector<std::string>{TETHER_BINARY, "--config", dir_ + "/tether.yaml"});
    const auto deadline = deadlineAfter(10s);
    while (Clock::now() < deadline && process_->running()) {
      const int fd = connectLoopback(port_, deadlineAfter(200ms));
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(20ms);  // not listening yet: the bound is the deadline
    }
    throw std::runtime_error("tether did not start:\n" + process_->output());
  }
  ~TlsTether() { EXPECT_EQ(process_->stop(SIGTERM), 0) << process_->output(); }
  uint16_t port() const { return port_; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

TEST(ProtocolEdges, H2TlsClientWithAlpnH2AndAnInvalidPreface_GetsGoawayProtocolError) {
  TestUpstream upstream;
  TlsTether tether(upstream);
  const int fd = connectLoopback(tether.port(), deadlineAfter(5s));
  ASSERT_GE(fd, 0);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // OpenSSL's blocking calls; SO_RCVTIMEO bounds them
  const timeval bound{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  SSL_set_fd(ssl.get(), fd);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);  // blocking socket: the handshake completes here
  const unsigned char* chosen = nullptr;
  unsigned int chosen_length = 0;
  SSL_get0_alpn_selected(ssl.get(), &chosen, &chosen_length);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(chosen), chosen_length), "h2");

  const std::string http1 = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";  // not the HTTP/2 preface
  ASSERT_EQ(SSL_write(ssl.get(), http1.data(), static_cast<int>(http1.size())), static_cast<int>(http1.size()));
  std::string reply;
  char buf[4096];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.find("HTTP/1.1"), std::string::npos) << reply;
  EXPECT_EQ(h2frames::findGoaway(reply), static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(upstream.requests().size(), 0u);
}

}  // namespace
}  // namespace tether::testing
