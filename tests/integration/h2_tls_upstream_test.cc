// HTTP/2 over TLS upstreams (`protocol: h2`) on the real binary: a TlsFront offering ALPN h2 in front of an
// H2TestUpstream, certificates from a test CA. Bodies arrive byte-exact for HTTP/1.1 and h2c clients with :scheme
// https, sequential requests share one TLS connection, a client that leaves resets only its stream
// (RST_STREAM CANCEL), and a server that does not select h2 or whose certificate does not verify is a TLS failure:
// 502 and one upstream_tls_failed line.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/any_client.h"
#include "support/h2_test_upstream.h"
#include "support/test_env.h"
#include "support/test_pki.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"
#include "support/tls_front.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Hold = H2TestUpstream::Reply::Hold;

constexpr auto kBound = 30s;  // only a failing test waits this long

// /hold... is held until the stream is reset; /echo answers the request body; anything else "hello <path> <scheme>".
H2TestUpstream::Reply reply(const H2Request& request) {
  H2TestUpstream::Reply reply;
  if (request.path.starts_with("/hold")) {
    reply.hold = Hold::kBeforeHeaders;
  } else if (request.path == "/echo") {
    reply.body = request.body;
  } else {
    reply.body = "hello " + request.path + " " + request.scheme;
  }
  return reply;
}

// One PKI for the whole suite: openssl takes a while per key.
class H2TlsUpstream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = std::make_unique<TestPki>(makeTestPki(tempDir())); }
  static void TearDownTestSuite() { pki_.reset(); }

  void SetUp() override { upstream_.setHandler(reply); }

  // A TLS front for the H2TestUpstream that selects one of `alpn`.
  std::unique_ptr<TlsFront> front(std::vector<std::string> alpn = {"h2"}) {
    return std::make_unique<TlsFront>(upstream_.port(),
                                      TlsFront::Options{pki_->server_cert, pki_->server_key, "", std::move(alpn)});
  }
  // `tls`: the upstream's `tls` map; empty: none (the defaults).
  static TetherOptions h2To(const TlsFront& front, const std::string& tls) {
    Settings settings{{"protocol", "h2"}, {"connect_timeout", "5s"}};
    if (!tls.empty()) settings.emplace_back("tls", tls);
    return TetherOptions::proxyTo({front.address()}, settings);
  }
  static std::string trustingTheTestCa() { return "{ca: \"" + pki_->ca + "\", server_name: localhost}"; }

  H2TestUpstream upstream_;
  static std::unique_ptr<TestPki> pki_;
};
std::unique_ptr<TestPki> H2TlsUpstream::pki_;

// A GET and a 300 KiB POST from each kind of client, then another GET: one TLS connection carries them all.
void getAndPost(const TetherInstance& tether, ClientProtocol protocol) {
  AnyClient client(protocol);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/a/b?c=d"));
  const auto get = client.readResponse();
  ASSERT_TRUE(get) << tether.dumpLog();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello /a/b?c=d https");

  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i) body += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(client.request("POST", "/echo", {}, body));
  const auto post = client.readResponse();
  ASSERT_TRUE(post) << tether.dumpLog();
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body.size(), body.size());
  EXPECT_TRUE(post->body == body);
}

TEST_F(H2TlsUpstream, GetAndPostFromHttp1AndH2cClientsShareOneTlsConnection) {
  const auto tls = front();
  TetherInstance tether(h2To(*tls, trustingTheTestCa()));
  getAndPost(tether, ClientProtocol::kH1);
  getAndPost(tether, ClientProtocol::kH2c);
  EXPECT_EQ(tls->handshakesCompleted(), 1);
  EXPECT_EQ(upstream_.acceptedConnections(), 1);
  const auto requests = upstream_.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const H2Request& request : requests) EXPECT_EQ(request.connection, 1) << request.path;
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

TEST_F(H2TlsUpstream, ClientLeavingResetsOnlyItsStreamAndTheConnectionServesTheNext) {
  const auto tls = front();
  TetherInstance tether(h2To(*tls, trustingTheTestCa()));
  {
    AnyClient leaving(ClientProtocol::kH1);
    ASSERT_TRUE(leaving.connect(tether.port()));
    ASSERT_TRUE(leaving.request("GET", "/hold"));
    ASSERT_TRUE(upstream_.waitForRequests(1, kBound)) << tether.dumpLog();
    leaving.leave(Leave::kRst);
  }
  ASSERT_TRUE(upstream_.waitForResets(1, kBound)) << tether.dumpLog();
  const auto held = upstream_.requests().at(0);
  EXPECT_EQ(upstream_.resetsReceived(), (std::vector<H2ResetRecord>{{1, held.stream_id, NGHTTP2_CANCEL}}));
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "", 1, kBound);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(cancelled[0].str("upstream_protocol"), "h2");
  EXPECT_EQ(cancelled[0].str("upstream_reset"), "CANCEL");

  AnyClient next(ClientProtocol::kH2c);
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", "/after"));
  const auto response = next.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "hello /after https");
  EXPECT_EQ(upstream_.acceptedConnections(), 1);  // the connection outlived the cancelled stream
  EXPECT_EQ(tls->handshakesCompleted(), 1);
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u);
}

