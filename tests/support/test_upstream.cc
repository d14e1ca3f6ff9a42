#include "support/test_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "support/socket_io.h"

namespace tether::testing {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(1000);

std::string toHex(uint64_t n) {
  char buf[20];
  const int len = std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(n));
  return std::string(buf, static_cast<size_t>(len));
}

std::string encodeChunk(std::string_view data) {
  std::string out = toHex(data.size());
  out.append("\r\n").append(data).append("\r\n");
  return out;
}

bool bodyForbidden(int status) { return status / 100 == 1 || status == 204 || status == 304; }

// A handler that sets its own framing headers sends its body exactly as given.
bool framedByHandler(const TestUpstream::Reply& reply) {
  return findHeader(reply.headers, "Content-Length") || findHeader(reply.headers, "Transfer-Encoding");
}

}  // namespace

char generatedByte(uint64_t index) {
  // A hash rather than a short cycle, so a body shifted by any offset does not compare equal.
  uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return static_cast<char>('a' + x % 26);
}

std::string generatedBody(uint64_t n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (uint64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = generatedByte(i);
  return out;
}

// One accepted connection, served on its own thread until it closes or the server stops.
class TestUpstream::Session {
 public:
  Session(TestUpstream& owner, int fd, int connection) : owner_(owner), fd_(fd), connection_(connection) {}
  ~Session() { ::close(fd_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run();

 private:
  std::optional<RecordedRequest> readRequest();
  bool readHead(std::string& head);
  bool parseRequestLine(const std::string& line, RecordedRequest& request);
  bool readBody(RecordedRequest& request, Framing framing);
  bool respond(const RecordedRequest& request, const Reply& reply);
  std::string buildHead(const Reply& reply, bool close) const;
  std::string framedBody(const Reply& reply) const;
  bool streamBody(const Reply& reply);
  bool upgrade(const RecordedRequest& request, const Reply& reply);
  bool work(std::chrono::milliseconds duration);
  bool peerStillThere();
  bool readMore();
  bool send(std::string_view data);
  bool sendFinal(std::string_view data);
  bool handleIo(IoResult result);
  void rejectRequest(int status);
  void finish();

  TestUpstream& owner_;
  int fd_;
  int connection_;
  std::string in_;      // received bytes not yet parsed
  bool ended_ = false;  // peer closed, or server stopping: nothing more to do
};

void TestUpstream::Session::run() {
  while (!ended_) {
    auto request = readRequest();
    if (!request) break;
    owner_.recordRequest(*request);
    Reply reply;
    try {
      reply = owner_.handle(*request);
    } catch (...) {
      reply = Reply();
      reply.status = 500;
      reply.body = "handler threw\n";
    }
    if (!respond(*request, reply)) break;
  }
  finish();
}

// Records an I/O outcome: a peer close is counted the moment it is seen. False unless kOk.
bool TestUpstream::Session::handleIo(IoResult result) {
  if (result == IoResult::kOk) return true;
  if ((result == IoResult::kClosed || result == IoResult::kStopped) && !ended_) {
    ended_ = true;
    if (result == IoResult::kClosed) owner_.recordClose();
  }
  return false;
}

bool TestUpstream::Session::readMore() {
  const size_t before = in_.size();
  const bool ok = handleIo(readSome(fd_, in_, owner_.wake_fd_, kNoDeadline));
  if (in_.size() > before) owner_.recordBytes(std::string_view(in_).substr(before));
  return ok;
}

bool TestUpstream::Session::send(std::string_view data) {
  return handleIo(writeAll(fd_, data, owner_.wake_fd_, kNoDeadline));
}

// Our side ends the connection: count it (unless the peer already did), send FIN, then drain
// briefly so unread input does not turn our close into an RST that could destroy the reply.
void TestUpstream::Session::finish() {
  if (ended_) return;
  ended_ = true;
  owner_.recordClose();
  shutdown(fd_, SHUT_WR);
  const Deadline deadline = deadlineAfter(kLingerTime);
  std::string discard;
  while (readSome(fd_, discard, owner_.wake_fd_, deadline) == IoResult::kOk) discard.clear();
}

void TestUpstream::Session::rejectRequest(int status) {
  send("HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
       "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

bool TestUpstream::Session::readHead(std::string& head) {
  while (true) {
    while (in_.size() >= 2 && in_.compare(0, 2, "\r\n") == 0) in_.erase(0, 2);  // RFC 9112 2.2
    const auto end = in_.find("\r\n\r\n");
    if (end != std::string::npos) {
      head = in_.substr(0, end);
      in_.erase(0, end + 4);
      return true;
    }
    if (in_.size() > kMaxHeadBytes) {
      rejectRequest(431);
      return false;
    }
    if (!readMore()) return false;
  }
}

bool TestUpstream::Session::parseRequestLine(const std::string& line, RecordedRequest& request) {
  const auto first = line.find(' ');
  const auto second = line.find(' ', first == std::string::npos ? first : first + 1);
  if (first == std::string::npos || second == std::string::npos || first == 0 || second == first + 1) {
    return false;
  }
  request.method = line.substr(0, first);
  request.target = line.substr(first + 1, second - first - 1);
  request.version = line.substr(second + 1);
  return request.version == "HTTP/1.1" || request.version == "HTTP/1.0";
}

std::optional<RecordedRequest> TestUpstream::Session::readRequest() {
  std::string head;
  if (!readHead(head)) return std::nullopt;
  auto parsed = parseHead(head);
  RecordedRequest request;
  request.connection = connection_;
  std::optional<Framing> framing;
  if (parsed && parseRequestLine(parsed->start_line, request)) {
    request.headers = std::move(parsed->headers);
    framing = requestFraming(request.headers);
  }
  if (!framing) {
    rejectRequest(400);
    return std::nullopt;
  }
  if (framing->kind != BodyFraming::kNone && request.version == "HTTP/1.1" &&
      headerHasToken(request.headers, "Expect", "100-continue") && !send("HTTP/1.1 100 Continue\r\n\r\n")) {
    return std::nullopt;
  }
  if (!readBody(request, *framing)) return std::nullopt;
  return request;
}

bool TestUpstream::Session::readBody(RecordedRequest& request, Framing framing) {
  BodyDecoder decoder(framing, RecordedRequest::kMaxKeptBody);
  while (true) {
    const auto status = decoder.consume(in_);
    if (status == BodyDecoder::Status::kDone) break;
    if (status == BodyDecoder::Status::kError) {
      rejectRequest(400);
      return false;
    }
    if (!readMore()) return false;
  }
  request.body_bytes = decoder.bodyBytes();
  request.trailers = decoder.trailers();
  request.body = decoder.takeBody();
  return true;
}

// Waits `duration` like a handler doing work, but watches the socket the whole time so a peer
// close is recorded immediately. False if the peer left (the reply is then abandoned).
bool TestUpstream::Session::work(std::chrono::milliseconds duration) {
  const Deadline deadline = deadlineAfter(duration);
  while (true) {
    const size_t before = in_.size();
    const IoResult result = readSome(fd_, in_, owner_.wake_fd_, deadline);  // keeps pipelined bytes
    if (in_.size() > before) owner_.recordBytes(std::string_view(in_).substr(before));
    if (result == IoResult::kTimeout) return true;
    if (!handleIo(result)) return false;
  }
}

bool TestUpstream::Session::peerStillThere() {
  const size_t before = in_.size();
  const IoResult result = readSome(fd_, in_, owner_.wake_fd_, Clock::now());
  if (in_.size() > before) owner_.recordBytes(std::string_view(in_).substr(before));
  return result == IoResult::kTimeout || handleIo(result);
}

bool TestUpstream::Session::respond(const RecordedRequest& request, const Reply& reply) {
  if (reply.delay.count() > 0 && !work(reply.delay)) return false;
  if (!reply.raw.empty()) return sendFinal(reply.raw) && !reply.close_after;
  if (reply.status == 101) return upgrade(request, reply);
  const bool http10_close =
      request.version == "HTTP/1.0" && !headerHasToken(request.headers, "Connection", "keep-alive");
  const bool close = reply.close_after || http10_close || headerHasToken(request.headers, "Connection", "close");
  const std::string head = buildHead(reply, close);
  const bool no_body = request.method == "HEAD" || bodyForbidden(reply.status);
  if (no_body || reply.stream_bytes == 0) {
    if (!sendFinal(no_body ? head : head + framedBody(reply))) return false;
  } else if (!send(head) || !streamBody(reply)) {
    return false;
  }
  return !close;
}

// Sends the last bytes of a reply. It is counted as served first, so a test that has read the
// whole reply always sees it counted.
bool TestUpstream::Session::sendFinal(std::string_view data) {
  owner_.recordServed();
  return send(data);
}

std::string TestUpstream::Session::buildHead(const Reply& reply, bool close) const {
  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reasonPhrase(reply.status) + "\r\n";
  for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
  if (!framedByHandler(reply) && !bodyForbidden(reply.status)) {
    const uint64_t length = reply.stream_bytes > 0 ? reply.stream_bytes : reply.body.size();
    head += reply.chunked ? std::string("Transfer-Encoding: chunked\r\n")
                          : "Content-Length: " + std::to_string(length) + "\r\n";
  }
  if (close && !findHeader(reply.headers, "Connection")) head += "Connection: close\r\n";
  return head + "\r\n";
}

// The reply body as it goes on the wire: verbatim, or chunk-encoded with trailers.
std::string TestUpstream::Session::framedBody(const Reply& reply) const {
  if (!reply.chunked || framedByHandler(reply)) return reply.body;
  std::string out = reply.body.empty() ? std::string() : encodeChunk(reply.body);
  return out + "0\r\n" + reply.trailers_raw + "\r\n";
}

// Sends stream_bytes generated bytes in stream_chunk pieces, checking between pieces whether the
// peer is still there, so a client leaving mid-download is noticed even with room in the buffers.
bool TestUpstream::Session::streamBody(const Reply& reply) {
  const size_t piece_size = reply.stream_chunk > 0 ? reply.stream_chunk : 16 * 1024;
  std::string piece;
  for (uint64_t sent = 0; sent < reply.stream_bytes;) {
    const bool keep_going =
        sent == 0 || (reply.stream_interval.count() > 0 ? work(reply.stream_interval) : peerStillThere());
    if (!keep_going) return false;
    const uint64_t n = std::min<uint64_t>(piece_size, reply.stream_bytes - sent);
    piece.resize(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) piece[static_cast<size_t>(i)] = generatedByte(sent + i);
    sent += n;
    if (reply.chunked) {
      if (!send(encodeChunk(piece))) return false;
    } else if (!(sent == reply.stream_bytes ? sendFinal(piece) : send(piece))) {
      return false;
    }
  }
  return !reply.chunked || sendFinal("0\r\n" + reply.trailers_raw + "\r\n");
}

// 101 Switching Protocols, then the connection is a raw byte pipe until the peer closes it.
bool TestUpstream::Session::upgrade(const RecordedRequest& request, const Reply& reply) {
  std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
  for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
  if (!findHeader(reply.headers, "Upgrade")) {
    head += "Upgrade: " + request.header("Upgrade").value_or("websocket") + "\r\n";
  }
  if (!findHeader(reply.headers, "Connection")) head += "Connection: Upgrade\r\n";
  if (!sendFinal(head + "\r\n")) return false;
  while (true) {
    if (!in_.empty() && reply.echo_after_upgrade && !send(in_)) return false;
    in_.clear();
    if (!readMore()) return false;
  }
}

TestUpstream::TestUpstream()
    : handler_([](const RecordedRequest& request) {
        Reply reply;
        if (request.header("Upgrade")) {
          reply.status = 101;
        } else {
          reply.body = "ok";
        }
        return reply;
      }) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (listen_fd_ < 0 || bind(listen_fd_, sa, len) != 0 || listen(listen_fd_, SOMAXCONN) != 0 ||
      getsockname(listen_fd_, sa, &len) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("TestUpstream: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

TestUpstream::~TestUpstream() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);  // wakes every poll()
  accept_thread_.join();
  std::list<Worker> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) worker.thread.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void TestUpstream::acceptLoop() {
  while (waitFor(listen_fd_, POLLIN, wake_fd_, kNoDeadline) == IoResult::kOk) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // out of fds: back off, retry
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    startSession(fd);
  }
}

void TestUpstream::startSession(int fd) {
  std::lock_guard lock(mu_);
  reapFinishedWorkers();
  const int connection = ++accepted_;
  Worker& worker = workers_.emplace_back();
  worker.thread = std::thread([this, fd, connection, &worker] {
    Session(*this, fd, connection).run();
    worker.done = true;
  });
  changed_.notify_all();
}

// Joins threads of connections that have ended, so long tests do not pile up idle threads.
void TestUpstream::reapFinishedWorkers() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = workers_.erase(it);
  }
}

TestUpstream::Reply TestUpstream::handle(const RecordedRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    handler = handler_;
  }
  return handler(request);
}

void TestUpstream::recordRequest(const RecordedRequest& request) {
  std::lock_guard lock(mu_);
  requests_.push_back(request);
  changed_.notify_all();
}

void TestUpstream::recordBytes(std::string_view bytes) {
  constexpr size_t kTail = 64 * 1024;
  std::lock_guard lock(mu_);
  bytes_received_ += bytes.size();
  received_tail_.append(bytes.substr(bytes.size() > kTail ? bytes.size() - kTail : 0));
  if (received_tail_.size() > kTail) received_tail_.erase(0, received_tail_.size() - kTail);
  changed_.notify_all();
}

bool TestUpstream::waitForReceivedEnding(std::string_view suffix, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return std::string_view(received_tail_).ends_with(suffix); });
}

