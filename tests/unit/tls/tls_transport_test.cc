// The server side of a TLS connection, through net::Transport only, on real loopback sockets with a blocking OpenSSL
// client in a thread: what socket_transport_test.cc asks of cleartext (nothing lost across a paused read or a full
// input buffer, FIN and RST noticed while paused, the owner may destroy the transport in its callback), plus the
// handshake phase (a client that leaves after its ClientHello) and back-pressure both ways.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "net/io_context.h"
#include "net/transport.h"
#include "support/run_loop.h"
#include "support/tcp_pair.h"
#include "support/test_env.h"
#include "support/tls_client.h"
#include "tls/tls_context.h"
#include "tls/tls_layer.h"
#include "util/libevent.h"

namespace tether::tls {
namespace {

using namespace std::chrono_literals;

using testing::TcpPair;

// A blocking OpenSSL client on the pair's client socket; its calls run in a thread while the test runs the loop.
class Client {
 public:
  Client(int fd, const char* alpn) : ctx_(SSL_CTX_new(TLS_client_method())), ssl_(SSL_new(ctx_.get())) {
    const std::string wire = std::string(1, static_cast<char>(std::strlen(alpn))) + alpn;
    SSL_set_alpn_protos(ssl_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
    SSL_set_fd(ssl_.get(), fd);
  }
  bool handshake() { return SSL_connect(ssl_.get()) == 1; }
  bool send(const std::string& data) {
    size_t written = 0;
    return SSL_write_ex(ssl_.get(), data.data(), data.size(), &written) == 1 && written == data.size();
  }
  // Reads until `n` bytes arrived or the connection ended; in pieces of at most `piece` bytes (a slow reader).
  std::string read(size_t n, size_t piece = 16384) {
    std::string out;
    std::string buf(piece, '\0');
    while (out.size() < n) {
      size_t got = 0;
      if (SSL_read_ex(ssl_.get(), buf.data(), std::min(piece, n - out.size()), &got) != 1) break;
      out.append(buf.data(), got);
    }
    return out;
  }
  // True when the next read finds the connection ended (close_notify or EOF), not data.
  bool readsEnd() { return readEnd() != SSL_ERROR_NONE; }
  // SSL_get_error of the next read: SSL_ERROR_ZERO_RETURN after a close_notify, SSL_ERROR_NONE if data came.
  int readEnd() {
    char byte;
    size_t got = 0;
    const int rc = SSL_read_ex(ssl_.get(), &byte, 1, &got);
    return rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
  }
  // One SSL_read: at most one record's plaintext.
  std::string readRecord() {
    std::string buf(64 * 1024, '\0');
    size_t got = 0;
    if (SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &got) != 1) return "";
    buf.resize(got);
    return buf;
  }
  SSL* ssl() { return ssl_.get(); }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  };
  struct SslFree {
    void operator()(SSL* p) const { SSL_free(p); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

// Records what the transport reports; consumes input only when told to.
struct Recorder : net::TransportCallbacks {
  void onReadable() override {
    ++readable;
    if (consume) {
      const size_t n = evbuffer_get_length(transport->input());
      consumed += n;
      if (keep != nullptr) {
        const size_t had = keep->size();
        keep->resize(had + n);
        evbuffer_remove(transport->input(), keep->data() + had, n);
      }
      evbuffer_drain(transport->input(), n);
    }
  }
  void onDrained() override { ++drained; }
  void onPeerGone(bool reset) override {
    gone = true;
    gone_reset = reset;
  }
  void onHangup() override { ++hangups; }

  net::Transport* transport = nullptr;
  bool consume = true;
  std::string* keep = nullptr;  // where consumed bytes go, if anywhere
  size_t consumed = 0;
  int readable = 0;
  int drained = 0;
  int hangups = 0;
  bool gone = false;
  bool gone_reset = false;
};

// The byte at offset `i` of a test payload: a misplaced or lost piece shows.
char patternByte(size_t i) { return static_cast<char>('a' + i % 23); }
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = patternByte(i);
  return s;
}

// A connection whose handshake is done (ALPN http/1.1): the pair, the server's transport with its recorder, the client.
struct Connected {
  TcpPair pair;
  std::unique_ptr<net::Transport> transport;
  Recorder rec;
  Client client{pair.client, "http/1.1"};
};

class TlsTransportTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    const auto paths = testing::makeSelfSignedCertificate(testing::tempDir());
    std::string error;
    config::ListenerTls tls;
    tls.certificates.push_back({paths.cert, paths.key, {}, {}});
    context_ = TlsContext::load(tls, "test", nullptr, &error);
    ASSERT_NE(context_, nullptr) << error;
  }
  static void TearDownTestSuite() { context_.reset(); }

