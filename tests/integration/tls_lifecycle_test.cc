// A TLS client connection's life through the real binary, whatever transport serves it: a client that leaves during
// the handshake (after its ClientHello, with a RST or a FIN) costs nothing once gone (tether's descriptors back to
// what they were, no request line), and one connection carries many requests (HTTP/1.1 keep-alive, h2 streams).
// Real clients over https: openssl s_client (TLS 1.3, ALPN h2), h2load (every request succeeds), curl over HTTP/1.1
// killed mid-request (one request_cancelled). curl's bytes over both protocols: h2_tls_test.cc.

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "support/any_client.h"
#include "support/process.h"
#include "support/protocol_matrix.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

size_t openDescriptors(pid_t pid) {
  size_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    (void)entry;
    ++count;
  }
  return count;
}

// Polls `done` until it holds (false after 30 s, a bound only a failing test reaches).
template <typename Pred>
bool eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // poll interval
  }
  return true;
}

// Sends one ClientHello on `fd` (made by OpenSSL into a memory BIO: nothing is read back).
void sendClientHello(int fd) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  const unsigned char alpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl, alpn, sizeof alpn);
  SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  EXPECT_EQ(SSL_connect(ssl), -1);
  char* hello = nullptr;
  const long size = BIO_get_mem_data(SSL_get_wbio(ssl), &hello);
  ASSERT_GT(size, 0);
  EXPECT_EQ(::send(fd, hello, static_cast<size_t>(size), 0), size);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

class TlsHandshakeDeparture : public ::testing::TestWithParam<bool> {};

TEST_P(TlsHandshakeDeparture, ClientLeavingAfterItsClientHelloLeavesNothingBehind) {
  const bool rst = GetParam();
  TestUpstream upstream;
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), ClientProtocol::kH2Tls));
  // One whole request first, on a connection that stays open: every lazily opened descriptor (the upstream
  // connection, pooled) exists before the baseline.
  AnyClient warm(ClientProtocol::kH2Tls);
  ASSERT_TRUE(warm.connect(tether.port()));
  ASSERT_TRUE(warm.request("GET", "/warm"));
  ASSERT_TRUE(warm.readResponse());
  ASSERT_TRUE(eventually([&] { return tether.logLinesWith({"request_completed"}).size() == 1; }));
  const size_t baseline = openDescriptors(tether.pid());
  const int fd = connectLoopback(tether.port(), deadlineAfter(10s));
  ASSERT_GE(fd, 0);
  sendClientHello(fd);
  char byte;
  // tether answered: the handshake is in progress.
  ASSERT_EQ(waitFor(fd, POLLIN, -1, deadlineAfter(30s)), IoResult::kOk);
  ASSERT_EQ(::recv(fd, &byte, 1, MSG_PEEK), 1) << std::strerror(errno);
  if (rst) {
    closeWithReset(fd);
  } else {
    ::shutdown(fd, SHUT_WR);
    // tether closes its side: everything it sent, then the end of the stream (or a reset).
    std::string ignored;
    while (readSome(fd, ignored, -1, deadlineAfter(30s)) == IoResult::kOk) {
    }
    ::close(fd);
  }
  // tether had accepted the connection (it answered); it closed it once the client left.
  EXPECT_TRUE(eventually([&] { return openDescriptors(tether.pid()) == baseline; }))
      << openDescriptors(tether.pid()) << " open, " << baseline << " before";
  AnyClient after(ClientProtocol::kH2Tls);
  ASSERT_TRUE(after.connect(tether.port()));
  ASSERT_TRUE(after.request("GET", "/after"));
  ASSERT_TRUE(after.readResponse());
  ASSERT_TRUE(eventually([&] { return tether.logLinesWith({"request_completed"}).size() == 2; }));
  EXPECT_TRUE(tether.logLinesWith({"request_cancelled"}).empty());
}

INSTANTIATE_TEST_SUITE_P(RstOrFin, TlsHandshakeDeparture, ::testing::Bool(),
                         [](const auto& leaving) { return leaving.param ? "Rst" : "Fin"; });

class TlsManyRequests : public ::testing::TestWithParam<ClientProtocol> {};

TEST_P(TlsManyRequests, OneConnectionCarriesAThousandRequests) {
  TestUpstream upstream;
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), GetParam()));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(client.request("GET", "/r" + std::to_string(i))) << i;
    const auto response = client.readResponse();
    ASSERT_TRUE(response) << i;
    ASSERT_EQ(response->status, 200) << i;
  }
  EXPECT_FALSE(client.peerClosed());
}

INSTANTIATE_TEST_SUITE_P(Tls, TlsManyRequests, ::testing::Values(ClientProtocol::kH1Tls, ClientProtocol::kH2Tls),
                         protocolName);

std::string httpsUrl(uint16_t port, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

TEST(TlsRealClients, OpensslSClientNegotiatesTls13AndAlpnH2) {
  TestUpstream upstream;
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), ClientProtocol::kH2Tls));
  // stdin is /dev/null: s_client completes the handshake, reports it and leaves at the end of its input.
  Process client({"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(tether.port()), "-alpn",
                  "h2", "-tls1_3"});
  ASSERT_EQ(client.waitExit(30s), 0) << client.output();
  EXPECT_TRUE(client.waitForOutput("New, TLSv1.3, Cipher is", 30s)) << client.output();
  EXPECT_TRUE(client.waitForOutput("ALPN protocol: h2", 30s)) << client.output();
}

TEST(TlsRealClients, H2loadBoundedOverHttpsAllSucceed) {
  TestUpstream upstream;
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), ClientProtocol::kH2Tls));
  Process load({"/usr/bin/h2load", "-n", "200", "-c", "4", "-m", "10", httpsUrl(tether.port(), "/load")});
  ASSERT_EQ(load.waitExit(60s), 0) << load.output();
  EXPECT_TRUE(load.waitForOutput("200 succeeded, 0 failed, 0 errored", 30s)) << load.output();
  EXPECT_TRUE(load.waitForOutput("Application protocol: h2", 30s)) << load.output();
  EXPECT_EQ(tether.waitForLogLineCount({"\"request_completed\""}, 200, 30s), 200u);
}

TEST(TlsRealClients, CurlHttp11KilledMidRequestLogsOneCancellation) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    TestUpstream::Reply reply;
    if (request.target == "/slow") reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TetherInstance tether(forClient(TetherOptions::proxyTo({upstream.address()}), ClientProtocol::kH1Tls));
  Process curl({"/usr/bin/curl", "-sS", "-k", "--http1.1", httpsUrl(tether.port(), "/slow")});
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  curl.stop(SIGKILL);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  ASSERT_EQ(tether.waitForLogLineCount({"\"request_cancelled\""}, 1, 30s), 1u) << tether.dumpLog();
  // A later request's line comes after anything the cancelled one could still have logged: exactly one.
  Process after({"/usr/bin/curl", "-sS", "-k", "--http1.1", "-o", "/dev/null", httpsUrl(tether.port(), "/after")});
  ASSERT_EQ(after.waitExit(30s), 0) << after.output();
  ASSERT_EQ(tether.waitForLogLineCount({"\"request_completed\"", "/after"}, 1, 30s), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logLinesWith({"\"request_cancelled\""}).size(), 1u) << tether.dumpLog();
  EXPECT_EQ(tether.logLinesWith({"\"request_cancelled\"", "\"protocol\":\"http/1.1\""}).size(), 1u);
}

}  // namespace
}  // namespace tether::testing
