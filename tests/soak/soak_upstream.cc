#include "soak/soak_upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "support/http_wire.h"
#include "support/socket_io.h"
#include "support/test_upstream.h"

namespace tether::soak {

using testing::Deadline;
using testing::IoResult;
using namespace std::chrono_literals;

const std::string& reference() {
  static const std::string bytes = testing::generatedBody(512 * 1024);
  return bytes;
}

void Arrivals::mark(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    arrived_.insert(id);
  }
  changed_.notify_all();
}

bool Arrivals::waitFor(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!changed_.wait_for(lock, timeout, [&] { return arrived_.count(id) > 0; })) return false;
  arrived_.erase(id);
  return true;
}

namespace {

struct Target {
  std::string id;
  std::string action;
  uint64_t size = 0;
};

// "/s/<id>/<action>/<size>"
std::optional<Target> parseTarget(const std::string& target) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= target.size() && parts.size() < 5) {
    const size_t slash = target.find('/', start);
    parts.push_back(target.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 4 || parts[0] != "s") return std::nullopt;
  return Target{parts[1], parts[2], std::strtoull(parts[3].c_str(), nullptr, 10)};
}

bool matchesReference(const std::string& body) {
  return body.size() <= reference().size() && std::memcmp(body.data(), reference().data(), body.size()) == 0;
}

// One connection: requests served in order until the peer (tether) closes or the server stops.
class Connection {
 public:
  Connection(int fd, int wake_fd, std::atomic<uint64_t>& mismatches, std::atomic<uint64_t>& held_too_long,
             Arrivals& arrivals)
      : fd_(fd), wake_fd_(wake_fd), mismatches_(mismatches), held_too_long_(held_too_long), arrivals_(arrivals) {}

  // False once the connection is to end.
  bool serveOne();

 private:
  bool readHead(testing::ParsedHead& head);
  bool readBody(const testing::HeaderList& headers, std::string& body);
  bool respond(const Target& target, const testing::HeaderList& extra);
  bool stall(const Target& target);
  bool holdUntilPeerLeaves();
  bool write(std::string_view data) {
    return testing::writeAll(fd_, data, wake_fd_, testing::deadlineAfter(60s)) == IoResult::kOk;
  }

  int fd_;
  int wake_fd_;
  std::atomic<uint64_t>& mismatches_;
  std::atomic<uint64_t>& held_too_long_;
  Arrivals& arrivals_;
  std::string in_;
};

bool Connection::readHead(testing::ParsedHead& head) {
  // Idle keep-alive connections wait here until tether's keepalive_idle_timeout closes them.
  const Deadline deadline = testing::deadlineAfter(600s);
  size_t end;
  for (int reads = 0; (end = in_.find("\r\n\r\n")) == std::string::npos; ++reads) {
    if (reads > 1000 || testing::readSome(fd_, in_, wake_fd_, deadline) != IoResult::kOk) return false;
  }
  auto parsed = testing::parseHead(std::string_view(in_).substr(0, end));
  in_.erase(0, end + 4);
  if (!parsed) return false;
  head = std::move(*parsed);
  return true;
}

bool Connection::readBody(const testing::HeaderList& headers, std::string& body) {
  const auto framing = testing::requestFraming(headers);
  if (!framing) return false;
  testing::BodyDecoder decoder(*framing);
  const Deadline deadline = testing::deadlineAfter(120s);
  for (int reads = 0; reads < 100000; ++reads) {
    if (decoder.consume(in_) == testing::BodyDecoder::Status::kError) return false;
    if (decoder.done()) {
      body = decoder.takeBody();
      return true;
    }
    // A client that left mid-body: tether closes this connection, which ends the read here.
    if (testing::readSome(fd_, in_, wake_fd_, deadline) != IoResult::kOk) return false;
  }
  return false;
}

