#include "pool_harness.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tether::upstream {

PoolHarness::PoolHarness(const Options& options)
    : base_(event_base_new()),
      deleter_(base_.get()),
      listener_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::listen(listener_.get(), 64), 0);
  EXPECT_EQ(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  config::Endpoint endpoint;
  endpoint.text = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  endpoint.addresses.push_back(*net::SocketAddress::parse(endpoint.text));
  config_.name = "backend";
  config_.endpoints.push_back(endpoint);
  config_.max_connections_per_endpoint = options.max_connections_per_endpoint;
  config_.connect_timeout = options.connect_timeout;
  config_.queue_timeout = options.queue_timeout;
  pool_ = std::make_unique<UpstreamPool>(config_, base_.get(), deleter_);
}

PoolHarness::~PoolHarness() {
  pool_.reset();
  deleter_.flush();
}

bool PoolHarness::runUntil(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    timeval slice{0, 10 * 1000};  // wakes the loop to re-check `done` even when no event comes
    event_base_loopexit(base_.get(), &slice);
    event_base_loop(base_.get(), EVLOOP_ONCE);
  }
  return true;
}

int PoolHarness::acceptServerSide(std::chrono::milliseconds bound) {
  int fd = -1;
  runUntil([&] { return (fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0; }, bound);
  if (fd >= 0) accepted_.push_back(std::make_unique<util::FileDescriptor>(fd));
  return fd;
}

void RecordingRequester::onUpstreamReady(UpstreamStream& stream) {
  ++answers_;
  connection_ = static_cast<UpstreamConnection*>(&stream);  // this pool's streams are its HTTP/1.1 connections
  answered = std::chrono::steady_clock::now();
  log_.push_back(name_ + " ready");
}

void RecordingRequester::onUpstreamUnavailable(UpstreamError error) {
  ++answers_;
  error_ = error;
  answered = std::chrono::steady_clock::now();
  log_.push_back(name_ + " unavailable");
}

}  // namespace tether::upstream