uint64_t TestUpstream::bytesReceived() const {
  std::lock_guard lock(mu_);
  return bytes_received_;
}

bool TestUpstream::waitForBytesReceived(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return bytes_received_ >= n; });
}

void TestUpstream::recordServed() {
  std::lock_guard lock(mu_);
  ++served_;
  changed_.notify_all();
}

void TestUpstream::recordClose() {
  std::lock_guard lock(mu_);
  ++closed_;
  last_close_ = std::chrono::steady_clock::now();
  changed_.notify_all();
}

std::string TestUpstream::address() const { return "127.0.0.1:" + std::to_string(port_); }

int TestUpstream::acceptedConnections() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

int TestUpstream::closedConnections() const {
  std::lock_guard lock(mu_);
  return closed_;
}

int TestUpstream::requestsServed() const {
  std::lock_guard lock(mu_);
  return served_;
}

std::vector<RecordedRequest> TestUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void TestUpstream::setHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

bool TestUpstream::waitForConnectionClosed(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return closed_ >= n; });
}

bool TestUpstream::waitForRequests(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return static_cast<int>(requests_.size()) >= n; });
}

std::optional<std::chrono::steady_clock::time_point> TestUpstream::lastCloseTime() const {
  std::lock_guard lock(mu_);
  return last_close_;
}

}  // namespace tether::testing