bool Connection::serveOne() {
  testing::ParsedHead head;
  if (!readHead(head)) return false;
  const size_t sp1 = head.start_line.find(' ');
  const size_t sp2 = head.start_line.find(' ', sp1 + 1);
  const auto target =
      sp2 == std::string::npos ? std::nullopt : parseTarget(head.start_line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (!target) {
    write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return false;
  }
  // A `part` body never completes: the client waits for this mark, then leaves mid-body.
  if (target->action == "part") arrivals_.mark(target->id);
  std::string body;
  if (!readBody(head.headers, body)) return false;
  if (target->action == "wait") {
    arrivals_.mark(target->id);
    if (holdUntilPeerLeaves()) return false;
  }
  if (target->action == "stall") return stall(*target);
  testing::HeaderList extra;
  if (target->action == "post" || target->action == "part") {
    const bool ok = matchesReference(body);
    if (!ok) mismatches_.fetch_add(1);
    extra = {{"X-Body-Ok", ok ? "yes" : "no"}, {"X-Body-Bytes", std::to_string(body.size())}};
  }
  return respond(*target, extra);
}

bool Connection::respond(const Target& target, const testing::HeaderList& extra) {
  const uint64_t size = std::min<uint64_t>(target.size, reference().size());
  const bool chunked = size % 3 == 0;
  std::string out = "HTTP/1.1 200 OK\r\n";
  for (const auto& [name, value] : extra) out += name + ": " + value + "\r\n";
  out += chunked ? std::string("Transfer-Encoding: chunked\r\n") : "Content-Length: " + std::to_string(size) + "\r\n";
  out += "\r\n";
  const std::string_view body(reference().data(), size);
  if (!chunked) return write(out.append(body));
  // Chunks of varying sizes, so chunk boundaries fall anywhere in tether's reads.
  for (size_t at = 0, n = 1000; at < body.size(); at += n, n = n * 7 % 40000 + 1) {
    n = std::min(n, body.size() - at);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    out += size_line;
    out.append(body.substr(at, n));
    out += "\r\n";
  }
  out += "0\r\n\r\n";
  return write(out);
}

bool Connection::stall(const Target& target) {
  const uint64_t size = std::clamp<uint64_t>(target.size, kStallPiece + 1, reference().size());
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
  if (!write(head) || !write(std::string_view(reference().data(), kStallPiece))) return false;
  if (holdUntilPeerLeaves()) return false;
  return write(std::string_view(reference().data() + kStallPiece, size - kStallPiece));
}

// Holds the answer as slow work would. True once tether closed the connection (the cancellation reached the
// upstream); false if it held for kHold, counted: the client left long before, so a cancellation was missed.
bool Connection::holdUntilPeerLeaves() {
  const Deadline deadline = testing::deadlineAfter(kHold);
  std::string scratch;
  for (int reads = 0; reads < 1000; ++reads) {
    const IoResult r = testing::readSome(fd_, scratch, wake_fd_, deadline);
    if (r == IoResult::kClosed || r == IoResult::kStopped) return true;
    if (r == IoResult::kTimeout) break;
    scratch.clear();  // nothing is pipelined behind a request here; bytes would be a protocol error upstream
  }
  held_too_long_.fetch_add(1);
  return false;
}

}  // namespace

SoakUpstream::SoakUpstream() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || wake_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 1024) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("soak upstream: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

SoakUpstream::~SoakUpstream() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  accept_thread_.join();
  // Every connection thread polls the wake fd, so each ends at once; bounded in case one is stuck in a write.
  const Deadline deadline = testing::deadlineAfter(60s);
  while (threads_.load() > 0 && testing::Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  if (threads_.load() > 0) {
    std::fprintf(stderr, "soak upstream: %d connection threads did not stop\n", threads_.load());
    std::abort();  // they still use this object
  }
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void SoakUpstream::acceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    // Heads and bodies go out in separate writes (a stall): without this, Nagle holds the second for the
    // delayed ACK, 40 ms a request.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    accepted_.fetch_add(1);
    open_.fetch_add(1);
    threads_.fetch_add(1);
    std::thread([this, fd] { serve(fd); }).detach();
  }
}

void SoakUpstream::serve(int fd) {
  Connection connection(fd, wake_fd_, body_mismatches_, held_too_long_, arrivals_);
  for (int served = 0; served < 1000000 && connection.serveOne(); ++served) {
  }
  ::close(fd);
  open_.fetch_sub(1);
  threads_.fetch_sub(1);
}

bool SoakUpstream::waitForOpenConnections(int n, std::chrono::milliseconds timeout) const {
  const Deadline deadline = testing::deadlineAfter(timeout);
  while (open_.load() > n) {
    if (testing::Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace tether::soak
