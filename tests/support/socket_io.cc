#include "support/socket_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tether::testing {
namespace {

int pollTimeoutMs(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

}  // namespace

void setNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

IoResult waitFor(int fd, short events, int wake_fd, Deadline deadline) {
  while (true) {
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = poll(fds, wake_fd >= 0 ? 2 : 1, pollTimeoutMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoResult::kClosed;
    if (wake_fd >= 0 && fds[1].revents != 0) return IoResult::kStopped;
    if (fds[0].revents & (POLLERR | POLLNVAL)) return IoResult::kClosed;
    if (fds[0].revents != 0) return IoResult::kOk;  // includes POLLHUP: the read/write reports it
    if (n == 0 && Clock::now() >= deadline) return IoResult::kTimeout;
  }
}

IoResult readSome(int fd, std::string& buf, int wake_fd, Deadline deadline) {
  char chunk[64 * 1024];
  while (true) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      return IoResult::kOk;
    }
    if (n == 0) return IoResult::kClosed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return IoResult::kClosed;
    const IoResult waited = waitFor(fd, POLLIN, wake_fd, deadline);
    if (waited == IoResult::kTimeout || waited == IoResult::kStopped) return waited;
    // Readable, or POLLERR: recv() delivers pending bytes first, then reports the error.
  }
}

IoResult writeAll(int fd, std::string_view data, int wake_fd, Deadline deadline) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return IoResult::kClosed;
    const IoResult waited = waitFor(fd, POLLOUT, wake_fd, deadline);
    if (waited != IoResult::kOk) return waited;
  }
  return IoResult::kOk;
}

int connectLoopback(uint16_t port, Deadline deadline) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  int err = errno;
  if (err == EINPROGRESS && waitFor(fd, POLLOUT, -1, deadline) == IoResult::kOk) {
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return fd;
  }
  ::close(fd);
  return -1;
}

void closeWithReset(int fd) {
  const linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

}  // namespace tether::testing
