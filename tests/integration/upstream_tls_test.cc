// TLS to upstreams (`upstreams[].tls`): HTTP/1.1 over TLS to a TlsFront (a TLS terminator in front of a
// TestUpstream) with certificates from a test CA. Verification failures are connect failures (502, one
// upstream_tls_failed line); keep-alive, client certificates and cancellation work as over cleartext.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/tcp_pair.h"
#include "support/test_env.h"
#include "support/test_pki.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"
#include "support/tls_front.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

// One PKI for the whole suite: openssl takes a while per key.
class UpstreamTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = std::make_unique<TestPki>(makeTestPki(tempDir())); }
  static void TearDownTestSuite() { pki_.reset(); }

  static const TestPki& pki() { return *pki_; }
  static TlsFront::Options serverOptions() { return {pki().server_cert, pki().server_key, ""}; }
  // A flow map for the upstream's `tls` key.
  static std::string tlsWith(const std::string& keys) { return "{ca: \"" + pki().ca + "\"" + keys + "}"; }

  static std::unique_ptr<TestPki> pki_;
};
std::unique_ptr<TestPki> UpstreamTls::pki_;

RawClient::Response get(const TetherInstance& tether, const std::string& target, const std::string& id) {
  RawClient client;
  EXPECT_TRUE(client.connect(tether.port()));
  EXPECT_TRUE(client.send(getRequest(target, "X-Request-Id: " + id + "\r\n")));
  auto response = client.readResponse(30s);
  return response ? *response : RawClient::Response{};
}

TEST_F(UpstreamTls, SignedByTheCaFile_200WithTheBody) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    reply.body = "secure " + request.target;
    return reply;
  });
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  const auto response = get(tether, "/hello", "tls-ok");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "secure /hello");
  EXPECT_EQ(front.handshakesCompleted(), 1);
  EXPECT_EQ(front.clientNames(), std::vector<std::string>{""});  // no client certificate configured
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

// No server_name and an IP endpoint: no SNI, and the certificate must carry the address (IP:127.0.0.1 does).
TEST_F(UpstreamTls, IpEndpointIsVerifiedAgainstTheCertificatesAddress) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith("")}}));
  const auto response = get(tether, "/ip", "tls-ip");
  EXPECT_EQ(response.status, 200) << tether.dumpLog();
  EXPECT_EQ(response.body, "ok");
}

TEST_F(UpstreamTls, KeepAlive_TwoRequestsOneTlsConnection) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  for (const char* id : {"ka-1", "ka-2"}) {
    ASSERT_TRUE(client.send(getRequest("/again", std::string("X-Request-Id: ") + id + "\r\n")));
    const auto response = client.readResponse(30s);
    ASSERT_TRUE(response) << id;
    EXPECT_EQ(response->status, 200) << id;
  }
  EXPECT_EQ(front.handshakesCompleted(), 1);
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].connection, 1);
}

void expectTlsFailure(const TetherInstance& tether, const TlsFront& front, const std::string& id,
                      const std::string& reason) {
  const auto response = get(tether, "/bad", id);
  EXPECT_EQ(response.status, 502);
  const auto lines = tether.waitForLogEvents("upstream_tls_failed", "", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("level"), "warn");
  EXPECT_EQ(lines[0].str("upstream"), "backend");
  EXPECT_EQ(lines[0].str("endpoint"), front.address());
  EXPECT_EQ(lines[0].str("error"), reason);
  EXPECT_EQ(front.handshakesCompleted(), 0);
  const auto completed = tether.waitForLogEvents("request_completed", id, 1, 30s);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].integerAt("status"), 502);
}

TEST_F(UpstreamTls, WrongName_502AndOneTlsFailedLine) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: other.example")}}));
  expectTlsFailure(tether, front, "tls-name", "certificate verify failed: hostname mismatch");
  EXPECT_EQ(upstream.acceptedConnections(), 0);
}

TEST_F(UpstreamTls, UnknownCa_502AndOneTlsFailedLine) {
  TestUpstream upstream;
  // Signed by a CA tether was not told to trust: a self-signed certificate of its own.
  const CertificatePaths other = makeSelfSignedCertificate(tempDir());
  TlsFront front(upstream.port(), {other.cert, other.key, ""});
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  expectTlsFailure(tether, front, "tls-ca", "certificate verify failed: self-signed certificate");
}

