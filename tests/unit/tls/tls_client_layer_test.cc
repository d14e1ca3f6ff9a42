// The client side of TLS (tls::connectTls, what upstream connections use) through net::Transport only, on real
// loopback sockets: against tether's own server side (acceptTls) in the same loop for the exchange and how each
// end leaves (close_notify, abortive close, the server's close_notify, FIN or RST mid-response), and against a
// raw socket that breaks the handshake off (FIN, RST), refuses the connect or shows a certificate with another name.

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "net/socket_address.h"
#include "net/transport.h"
#include "support/run_loop.h"
#include "support/tcp_pair.h"
#include "support/test_env.h"
#include "support/tls_client.h"
#include "tls/tls_client_context.h"
#include "tls/tls_context.h"
#include "tls/tls_layer.h"
#include "util/libevent.h"

namespace tether::tls {
namespace {

using testing::LoopbackListener;

// Records what a transport reports; keeps what it reads.
struct Recorder : net::TransportCallbacks {
  void onReadable() override {
    const size_t n = evbuffer_get_length(transport->input());
    const size_t had = received.size();
    received.resize(had + n);
    evbuffer_remove(transport->input(), received.data() + had, n);
  }
  void onDrained() override {}
  void onPeerGone(bool reset) override {
    gone = true;
    gone_reset = reset;
  }
  void onConnected() override { connected = true; }
  void onHandshakeFailed(std::string_view reason) override { failure = std::string(reason); }

  net::Transport* transport = nullptr;
  std::string received;
  bool connected = false;
  bool gone = false;
  bool gone_reset = false;
  std::string failure;
};

class TlsClientLayerTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    paths_ = testing::makeSelfSignedCertificate(testing::tempDir());
    std::string error;
    config::ListenerTls tls;
    tls.certificates.push_back({paths_.cert, paths_.key, {}, {}});
    server_context_ = TlsContext::load(tls, "test", nullptr, &error);
    ASSERT_NE(server_context_, nullptr) << error;
  }
  static void TearDownTestSuite() { server_context_.reset(); }

  // A client context trusting the test certificate, offering h2 then http/1.1 (what an `h2` pool offers first).
  static std::unique_ptr<TlsClientContext> clientContext() {
    config::UpstreamTls tls;
    tls.ca = paths_.cert;
    std::string error;
    auto context = TlsClientContext::load(tls, {"h2", "http/1.1"}, &error);
    EXPECT_NE(context, nullptr) << error;
    return context;
  }

  // A started client transport to `listener`, expecting a certificate for `host`.
  std::unique_ptr<net::SocketTransport> connect(const LoopbackListener& listener, const TlsClientContext& context,
                                                Recorder& rec, const std::string& host = "localhost") {
    auto transport = connectTls(base_.get(), listener.address(), context, {host, host}, nullptr);
    if (transport) {
      rec.transport = transport.get();
      transport->start(rec);
    }
    return transport;
  }
  // The server side of the next connection on `listener`, started with `rec`.
  std::unique_ptr<net::SocketTransport> accept(const LoopbackListener& listener, Recorder& rec) {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    EXPECT_GE(fd, 0);
    auto transport = acceptTls(base_.get(), fd, *server_context_, nullptr);
    rec.transport = transport.get();
    transport->start(rec);
    return transport;
  }

  template <typename Pred>
  bool runUntil(Pred done) {
    return testing::runLoopUntil(base_.get(), done);
  }

  // A client and a server transport with their handshake done and one request and response exchanged.
  struct Pair {
    LoopbackListener listener;
    std::unique_ptr<TlsClientContext> context = clientContext();
    Recorder client_rec, server_rec;
    std::unique_ptr<net::SocketTransport> client, server;
  };
  void exchange(Pair& pair) {
    ASSERT_NE(pair.context, nullptr);
    pair.client = connect(pair.listener, *pair.context, pair.client_rec);
    ASSERT_NE(pair.client, nullptr);
    // Queued while connecting: written once the handshake completed.
    evbuffer_add(pair.client->output(), "request", 7);
    pair.client->scheduleFlush();
    pair.server = accept(pair.listener, pair.server_rec);
    ASSERT_TRUE(runUntil([&] { return pair.server_rec.received == "request"; }));
    EXPECT_TRUE(pair.client_rec.connected);
    evbuffer_add(pair.server->output(), "response", 8);
    pair.server->scheduleFlush();
    ASSERT_TRUE(runUntil([&] { return pair.client_rec.received == "response"; }));
  }
  // How one side of an exchanged pair ends: closing its transport (close_notify, then FIN), a FIN without
  // close_notify, or an abortive close (RST).
  enum class End { kClose, kFin, kReset };
  // Ends the client's side (else the server's) as `end` says and runs until the other side reports its peer gone:
  // as a reset for kReset only, never as a handshake failure; after a close, its peer's state is kFin.
  void endAndExpect(Pair& pair, bool client_ends, End end) {
    std::unique_ptr<net::SocketTransport>& ending = client_ends ? pair.client : pair.server;
    const net::SocketTransport& other = client_ends ? *pair.server : *pair.client;
    const Recorder& other_rec = client_ends ? pair.server_rec : pair.client_rec;
    if (end == End::kFin) {
      ::shutdown(ending->fd(), SHUT_WR);
    } else {
      if (end == End::kReset) ending->abortiveClose();
      ending.reset();
    }
    ASSERT_TRUE(runUntil([&] { return other_rec.gone; }));
    EXPECT_EQ(other_rec.gone_reset, end == End::kReset);
    EXPECT_TRUE(other_rec.failure.empty());
    if (end == End::kClose) {
      EXPECT_EQ(other.peerState(), net::PeerState::kFin);
    }
  }