  // The server side of `fd` as tether makes it for a `tls:` listener.
  std::unique_ptr<net::Transport> accept(int fd) { return acceptTls(base_.get(), fd, *context_, nullptr); }

  template <typename Pred>
  bool runUntil(Pred done) {
    return testing::runLoopUntil(base_.get(), done);
  }
  // Runs `step` (blocking client calls) in a thread while the loop runs; returns once it finished.
  template <typename Step>
  bool whileLooping(Step step) {
    std::atomic<bool> done{false};
    std::thread thread([&] {
      step();
      done = true;
    });
    const bool finished = runUntil([&] { return done.load(); });
    thread.join();
    return finished;
  }

  // A started transport with `rec`, its client's handshake done (false if it failed).
  bool connect(std::unique_ptr<net::Transport>& transport, int fd, Recorder& rec, Client& client) {
    transport = accept(fd);
    if (!transport) return false;
    rec.transport = transport.get();
    transport->start(rec);
    bool ok = false;
    return whileLooping([&] { ok = client.handshake(); }) && ok;
  }
  bool open(Connected& c) { return connect(c.transport, c.pair.server, c.rec, c.client); }

 protected:
  static std::shared_ptr<const TlsContext> context_;
  util::EventBasePtr base_{event_base_new()};
};

std::shared_ptr<const TlsContext> TlsTransportTest::context_;

TEST_F(TlsTransportTest, HandshakesWithAlpnAndCarriesBytesBothWays) {
  TcpPair pair;
  auto transport = accept(pair.server);
  ASSERT_TRUE(transport);
  Recorder rec;
  rec.transport = transport.get();
  rec.consume = false;
  transport->start(rec);
  Client client(pair.client, "h2");
  bool ok = false;
  ASSERT_TRUE(whileLooping([&] { ok = client.handshake() && client.send("hello"); }));
  ASSERT_TRUE(ok);
  ASSERT_TRUE(runUntil([&] { return evbuffer_get_length(transport->input()) == 5; }));
  EXPECT_TRUE(transport->secure());
  EXPECT_TRUE(transport->alpnH2());
  evbuffer_add(transport->output(), "world", 5);
  transport->scheduleFlush();
  std::string reply;
  ASSERT_TRUE(whileLooping([&] { reply = client.read(5); }));
  EXPECT_EQ(reply, "world");
  EXPECT_FALSE(rec.gone);
}

TEST_F(TlsTransportTest, StopsAtTheReadHighWatermarkAndLosesNothingAfterward) {
  TcpPair pair;
  auto transport = accept(pair.server);
  Recorder rec;
  rec.transport = transport.get();
  rec.consume = false;
  transport->setWatermarks(8 * 1024, 0);
  transport->start(rec);
  Client client(pair.client, "http/1.1");
  const std::string payload = pattern(100 * 1024);
  std::atomic<bool> sent{false};
  std::thread writer([&] { sent = client.handshake() && client.send(payload); });
  ASSERT_TRUE(runUntil([&] { return evbuffer_get_length(transport->input()) >= 8 * 1024; }));
  // A sleep on purpose: the claim is an absence (nothing much is read past the watermark), given time to happen.
  std::this_thread::sleep_for(50ms);
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_LE(evbuffer_get_length(transport->input()), 8u * 1024 + 16 * 1024);  // at most a record beyond
  // No new edge will come for the bytes already in the socket: wake() must read them.
  rec.consume = true;
  transport->wake();
  EXPECT_TRUE(runUntil([&] { return rec.consumed == payload.size(); })) << rec.consumed;
  writer.join();
  EXPECT_TRUE(sent);
  EXPECT_FALSE(rec.gone);
}

TEST_F(TlsTransportTest, BytesAndFinArrivingWhilePausedAreReadOnResume) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  transport->setReading(false);
  ASSERT_TRUE(client.send("hello"));
  ::shutdown(pair.client, SHUT_WR);                                // a FIN without close_notify
  ASSERT_TRUE(runUntil([&] { return transport->hangupSeen(); }));  // noticed while paused, nothing delivered
  EXPECT_EQ(rec.consumed, 0u);
  transport->setReading(true);
  ASSERT_TRUE(runUntil([&] { return rec.gone && rec.consumed == 5; })) << rec.consumed;
  EXPECT_FALSE(rec.gone_reset);
}

