// Http2UpstreamPool's acquire states on a real loop: requesters wait for the one connection being opened (pending,
// not queued) and all get a stream on it once it connects; a cancelled waiter is never answered and leaves the
// connect going; a refused connect answers ConnectRefused.

#include "upstream/http2_upstream_pool.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether::upstream {
namespace {

class Http2PoolHarness {
 public:
  // `listening`: the endpoint accepts (the kernel completes connects from the backlog); otherwise it refuses.
  explicit Http2PoolHarness(bool listening, size_t max_connections = 1)
      : base_(event_base_new()),
        deleter_(base_.get()),
        listener_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    if (listening) {
      EXPECT_EQ(::listen(listener_.get(), 64), 0);  // bound, not listening: connects are refused
    }
    EXPECT_EQ(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    config::Endpoint endpoint;
    endpoint.text = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    endpoint.addresses.push_back(*net::SocketAddress::parse(endpoint.text));
    config_.name = "backend";
    config_.endpoints.push_back(endpoint);
    config_.max_connections_per_endpoint = max_connections;
    config_.protocol = config::Upstream::Protocol::H2c;
    pool_ = std::make_unique<Http2UpstreamPool>(config_, base_.get(), deleter_);
  }
  ~Http2PoolHarness() {
    pool_.reset();
    deleter_.flush();
  }

  Http2UpstreamPool& pool() { return *pool_; }
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      timeval slice{0, 10 * 1000};
      event_base_loopexit(base_.get(), &slice);
      event_base_loop(base_.get(), EVLOOP_ONCE);
    }
    return true;
  }

 private:
  util::EventBasePtr base_;
  util::DeferredDeleter deleter_;
  util::FileDescriptor listener_;
  config::Upstream config_;
  std::unique_ptr<Http2UpstreamPool> pool_;
};

class Requester : public UpstreamRequester {
 public:
  void onUpstreamReady(UpstreamStream& stream) override {
    ++answers;
    this->stream = static_cast<Http2UpstreamStream*>(&stream);
  }
  void onUpstreamUnavailable(UpstreamError e) override {
    ++answers;
    error = e;
  }
  int answers = 0;
  Http2UpstreamStream* stream = nullptr;
  std::optional<UpstreamError> error;
};

TEST(Http2UpstreamPool, RequestersWaitForTheOneConnectionAndShareIt) {
  Http2PoolHarness harness(true);
  Requester a;
  Requester b;
  Requester c;
  AcquireHandle ha = harness.pool().acquire(a);
  AcquireHandle hb = harness.pool().acquire(b);
  AcquireHandle hc = harness.pool().acquire(c);
  for (const AcquireHandle* h : {&ha, &hb, &hc}) {
    EXPECT_TRUE(h->pending());
    EXPECT_FALSE(h->queued());  // connecting, not queued: the connection will carry them all
  }
  EXPECT_EQ(harness.pool().connectionCount(), 1u);
  ASSERT_TRUE(harness.runUntil([&] { return a.answers + b.answers + c.answers == 3; }));
  ASSERT_TRUE(a.stream && b.stream && c.stream);
  EXPECT_EQ(a.stream->connection(), b.stream->connection());
  EXPECT_EQ(b.stream->connection(), c.stream->connection());
  EXPECT_NE(a.stream, b.stream);
  EXPECT_FALSE(ha.pending());
  EXPECT_EQ(harness.pool().connectionCount(), 1u);
  for (Requester* r : {&a, &b, &c}) r->stream->abort(Outcome::ClientClosed);
}

TEST(Http2UpstreamPool, CancelledWaiterIsNeverAnsweredAndTheConnectGoesOn) {
  Http2PoolHarness harness(true);
  Requester a;
  Requester b;
  AcquireHandle ha = harness.pool().acquire(a);
  AcquireHandle hb = harness.pool().acquire(b);
  ha.cancel();
  EXPECT_FALSE(ha.pending());
  ASSERT_TRUE(harness.runUntil([&] { return b.answers == 1; }));
  EXPECT_EQ(a.answers, 0);
  ASSERT_NE(b.stream, nullptr);
  b.stream->release(true);
  // The stream comes back and the next acquire is served at once on the same connection.
  ASSERT_TRUE(harness.runUntil([&] { return true; }));
  Requester c;
  AcquireHandle hc = harness.pool().acquire(c);
  EXPECT_EQ(c.answers, 1);
  EXPECT_EQ(harness.pool().connectionCount(), 1u);
  if (c.stream) c.stream->abort(Outcome::ClientClosed);
}

TEST(Http2UpstreamPool, RefusedConnectAnswersConnectRefused) {
  Http2PoolHarness harness(false);
  Requester a;
  AcquireHandle ha = harness.pool().acquire(a);
  ASSERT_TRUE(harness.runUntil([&] { return a.answers == 1; }));
  ASSERT_TRUE(a.error.has_value());
  EXPECT_EQ(*a.error, UpstreamError::ConnectRefused);
  EXPECT_EQ(harness.pool().connectionCount(), 0u);
}

}  // namespace
}  // namespace tether::upstream
