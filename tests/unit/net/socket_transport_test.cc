// SocketTransport on real loopback TCP sockets: edge-triggered reading must never lose bytes, FIN or RST across
// pauses and a full input buffer, and a half-closed peer must still receive everything written.

#include "net/socket_transport.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/run_loop.h"
#include "support/tcp_pair.h"

namespace tether::net {
namespace {

using namespace std::chrono_literals;

using testing::TcpPair;

// Records what the transport reports; consumes input only when told to.
struct Recorder : TransportCallbacks {
  void onReadable() override {
    ++readable;
    if (consume) {
      const size_t n = evbuffer_get_length(transport->input());
      consumed += n;
      evbuffer_drain(transport->input(), n);
    }
  }
  void onDrained() override { ++drained; }
  void onPeerGone(bool reset) override {
    gone = true;
    gone_reset = reset;
  }
  void onHangup() override { ++hangups; }
  void onConnected() override { connected = true; }

  Transport* transport = nullptr;
  bool consume = true;
  size_t consumed = 0;
  int readable = 0;
  int drained = 0;
  int hangups = 0;
  bool gone = false;
  bool gone_reset = false;
  bool connected = false;
};

// The server side of a fresh pair in a transport, started with a recorder.
struct Started {
  explicit Started(event_base* base) : transport(base, pair.server) {
    rec.transport = &transport;
    transport.start(rec);
  }
  TcpPair pair;
  SocketTransport transport;
  Recorder rec;
};

class SocketTransportTest : public ::testing::Test {
 protected:
  template <typename Pred>
  bool runUntil(Pred done) {
    return testing::runLoopUntil(base_.get(), done);
  }