TEST_F(TlsTransportTest, ResetWhilePausedIsReportedAsHangupWithPeerStateReset) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  transport->setReading(false);
  ASSERT_TRUE(runUntil([&] { return true; }));
  pair.resetClient();
  ASSERT_TRUE(runUntil([&] { return transport->hangupSeen(); }));
  EXPECT_GT(rec.hangups, 0);
  EXPECT_EQ(transport->peerState(), net::PeerState::kReset);
}

TEST_F(TlsTransportTest, TheOwnerMayDestroyTheTransportFromItsCallback) {
  TcpPair pair;
  auto transport = accept(pair.server);
  struct Destroyer : net::TransportCallbacks {
    void onReadable() override { owned->reset(); }
    void onDrained() override {}
    void onPeerGone(bool) override { owned->reset(); }
    std::unique_ptr<net::Transport>* owned = nullptr;
  } destroyer;
  destroyer.owned = &transport;
  transport->start(destroyer);
  Client client(pair.client, "http/1.1");
  bool ok = false;
  ASSERT_TRUE(whileLooping([&] { ok = client.handshake() && client.send("abc"); }));
  ASSERT_TRUE(ok);
  ASSERT_TRUE(runUntil([&] { return transport == nullptr; }));  // ASan would catch a use after free
  EXPECT_EQ(client.readEnd(), SSL_ERROR_ZERO_RETURN);           // closed by tether: close_notify, then the FIN
}

TEST_F(TlsTransportTest, AnAbortiveCloseSendsNoCloseNotify) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  ASSERT_TRUE(client.send("x"));
  ASSERT_TRUE(runUntil([&] { return rec.consumed == 1; }));
  transport->abortiveClose();
  transport.reset();
  EXPECT_EQ(client.readEnd(), SSL_ERROR_SYSCALL);  // a reset, no alert before it
}

TEST_F(TlsTransportTest, AfterTheClientsFinEverythingWrittenStillArrives) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  ::shutdown(pair.client, SHUT_WR);  // no close_notify
  ASSERT_TRUE(runUntil([&] { return rec.gone; }));
  EXPECT_FALSE(rec.gone_reset);
  EXPECT_EQ(transport->peerState(), net::PeerState::kFin);
  const std::string body = pattern(8 * 1024 * 1024);
  evbuffer_add(transport->output(), body.data(), body.size());
  transport->scheduleFlush();
  std::string received;
  ASSERT_TRUE(whileLooping([&] { received = client.read(body.size()); }));
  EXPECT_TRUE(received == body) << received.size();
  EXPECT_TRUE(runUntil([&] { return transport->pendingOutput() == 0 && rec.drained > 0; }));
}

