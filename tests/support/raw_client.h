#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/http_wire.h"
#include "support/socket_io.h"

namespace tether::testing {

// Blocking-style TCP client to 127.0.0.1:<port> with a timeout on every operation, for driving
// the proxy byte by byte: raw requests, half-closes, resets, and HTTP/1.1 response parsing.
class RawClient {
 public:
  struct Response {
    int status = 0;
    std::string reason;
    std::string version;  // "HTTP/1.1"
    HeaderList headers;
    std::string body;      // decoded (de-chunked)
    std::string head;      // raw status line and header lines, including the final CRLFCRLF
    HeaderList trailers;   // of a chunked body
    bool chunked = false;  // body arrived chunked

    std::optional<std::string> header(std::string_view name) const { return findHeader(headers, name); }
  };

  // Generous: only a failing test waits this long; a busy machine must not fail a passing one.
  static constexpr std::chrono::milliseconds kDefaultTimeout{30000};

  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connect(uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout);
  bool isOpen() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes all of `data`; false on error, peer reset or timeout.
  bool send(std::string_view data, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Bytes already buffered, or the next bytes to arrive; "" on timeout or close.
  std::string recvSome(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Next complete response (a 1xx counts as one). Body framing by Content-Length, chunked or
  // until-close; pass head_request for replies to HEAD. nullopt on timeout, close or bad syntax;
  // the connection is then in an unknown state.
  std::optional<Response> readResponse(std::chrono::milliseconds timeout = kDefaultTimeout, bool head_request = false);
  // Everything (including already buffered bytes) until the peer closes or the timeout passes.
  std::string readUntilClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  // True once the peer has closed or reset; bytes arriving meanwhile stay buffered.
  bool waitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  bool peerClosed() const { return eof_; }
  bool peerReset() const { return reset_; }  // the close was a reset (ECONNRESET), not a FIN

  void closeWithRst();   // SO_LINGER 0, then close: the peer sees a reset
  void shutdownWrite();  // half-close: the peer sees EOF, we can still read
  void close();

 private:
  bool fill(Deadline deadline);  // reads more into in_; false on timeout or close
  bool readHead(Response& response, Deadline deadline);
  bool readBody(Response& response, Framing framing, Deadline deadline);

  int fd_ = -1;
  std::string in_;  // received, not yet consumed
  bool eof_ = false;
  bool reset_ = false;
};

// One GET of `path` on a fresh connection to `port` (Connection: close); nullopt if it fails or times out.
std::optional<RawClient::Response> fetchOnce(uint16_t port, std::string_view path,
                                             std::chrono::milliseconds timeout = RawClient::kDefaultTimeout);

}  // namespace tether::testing
