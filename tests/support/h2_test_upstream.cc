#include "support/h2_test_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "support/h2_test_upstream_connection.h"

namespace tether::testing {
namespace {

int listenLoopback(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (fd < 0 || bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0 || getsockname(fd, sa, &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("H2TestUpstream: cannot listen on 127.0.0.1");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

H2TestUpstream::H2TestUpstream() : H2TestUpstream(Options{}) {}

H2TestUpstream::H2TestUpstream(Options options)
    : options_(options), handler_([](const H2Request&) {
        Reply reply;
        reply.body = "ok";
        return reply;
      }) {
  listen_fd_ = listenLoopback(port_);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

H2TestUpstream::~H2TestUpstream() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void H2TestUpstream::run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    pollOnce();
  }
  live_.clear();
}

// One round: wait for sockets, the wake fd or the earliest slow-body timer, then serve every connection.
void H2TestUpstream::pollOnce() {
  std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
  std::optional<Connection::TimePoint> timer;
  for (const auto& conn : live_) {
    fds.push_back({conn->fd(), static_cast<short>(POLLIN | (conn->wantsWrite() ? POLLOUT : 0)), 0});
    const auto next = conn->nextTimer();
    if (next && (!timer || *next < *timer)) timer = next;
  }
  int timeout_ms = -1;
  if (timer) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*timer - std::chrono::steady_clock::now());
    timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
  }
  if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) return;
  if (fds[0].revents != 0) {
    uint64_t value = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &value, sizeof value);
  }
  if (fds[1].revents != 0) acceptAll();
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Connection>> keep;
  for (size_t i = 0; i < live_.size(); ++i) {
    Connection& conn = *live_[i];
    const short revents = i + 2 < fds.size() ? fds[i + 2].revents : 0;  // accepted this round: not polled yet
    bool alive = (revents & (POLLIN | POLLHUP | POLLERR)) == 0 || conn.onReadable();
    if (alive) conn.service(now);
    alive = alive && conn.flush() && !conn.finished();
    if (alive) {
      keep.push_back(std::move(live_[i]));
    } else {
      recordConnectionClosed(conn.id());
      live_[i].reset();
    }
  }
  live_ = std::move(keep);
}

void H2TestUpstream::acceptAll() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of fds: poll() reports the listener again
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int id = 0;
    {
      std::lock_guard lock(mu_);
      id = ++accepted_;
      connections_[id].id = id;
      changed_.notify_all();
    }
    live_.push_back(std::make_unique<Connection>(*this, fd, id));
  }
}

H2TestUpstream::Reply H2TestUpstream::handle(const H2Request& request) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    handler = handler_;
  }
  try {
    return handler(request);
  } catch (...) {
    Reply reply;
    reply.status = 500;
    reply.body = "handler threw\n";
    return reply;
  }
}

void H2TestUpstream::setHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::string H2TestUpstream::address() const { return "127.0.0.1:" + std::to_string(port_); }

void H2TestUpstream::release(int connection, int32_t stream_id) {
  {
    std::lock_guard lock(mu_);
    released_.insert({connection, stream_id});
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void H2TestUpstream::releaseAll() {
  {
    std::lock_guard lock(mu_);
    ++release_epoch_;
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

uint64_t H2TestUpstream::releaseEpoch() const {
  std::lock_guard lock(mu_);
  return release_epoch_;
}

bool H2TestUpstream::released(int connection, int32_t stream_id, uint64_t hold_epoch) const {
  std::lock_guard lock(mu_);
  return release_epoch_ > hold_epoch || released_.contains({connection, stream_id});
}

}  // namespace tether::testing