// The failure backs the endpoint off like a refused connect: within failure_backoff the next request does not
// try a second handshake with an endpoint that has one to spare (two endpoints, one bad).
TEST_F(UpstreamTls, FailureBacksTheEndpointOff) {
  TestUpstream upstream;
  const CertificatePaths other = makeSelfSignedCertificate(tempDir());
  TlsFront bad(upstream.port(), {other.cert, other.key, ""});
  TlsFront good(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo(
      {bad.address(), good.address()}, {{"tls", tlsWith(", server_name: localhost")}, {"failure_backoff", "60s"}}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(get(tether, "/b", "backoff-" + std::to_string(i)).status, 200);
  EXPECT_TRUE(bad.waitForHandshakesFailed(1, 30s));
  EXPECT_EQ(bad.handshakesFailed(), 1);  // tried once (round-robin's first pick), then skipped
  EXPECT_EQ(tether.logEvents("upstream_tls_failed").size(), 1u);
}

// Nothing listening: a refused connect as over cleartext (502), not a TLS failure.
TEST_F(UpstreamTls, RefusedConnect_502WithoutATlsFailedLine) {
  TetherInstance tether(TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(freePort())},
                                               {{"tls", tlsWith(", server_name: localhost")}}));
  EXPECT_EQ(get(tether, "/refused", "tls-refused").status, 502);
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "tls-refused", 1, 30s).size(), 1u);
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

// An endpoint that accepts and closes at once, before answering the ClientHello, fails the handshake.
TEST_F(UpstreamTls, PeerClosingDuringTheHandshake_502AndOneTlsFailedLine) {
  LoopbackListener listener;
  std::thread closer([&listener] {
    const int fd = ::accept(listener.fd, nullptr, nullptr);
    if (fd >= 0) ::close(fd);
  });
  TetherInstance tether(
      TetherOptions::proxyTo({listener.address().toString()}, {{"tls", tlsWith(", server_name: localhost")}}));
  EXPECT_EQ(get(tether, "/closed", "tls-closed").status, 502);
  closer.join();
  const auto lines = tether.waitForLogEvents("upstream_tls_failed", "", 1, 30s);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  // A FIN if the close came before the ClientHello arrived, a reset if after (unread bytes).
  const std::string error = lines[0].str("error").value_or("");
  EXPECT_TRUE(error == "unexpected eof while reading" ||
              error == "connection lost during the TLS handshake: Connection reset by peer")
      << error;
}

// An endpoint that never answers the ClientHello (it speaks cleartext HTTP and waits for a request head): the
// handshake counts into connect_timeout (504), and that is a timeout, not a TLS failure.
TEST_F(UpstreamTls, HandshakeCountsIntoConnectTimeout) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo(
      {upstream.address()}, {{"tls", tlsWith(", server_name: localhost")}, {"connect_timeout", "200ms"}}));
  EXPECT_EQ(get(tether, "/silent", "tls-silent").status, 504);
  EXPECT_EQ(upstream.acceptedConnections(), 1);
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

TEST_F(UpstreamTls, VerifyFalse_200AndAStartupWarning) {
  TestUpstream upstream;
  const CertificatePaths other = makeSelfSignedCertificate(tempDir());
  TlsFront front(upstream.port(), {other.cert, other.key, ""});
  TetherInstance tether(
      TetherOptions::proxyTo({front.address()}, {{"tls", "{server_name: other.example, verify: false}"}}));
  EXPECT_EQ(get(tether, "/any", "tls-noverify").status, 200);
  const auto warnings = tether.logEvents("upstream_tls_unverified");
  ASSERT_EQ(warnings.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(warnings[0].str("level"), "warn");
  EXPECT_EQ(warnings[0].str("upstream"), "backend");
}

TEST_F(UpstreamTls, ClientCertificateIsPresentedWhenConfigured) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), {pki().server_cert, pki().server_key, pki().ca});
  TetherInstance tether(TetherOptions::proxyTo(
      {front.address()}, {{"tls", tlsWith(", server_name: localhost, certificate: \"" + pki().client_cert +
                                          "\", key: \"" + pki().client_key + "\"")}}));
  EXPECT_EQ(get(tether, "/mtls", "tls-client").status, 200);
  EXPECT_EQ(front.clientNames(), std::vector<std::string>{"tether-client"});
}

TEST_F(UpstreamTls, UpstreamRequiringAClientCertificate_502WithoutOne) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), {pki().server_cert, pki().server_key, pki().ca});
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  EXPECT_EQ(get(tether, "/mtls", "tls-noclient").status, 502);
  EXPECT_TRUE(front.waitForHandshakesFailed(1, 30s));
  EXPECT_EQ(upstream.acceptedConnections(), 0);
}

// Replies to /slow after a minute: only the close a cancellation causes ends such a request.
void answerSlowAfterAMinute(TestUpstream& upstream) {
  upstream.setHandler([](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    if (request.target == "/slow") reply.delay = 60s;  // ended by the close that the cancellation must cause
    return reply;
  });
}