// One request that must fail at the TLS level: 502, one upstream_tls_failed line with `reason`, nothing reached
// the HTTP/2 server.
void expectTlsFailure(const TetherInstance& tether, const TlsFront& front, const H2TestUpstream& upstream,
                      const std::string& reason) {
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/bad"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 502);
  const auto lines = tether.waitForLogEvents("upstream_tls_failed", "", 1, kBound);
  ASSERT_EQ(lines.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(lines[0].str("level"), "warn");
  EXPECT_EQ(lines[0].str("upstream"), "backend");
  EXPECT_EQ(lines[0].str("endpoint"), front.address());
  EXPECT_EQ(lines[0].str("error"), reason);
  EXPECT_TRUE(upstream.streams().empty());
}

TEST_F(H2TlsUpstream, ServerWithoutH2_502AndOneTlsFailedLine) {
  const auto tls = front({"http/1.1"});
  TetherInstance tether(h2To(*tls, trustingTheTestCa()));
  expectTlsFailure(tether, *tls, upstream_, "ALPN: server did not select h2");
  // The handshake itself succeeded: the server counts it once it read tether's Finished, which may be after tether
  // logged the failure; a connection is counted closed only after a completed handshake.
  EXPECT_TRUE(tls->waitForClosed(1, kBound));
  EXPECT_EQ(tls->handshakesCompleted(), 1);
}

// Without a `tls` map, h2 verifies against the system's CAs, which do not know the test CA.
TEST_F(H2TlsUpstream, DefaultsVerifyAgainstTheSystemCas_UnknownCa502) {
  const auto tls = front();
  TetherInstance tether(h2To(*tls, ""));
  expectTlsFailure(tether, *tls, upstream_, "certificate verify failed: unable to get local issuer certificate");
  EXPECT_EQ(tls->handshakesCompleted(), 0);
}

TEST_F(H2TlsUpstream, WrongName_502) {
  const auto tls = front();
  TetherInstance tether(h2To(*tls, "{ca: \"" + pki_->ca + "\", server_name: other.example}"));
  expectTlsFailure(tether, *tls, upstream_, "certificate verify failed: hostname mismatch");
}

TEST_F(H2TlsUpstream, ClientCertificateIsPresentedWhenConfigured) {
  TlsFront tls(upstream_.port(), {pki_->server_cert, pki_->server_key, pki_->ca, {"h2"}});
  TetherInstance tether(h2To(tls, "{ca: \"" + pki_->ca + "\", server_name: localhost, certificate: \"" +
                                      pki_->client_cert + "\", key: \"" + pki_->client_key + "\"}"));
  getAndPost(tether, ClientProtocol::kH2c);
  EXPECT_EQ(tls.clientNames(), std::vector<std::string>{"tether-client"});
  EXPECT_EQ(upstream_.acceptedConnections(), 1);
}

TEST_F(H2TlsUpstream, UpstreamRequiringAClientCertificate_502WithoutOne) {
  TlsFront tls(upstream_.port(), {pki_->server_cert, pki_->server_key, pki_->ca, {"h2"}});
  TetherInstance tether(h2To(tls, trustingTheTestCa()));
  AnyClient client(ClientProtocol::kH2c);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/mtls"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 502);
  EXPECT_TRUE(tls.waitForHandshakesFailed(1, kBound));
  EXPECT_TRUE(upstream_.streams().empty());
}

// verify: false accepts a certificate for another name from an unknown issuer, and says so once at startup.
TEST_F(H2TlsUpstream, VerifyFalse_200AndAStartupWarning) {
  const CertificatePaths other = makeSelfSignedCertificate(tempDir());
  TlsFront tls(upstream_.port(), {other.cert, other.key, "", {"h2"}});
  TetherInstance tether(h2To(tls, "{server_name: other.example, verify: false}"));
  getAndPost(tether, ClientProtocol::kH1);
  const auto warnings = tether.logEvents("upstream_tls_unverified");
  ASSERT_EQ(warnings.size(), 1u) << tether.dumpLog();
  EXPECT_EQ(warnings[0].str("upstream"), "backend");
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

// Nothing listens: a refused connect, 502, and no TLS failure line (the TCP connect failed, not TLS).
TEST_F(H2TlsUpstream, RefusedConnect_502WithoutATlsFailedLine) {
  TetherInstance tether(TetherOptions::proxyTo({"127.0.0.1:" + std::to_string(freePort())}, {{"protocol", "h2"}}));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/refused"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 502);
  EXPECT_EQ(tether.waitForLogEvents("request_completed", "", 1, kBound).size(), 1u);
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

// An endpoint that never answers the ClientHello (a cleartext HTTP/1.1 server waiting for a request head): the
// handshake counts into connect_timeout (504), and that is a timeout, not a TLS failure.
TEST_F(H2TlsUpstream, HandshakeCountsIntoConnectTimeout) {
  TestUpstream silent;
  TetherInstance tether(TetherOptions::proxyTo(
      {silent.address()}, {{"protocol", "h2"}, {"tls", trustingTheTestCa()}, {"connect_timeout", "200ms"}}));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/silent"));
  const auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 504);
  EXPECT_EQ(silent.acceptedConnections(), 1);
  EXPECT_TRUE(tether.logEvents("upstream_tls_failed").empty()) << tether.dumpLog();
}

}  // namespace
}  // namespace tether::testing