// A close_notify without a FIN (the socket stays open) ends the client's stream like a FIN: while reading it is
// reported at once, while paused the owner sees it in peerState() after the hangup, and the bytes before it stay.
TEST_F(TlsTransportTest, CloseNotifyWhileReadingIsAFin) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  ASSERT_TRUE(client.send("hello"));
  SSL_shutdown(client.ssl());
  ASSERT_TRUE(runUntil([&] { return rec.gone; }));
  EXPECT_FALSE(rec.gone_reset);
  EXPECT_EQ(rec.consumed, 5u);
  EXPECT_EQ(transport->peerState(), net::PeerState::kFin);
}

TEST_F(TlsTransportTest, CloseNotifyWhilePausedIsSeenInPeerState) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  transport->setReading(false);
  ASSERT_TRUE(client.send("hello"));
  SSL_shutdown(client.ssl());
  ASSERT_TRUE(runUntil([&] { return transport->peerState() == net::PeerState::kFin; }));
  EXPECT_TRUE(transport->hangupSeen());
  EXPECT_EQ(rec.consumed, 0u);
  EXPECT_FALSE(rec.gone);
  transport->setReading(true);
  ASSERT_TRUE(runUntil([&] { return rec.gone && rec.consumed == 5; })) << rec.consumed;
  EXPECT_FALSE(rec.gone_reset);
}

// The client asks for a key update mid-request: tether answers with its own and the exchange goes on.
TEST_F(TlsTransportTest, AKeyUpdateFromTheClientIsAnsweredAndTheExchangeGoesOn) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  ASSERT_EQ(SSL_version(client.ssl()), TLS1_3_VERSION);
  ASSERT_TRUE(client.send("GET / HT"));
  ASSERT_EQ(SSL_key_update(client.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
  ASSERT_TRUE(client.send("TP/1.1\r\n\r\n"));  // sends the KeyUpdate first, then this under the new key
  ASSERT_TRUE(runUntil([&] { return rec.consumed == 18; })) << rec.consumed;
  evbuffer_add(transport->output(), "HTTP/1.1 200 OK\r\n", 17);
  transport->scheduleFlush();
  std::string reply;
  ASSERT_TRUE(whileLooping([&] { reply = client.read(17); }));
  EXPECT_EQ(reply, "HTTP/1.1 200 OK\r\n");
  EXPECT_FALSE(rec.gone);
}

// A response appended in many pieces (evbuffer chains) leaves as one record, not one per piece.
TEST_F(TlsTransportTest, AResponseOfManyChainsLeavesInOneRecord) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  const std::string piece = pattern(900);
  std::string whole;
  for (int i = 0; i < 10; ++i) {
    evbuffer_add_reference(transport->output(), piece.data(), piece.size(), nullptr, nullptr);  // a chain each
    whole += piece;
  }
  transport->scheduleFlush();
  std::string record;
  ASSERT_TRUE(whileLooping([&] { record = client.readRecord(); }));
  EXPECT_EQ(record.size(), whole.size());
  EXPECT_TRUE(record == whole);
}

// A client that sends its ClientHello, then leaves before the handshake completes: the transport reports the peer
// gone (a reset as a reset, a FIN as a FIN) and never calls onReadable; an owner that destroys it then is safe.
class HandshakePhase : public TlsTransportTest, public ::testing::WithParamInterface<bool> {};

TEST_P(HandshakePhase, ClientLeavingAfterItsClientHelloIsReportedGone) {
  const bool rst = GetParam();
  TcpPair pair;
  auto transport = accept(pair.server);
  struct Owner : Recorder {
    void onPeerGone(bool reset) override {
      Recorder::onPeerGone(reset);
      owned->reset();
    }
    std::unique_ptr<net::Transport>* owned = nullptr;
  } owner;
  owner.transport = transport.get();
  owner.owned = &transport;
  transport->start(owner);
  {
    Client client(pair.client, "h2");
    BIO* in = BIO_new(BIO_s_mem());  // the server's answer is never read: the ClientHello is all that leaves
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(client.ssl(), in, out);
    ASSERT_EQ(SSL_connect(client.ssl()), -1);
    char* hello = nullptr;
    const long size = BIO_get_mem_data(out, &hello);
    ASSERT_GT(size, 0);
    ASSERT_EQ(::send(pair.client, hello, static_cast<size_t>(size), 0), size);
  }
  // The server's flight arrived once the socket has bytes to read: the ClientHello was handled.
  ssize_t peeked = 0;
  ASSERT_TRUE(whileLooping([&] {
    char byte;
    peeked = ::recv(pair.client, &byte, 1, MSG_PEEK);
  }));
  ASSERT_EQ(peeked, 1);
  if (rst) {
    pair.resetClient();
  } else {
    ::shutdown(pair.client, SHUT_WR);
  }
  ASSERT_TRUE(runUntil([&] { return transport == nullptr; }));
  EXPECT_EQ(owner.gone_reset, rst);
  EXPECT_EQ(owner.readable, 0);
}