// A client that sends GET /slow with X-Request-Id `id` and leaves once the upstream has its `n`th request: a
// cancellation while awaiting the response.
::testing::AssertionResult leaveAwaitingTheResponse(const TetherInstance& tether, TestUpstream& upstream,
                                                    const std::string& id, int n) {
  RawClient client;
  if (!client.connect(tether.port())) return ::testing::AssertionFailure() << "cannot connect to tether";
  if (!client.send(getRequest("/slow", "X-Request-Id: " + id + "\r\n"))) {
    return ::testing::AssertionFailure() << "cannot send " << id;
  }
  if (!upstream.waitForRequests(n, 30s)) return ::testing::AssertionFailure() << "the upstream has no request " << n;
  client.close();
  return ::testing::AssertionSuccess();
}

TEST_F(UpstreamTls, ClientLeavesWhileAwaitingTheResponse_TheTlsConnectionIsClosed) {
  TestUpstream upstream;
  answerSlowAfterAMinute(upstream);
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  ASSERT_TRUE(leaveAwaitingTheResponse(tether, upstream, "tls-cancel", 1));
  EXPECT_TRUE(front.waitForClosed(1, 30s)) << "tether kept the upstream TLS connection open";
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "tls-cancel", 1, 30s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("phase"), "awaiting_response");
  EXPECT_EQ(cancelled[0].str("reason"), "client_closed");
  EXPECT_EQ(upstream.requestsServed(), 0);
  // cancel_with's default: a reset, with no close_notify before it (a read-until-close body must not look complete).
  EXPECT_EQ(front.clientEnds(), std::vector<TlsFront::ClientEnd>{TlsFront::ClientEnd::kReset});
}

TEST_F(UpstreamTls, CancelWithFin_TheUpstreamGetsCloseNotify) {
  TestUpstream upstream;
  answerSlowAfterAMinute(upstream);
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()},
                                               {{"tls", tlsWith(", server_name: localhost")}, {"cancel_with", "fin"}}));
  ASSERT_TRUE(leaveAwaitingTheResponse(tether, upstream, "tls-cancel-fin", 1));
  ASSERT_TRUE(front.waitForClosed(1, 30s)) << "tether kept the upstream TLS connection open";
  EXPECT_EQ(front.clientEnds(), std::vector<TlsFront::ClientEnd>{TlsFront::ClientEnd::kCloseNotify});
  EXPECT_EQ(tether.waitForLogEvents("request_cancelled", "tls-cancel-fin", 1, 30s).size(), 1u) << tether.dumpLog();
}

// The upstream's end mid-head (its TLS side closes without close_notify, as TlsFront does when its backend closed)
// is a lost connection: 502, and not a TLS failure.
TEST_F(UpstreamTls, UpstreamClosingMidHead_502WithoutATlsFailedLine) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    TestUpstream::Reply reply;
    reply.raw = "HTTP/1.1 200 OK\r\nContent-Le";  // cut off mid-head, then closed
    reply.close_after = true;
    return reply;
  });
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()}, {{"tls", tlsWith(", server_name: localhost")}}));
  EXPECT_EQ(get(tether, "/cut", "tls-cut").status, 502);
  const auto completed = tether.waitForLogEvents("request_completed", "tls-cut", 1, 30s);
  ASSERT_EQ(completed.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(completed[0].integerAt("status"), 502);
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

// Polls until `pid` holds `n` descriptors (a closed descriptor has no event to wait for); false after 30 s.
bool descriptorsReturnTo(pid_t pid, int n) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (openDescriptors(pid) != n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // poll interval
  }
  return true;
}

// tether's descriptors come back to what they were after TLS upstream connections cancelled (reset) while awaiting
// a response. The baseline is taken after one whole request (no idle upstream connection kept), on a client
// connection that stays open: everything opened lazily or at startup exists, or is gone, by then.
TEST_F(UpstreamTls, CancelledTlsConnectionsLeaveNoDescriptorBehind) {
  TestUpstream upstream;
  answerSlowAfterAMinute(upstream);
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo(
      {front.address()}, {{"tls", tlsWith(", server_name: localhost")}, {"max_idle_connections_per_endpoint", "0"}}));
  RawClient warm;
  ASSERT_TRUE(warm.connect(tether.port()));
  ASSERT_TRUE(warm.send(getRequest("/warm", "X-Request-Id: fd-warm\r\n")));
  ASSERT_TRUE(warm.readResponse(30s));
  ASSERT_TRUE(front.waitForClosed(1, 30s));
  const int baseline = openDescriptors(tether.pid());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(leaveAwaitingTheResponse(tether, upstream, "fd-" + std::to_string(i), 1 + i));
    ASSERT_TRUE(front.waitForClosed(1 + i, 30s));
  }
  EXPECT_TRUE(descriptorsReturnTo(tether.pid(), baseline)) << openDescriptors(tether.pid()) << " vs " << baseline;
}