 protected:
  static testing::CertificatePaths paths_;
  static std::shared_ptr<const TlsContext> server_context_;
  util::EventBasePtr base_{event_base_new()};
};

testing::CertificatePaths TlsClientLayerTest::paths_;
std::shared_ptr<const TlsContext> TlsClientLayerTest::server_context_;

TEST_F(TlsClientLayerTest, HandshakesWithSniAndAlpnAndCarriesBytesBothWays) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  EXPECT_TRUE(pair.client->secure());
  EXPECT_TRUE(pair.client->alpnH2());
  EXPECT_TRUE(pair.server->alpnH2());
  EXPECT_TRUE(pair.client_rec.failure.empty());
  EXPECT_FALSE(pair.client_rec.gone);
}

TEST_F(TlsClientLayerTest, ClosingTheClientSendsCloseNotify) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  endAndExpect(pair, /*client_ends=*/true, End::kClose);
}

TEST_F(TlsClientLayerTest, AnAbortiveCloseOfTheClientIsAReset) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  endAndExpect(pair, /*client_ends=*/true, End::kReset);
}

// The upstream's side of a response's end: its close_notify (closing the server transport), a FIN without one, a RST.
TEST_F(TlsClientLayerTest, TheServersCloseNotifyIsAFinAfterTheData) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  evbuffer_add(pair.server->output(), "-tail", 5);
  pair.server->scheduleFlush();
  ASSERT_TRUE(runUntil([&] { return pair.client_rec.received == "response-tail"; }));
  endAndExpect(pair, /*client_ends=*/false, End::kClose);
}

TEST_F(TlsClientLayerTest, TheServersFinWithoutCloseNotifyIsAFin) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  endAndExpect(pair, /*client_ends=*/false, End::kFin);
}

TEST_F(TlsClientLayerTest, TheServersResetIsAReset) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(exchange(pair));
  endAndExpect(pair, /*client_ends=*/false, End::kReset);
}

TEST_F(TlsClientLayerTest, AnotherNameFailsVerificationWithTheX509Reason) {
  LoopbackListener listener;
  auto context = clientContext();
  Recorder rec, server_rec;
  auto client = connect(listener, *context, rec, "other.example");
  ASSERT_NE(client, nullptr);
  auto server = accept(listener, server_rec);
  ASSERT_TRUE(runUntil([&] { return !rec.failure.empty(); }));
  EXPECT_EQ(rec.failure, "certificate verify failed: hostname mismatch");
  EXPECT_FALSE(rec.connected);
  // The client's alert reached the server: its handshake failed too.
  ASSERT_TRUE(runUntil([&] { return server_rec.gone; }));
}

// A server that takes the ClientHello and leaves: with a FIN, OpenSSL's reason; with a RST, the socket's.
class HandshakeBreak : public TlsClientLayerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(HandshakeBreak, IsAHandshakeFailureWithItsReason) {
  const bool reset = GetParam();
  LoopbackListener listener;
  auto context = clientContext();
  Recorder rec;
  auto client = connect(listener, *context, rec);
  ASSERT_NE(client, nullptr);
  const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(fd, 0);
  char hello[4096];
  ASSERT_TRUE(runUntil([&] { return ::recv(fd, hello, sizeof(hello), MSG_PEEK) > 0; }));
  if (reset) {
    const linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(fd);
  } else {
    ::shutdown(fd, SHUT_WR);  // the ClientHello stays unread: a close would be a RST
  }
  ASSERT_TRUE(runUntil([&] { return !rec.failure.empty(); }));
  if (!reset) ::close(fd);
  EXPECT_EQ(rec.failure, reset ? "connection lost during the TLS handshake: Connection reset by peer"
                               : "unexpected eof while reading");
  EXPECT_FALSE(rec.connected);
  EXPECT_FALSE(rec.gone);
}

INSTANTIATE_TEST_SUITE_P(TlsClientLayer, HandshakeBreak, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "Reset" : "Fin"; });

TEST_F(TlsClientLayerTest, ARefusedConnectIsNotAHandshakeFailure) {
  int port = 0;
  {
    LoopbackListener closed;  // bound, then closed: nothing listens there
    port = closed.port;
  }
  auto context = clientContext();
  Recorder rec;
  auto client = connectTls(base_.get(), *net::SocketAddress::parse("127.0.0.1:" + std::to_string(port)), *context,
                           {"localhost", "localhost"}, nullptr);
  ASSERT_NE(client, nullptr);
  rec.transport = client.get();
  client->start(rec);
  ASSERT_TRUE(runUntil([&] { return rec.gone; }));
  EXPECT_TRUE(rec.gone_reset);
  EXPECT_TRUE(rec.failure.empty());
}

}  // namespace
}  // namespace tether::tls