INSTANTIATE_TEST_SUITE_P(RstOrFin, HandshakePhase, ::testing::Bool(),
                         [](const auto& leaving) { return leaving.param ? "Rst" : "Fin"; });

TEST_F(TlsTransportTest, FourMegabytesEachWayWithBackPressure) {
  Connected connected;
  ASSERT_TRUE(open(connected));
  auto& [pair, transport, rec, client] = connected;
  constexpr size_t kSize = 4 * 1024 * 1024;
  const std::string payload = pattern(kSize);
  // In: everything arrives, in order, through an input that stops at its watermark.
  transport->setWatermarks(64 * 1024, 64 * 1024);
  std::string received;
  rec.keep = &received;
  bool sent = false;
  ASSERT_TRUE(whileLooping([&] { sent = client.send(payload); }));
  ASSERT_TRUE(sent);
  ASSERT_TRUE(runUntil([&] { return received.size() == kSize; })) << received.size();
  EXPECT_TRUE(received == payload);
  // Out: far more than the socket buffers hold, read slowly (4 KiB at a time); onDrained once it is out.
  evbuffer_add(transport->output(), payload.data(), payload.size());
  transport->scheduleFlush();
  std::string back;
  ASSERT_TRUE(whileLooping([&] { back = client.read(kSize, 4096); }));
  EXPECT_TRUE(back == payload) << back.size();
  ASSERT_TRUE(runUntil([&] { return transport->pendingOutput() == 0 && rec.drained > 0; }));
  EXPECT_FALSE(rec.gone);
}

// OpenSSL's record buffers stay between keep-alive exchanges and are freed by the worker's sweep once the
// connection was idle for a sweep period; the next exchange allocates them again and loses nothing.
TEST_F(TlsTransportTest, RecordBuffersFreedWhileIdleComeBackForTheNextExchange) {
  net::IoContext io(base_.get());
  TcpPair pair;
  auto transport = acceptTls(base_.get(), pair.server, *context_, &io);
  ASSERT_TRUE(transport);
  Recorder rec;
  rec.transport = transport.get();
  std::string received;
  rec.keep = &received;
  transport->start(rec);
  Client client(pair.client, "http/1.1");
  bool ok = false;
  ASSERT_TRUE(whileLooping([&] { ok = client.handshake(); }));
  ASSERT_TRUE(ok);
  for (const std::string& request : {pattern(300), pattern(20 * 1024)}) {
    received.clear();
    ASSERT_TRUE(client.send(request));
    ASSERT_TRUE(runUntil([&] { return received.size() == request.size(); }));
    EXPECT_EQ(received, request);
    evbuffer_add(transport->output(), request.data(), request.size());
    transport->scheduleFlush();
    std::string reply;
    ASSERT_TRUE(whileLooping([&] { reply = client.read(request.size()); }));
    EXPECT_EQ(reply, request);
    // Emptied: listed until a whole sweep period passed without an exchange, then its buffers are freed.
    ASSERT_TRUE(runUntil([&] { return io.idle.holding() == 1; }));
    ASSERT_TRUE(runUntil([&] { return io.idle.holding() == 0; }));
  }
  EXPECT_FALSE(rec.gone);
}

}  // namespace
}  // namespace tether::tls