// The same after failed handshakes (the certificate names another host); the baseline follows a first failure.
TEST_F(UpstreamTls, FailedHandshakesLeaveNoDescriptorBehind) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo({front.address()},
                                               {{"tls", tlsWith(", server_name: other")}, {"failure_backoff", "1ms"}}));
  RawClient warm;
  ASSERT_TRUE(warm.connect(tether.port()));
  ASSERT_TRUE(warm.send(getRequest("/bad", "X-Request-Id: fd-warm\r\n")));
  ASSERT_TRUE(warm.readResponse(30s));
  ASSERT_EQ(tether.waitForLogEvents("upstream_tls_failed", "", 1, 30s).size(), 1u);
  const int baseline = openDescriptors(tether.pid());
  for (int i = 1; i <= 3; ++i) {
    const std::string id = "fd-bad-" + std::to_string(i);
    EXPECT_EQ(get(tether, "/bad", id).status, 502);
    ASSERT_EQ(tether.waitForLogEvents("upstream_tls_failed", "", 1 + i, 30s).size(), 1u + i) << tether.dumpLog();
  }
  EXPECT_TRUE(descriptorsReturnTo(tether.pid(), baseline)) << openDescriptors(tether.pid()) << " vs " << baseline;
}

// Without idle connections kept, each request opens a connection: the second offers the ticket the first was given.
TEST_F(UpstreamTls, TheNextConnectionToAnEndpointResumesItsSession) {
  TestUpstream upstream;
  TlsFront front(upstream.port(), serverOptions());
  TetherInstance tether(TetherOptions::proxyTo(
      {front.address()}, {{"tls", tlsWith(", server_name: localhost")}, {"max_idle_connections_per_endpoint", "0"}}));
  for (const char* id : {"resume-1", "resume-2", "resume-3"}) {
    EXPECT_EQ(get(tether, "/again", id).status, 200) << id;
  }
  EXPECT_EQ(front.handshakesCompleted(), 3);
  EXPECT_EQ(front.handshakesResumed(), 2);
  EXPECT_EQ(upstream.acceptedConnections(), 3);
}

TEST_F(UpstreamTls, Check_MissingCaFileExits1WithFileLineColumn) {
  const std::string dir = tempDir();
  const std::string path = dir + "/tls.yaml";
  std::ofstream(path) << "listeners:\n"
                         "  - {name: main, address: 127.0.0.1:0}\n"
                         "upstreams:\n"
                         "  - name: api\n"
                         "    endpoints: [\"127.0.0.1:5000\"]\n"
                         "    tls:\n"
                         "      ca: "
                      << dir
                      << "/missing-ca.pem\n"
                         "routes:\n"
                         "  - {name: all, match: {path_prefix: /}, upstream: api}\n";
  Process check({TETHER_BINARY, "--check", "--config", path});
  EXPECT_EQ(check.waitExit(10s), 1) << check.output();
  check.waitForOutput("error(s)");
  EXPECT_NE(check.output().find(path + ":7:11: upstreams[0].tls.ca: cannot load " + dir + "/missing-ca.pem"),
            std::string::npos)
      << check.output();
}

// A file the loader can read but OpenSSL cannot use fails --check too, as startup would.
TEST_F(UpstreamTls, Check_UnusableCaFileExits1) {
  const std::string dir = tempDir();
  std::ofstream(dir + "/ca.pem") << "not a certificate\n";
  const std::string path = dir + "/tls.yaml";
  std::ofstream(path) << "listeners:\n  - {name: main, address: 127.0.0.1:0}\nupstreams:\n  - name: api\n"
                         "    endpoints: [\"127.0.0.1:5000\"]\n    tls: {ca: "
                      << dir << "/ca.pem}\nroutes:\n  - {name: all, match: {path_prefix: /}, upstream: api}\n";
  Process check({TETHER_BINARY, "--check", "--config", path});
  EXPECT_EQ(check.waitExit(10s), 1) << check.output();
  check.waitForOutput("error(s)");
  EXPECT_NE(check.output().find("upstreams[0].tls: cannot load ca " + dir + "/ca.pem"), std::string::npos)
      << check.output();
}

}  // namespace
}  // namespace tether::testing
