#include "support/raw_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace tether::testing {
namespace {

std::string takeAll(std::string& buf) {
  std::string out;
  out.swap(buf);
  return out;
}

// "HTTP/1.1 200 OK" -> version, status, reason (the reason phrase may be empty or absent).
bool parseStatusLine(const std::string& line, RawClient::Response& response) {
  const auto space = line.find(' ');
  if (space == std::string::npos || line.compare(0, 7, "HTTP/1.") != 0) return false;
  response.version = line.substr(0, space);
  const std::string_view rest = std::string_view(line).substr(space + 1);
  if (rest.size() < 3 || (rest.size() > 3 && rest[3] != ' ')) return false;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + 3, response.status);
  if (ec != std::errc() || ptr != rest.data() + 3 || response.status < 100) return false;
  response.reason = rest.size() > 4 ? std::string(rest.substr(4)) : std::string();
  return true;
}

}  // namespace

RawClient::~RawClient() { close(); }

bool RawClient::connect(uint16_t port, std::chrono::milliseconds timeout) {
  close();
  in_.clear();
  eof_ = false;
  fd_ = connectLoopback(port, deadlineAfter(timeout));
  if (fd_ < 0) return false;
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool RawClient::send(std::string_view data, std::chrono::milliseconds timeout) {
  return fd_ >= 0 && writeAll(fd_, data, -1, deadlineAfter(timeout)) == IoResult::kOk;
}

bool RawClient::fill(Deadline deadline) {
  if (fd_ < 0 || eof_) return false;
  errno = 0;
  const IoResult result = readSome(fd_, in_, -1, deadline);
  if (result == IoResult::kClosed) {
    eof_ = true;
    reset_ = errno == ECONNRESET;  // readSome returns at once on the failing recv: errno is still its
  }
  return result == IoResult::kOk;
}

std::string RawClient::recvSome(std::chrono::milliseconds timeout) {
  if (in_.empty()) fill(deadlineAfter(timeout));
  return takeAll(in_);
}

std::optional<RawClient::Response> RawClient::readResponse(std::chrono::milliseconds timeout, bool head_request) {
  const Deadline deadline = deadlineAfter(timeout);
  Response response;
  if (!readHead(response, deadline)) return std::nullopt;
  const auto framing = responseFraming(response.status, response.headers, head_request);
  if (!framing || !readBody(response, *framing, deadline)) return std::nullopt;
  return response;
}

bool RawClient::readHead(Response& response, Deadline deadline) {
  auto end = in_.find("\r\n\r\n");
  while (end == std::string::npos) {
    if (!fill(deadline)) return false;
    end = in_.find("\r\n\r\n");
  }
  response.head = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  auto parsed = parseHead(std::string_view(response.head).substr(0, end));
  if (!parsed || !parseStatusLine(parsed->start_line, response)) return false;
  response.headers = std::move(parsed->headers);
  return true;
}

bool RawClient::readBody(Response& response, Framing framing, Deadline deadline) {
  BodyDecoder decoder(framing);
  auto status = decoder.consume(in_);
  while (status == BodyDecoder::Status::kNeedMore) {
    if (fill(deadline)) {
      status = decoder.consume(in_);
    } else {
      status = eof_ ? decoder.finishAtEof() : BodyDecoder::Status::kError;
    }
  }
  if (status != BodyDecoder::Status::kDone) return false;
  response.chunked = framing.kind == BodyFraming::kChunked;
  response.trailers = decoder.trailers();
  response.body = decoder.takeBody();
  return true;
}

std::string RawClient::readUntilClosed(std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (fill(deadline)) {
  }
  return takeAll(in_);
}

bool RawClient::waitClosed(std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (fill(deadline)) {
  }
  return eof_;
}

void RawClient::closeWithRst() {
  if (fd_ < 0) return;
  closeWithReset(fd_);
  fd_ = -1;
}

void RawClient::shutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

void RawClient::close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

std::optional<RawClient::Response> fetchOnce(uint16_t port, std::string_view path, std::chrono::milliseconds timeout) {
  RawClient client;
  const std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  if (!client.connect(port, timeout) || !client.send(request, timeout)) return std::nullopt;
  return client.readResponse(timeout);
}

}  // namespace tether::testing