  util::EventBasePtr base_{event_base_new()};
};

TEST_F(SocketTransportTest, StopsAtTheReadHighWatermarkAndLosesNothingAfterward) {
  TcpPair pair;
  SocketTransport transport(base_.get(), pair.server);
  Recorder rec;
  rec.transport = &transport;
  rec.consume = false;
  transport.setWatermarks(8 * 1024, 0);
  transport.start(rec);
  const std::string payload(100 * 1024, 'x');
  std::thread writer(
      [&] { ASSERT_EQ(::send(pair.client, payload.data(), payload.size(), 0), ssize_t(payload.size())); });
  ASSERT_TRUE(runUntil([&] { return evbuffer_get_length(transport.input()) >= 8 * 1024; }));
  // A sleep on purpose: the claim is an absence (nothing more is read past the watermark), given time to happen.
  std::this_thread::sleep_for(50ms);
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(evbuffer_get_length(transport.input()), 8u * 1024);  // the watermark holds
  // No new edge will come for the bytes already in the socket: wake() must read them.
  rec.consume = true;
  transport.wake();
  EXPECT_TRUE(runUntil([&] { return rec.consumed == payload.size(); })) << rec.consumed;
  writer.join();
  EXPECT_FALSE(rec.gone);
}

TEST_F(SocketTransportTest, BytesAndFinArrivingWhilePausedAreReadOnResume) {
  Started started(base_.get());
  auto& [pair, transport, rec] = started;
  transport.setReading(false);
  ASSERT_EQ(::send(pair.client, "hello", 5, 0), 5);
  ::shutdown(pair.client, SHUT_WR);
  ASSERT_TRUE(runUntil([&] { return rec.hangups > 0; }));  // noticed while paused, nothing read
  EXPECT_EQ(rec.consumed, 0u);
  EXPECT_TRUE(transport.hangupSeen());
  transport.setReading(true);
  ASSERT_TRUE(runUntil([&] { return rec.gone; }));
  EXPECT_EQ(rec.consumed, 5u);
  EXPECT_FALSE(rec.gone_reset);
}

TEST_F(SocketTransportTest, ResetWhilePausedIsReportedAsHangupWithPeerStateReset) {
  Started started(base_.get());
  auto& [pair, transport, rec] = started;
  transport.setReading(false);
  ASSERT_TRUE(runUntil([&] { return true; }));
  pair.resetClient();
  ASSERT_TRUE(runUntil([&] { return rec.hangups > 0; }));
  EXPECT_EQ(transport.peerState(), PeerState::kReset);
}

TEST_F(SocketTransportTest, AfterTheClientsFinEverythingWrittenStillArrives) {
  Started started(base_.get());
  auto& [pair, transport, rec] = started;
  ::shutdown(pair.client, SHUT_WR);
  ASSERT_TRUE(runUntil([&] { return rec.gone; }));
  EXPECT_FALSE(rec.gone_reset);
  // More than the socket buffers hold: the transport must wait for EPOLLOUT and finish the write.
  const std::string body(8 * 1024 * 1024, 'y');
  evbuffer_add(transport.output(), body.data(), body.size());
  transport.scheduleFlush();
  size_t received = 0;
  std::thread reader([&] {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(pair.client, buf, sizeof(buf), 0);
      if (n <= 0) break;
      received += static_cast<size_t>(n);
      if (received == body.size()) break;
    }
  });
  EXPECT_TRUE(runUntil([&] { return transport.pendingOutput() == 0; }));
  reader.join();
  EXPECT_EQ(received, body.size());
  EXPECT_GE(rec.drained, 1);
}

TEST_F(SocketTransportTest, ConnectReportsConnectedOrRefused) {
  TcpPair pair;
  auto ok = SocketTransport::connect(base_.get(), *SocketAddress::parse("127.0.0.1:" + std::to_string(pair.port)));
  ASSERT_TRUE(ok);
  Recorder ok_rec;
  ok_rec.transport = ok.get();
  ok->start(ok_rec);
  evbuffer_add(ok->output(), "ping", 4);
  ok->scheduleFlush();  // queued while connecting: written once connected
  ASSERT_TRUE(runUntil([&] { return ok_rec.connected; }));
  const int accepted = ::accept(pair.listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  char buf[8] = {};
  EXPECT_EQ(::recv(accepted, buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ::close(accepted);

  const uint16_t closed_port = pair.port;
  ::close(pair.listener);
  pair.listener = ::socket(AF_INET, SOCK_STREAM, 0);  // keeps the destructor's close harmless
  auto refused =
      SocketTransport::connect(base_.get(), *SocketAddress::parse("127.0.0.1:" + std::to_string(closed_port)));
  ASSERT_TRUE(refused);
  Recorder refused_rec;
  refused_rec.transport = refused.get();
  refused->start(refused_rec);
  ASSERT_TRUE(runUntil([&] { return refused_rec.gone; }));
  EXPECT_TRUE(refused_rec.gone_reset);
  EXPECT_FALSE(refused_rec.connected);
}

TEST_F(SocketTransportTest, EmptyBuffersGoBackToThePoolBetweenExchanges) {
  TcpPair pair;
  IoContext io(base_.get());
  BufferPool& pool = io.buffers;
  SocketTransport transport(base_.get(), pair.server, &io);
  struct Echo : Recorder {
    void onReadable() override {
      Recorder::onReadable();
      evbuffer_add(transport->output(), "pong", 4);
      transport->scheduleFlush();
    }
  } rec;
  rec.transport = &transport;
  transport.start(rec);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(::send(pair.client, "ping", 4, 0), 4);
    char buf[8] = {};
    ASSERT_EQ(::recv(pair.client, buf, sizeof(buf), MSG_DONTWAIT), -1);  // nothing before the loop runs
    ASSERT_TRUE(runUntil([&] { return pool.spare() == 2 && transport.pendingOutput() == 0 && rec.readable > round; }));
    EXPECT_EQ(::recv(pair.client, buf, sizeof(buf), 0), 4);
    EXPECT_EQ(std::string(buf, 4), "pong");
  }
  EXPECT_EQ(rec.consumed, 12u);
}

TEST_F(SocketTransportTest, TheOwnerMayDestroyTheTransportFromItsCallback) {
  TcpPair pair;
  auto transport = std::make_unique<SocketTransport>(base_.get(), pair.server);
  struct Destroyer : TransportCallbacks {
    void onReadable() override { owned->reset(); }
    void onDrained() override {}
    void onPeerGone(bool) override { owned->reset(); }
    std::unique_ptr<SocketTransport>* owned = nullptr;
  } destroyer;
  destroyer.owned = &transport;
  transport->start(destroyer);
  ASSERT_EQ(::send(pair.client, "abc", 3, 0), 3);
  ASSERT_TRUE(runUntil([&] { return transport == nullptr; }));  // ASan would catch a use after free
  char byte;
  EXPECT_EQ(::recv(pair.client, &byte, 1, 0), 0);  // the socket was closed
}

}  // namespace
}  // namespace tether::net
