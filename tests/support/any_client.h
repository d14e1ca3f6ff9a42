#pragma once

// One client connection of any protocol tether serves, for tests that run the same scenario over HTTP/1.1, h2c,
// HTTP/1.1 over TLS and h2 over TLS: connect, send a request (head and body in parts), read the response, and leave
// the way the test needs (FIN, TCP reset, or an HTTP/2 RST_STREAM(CANCEL) of the request's stream).
//
// Single-threaded and blocking with a timeout on every call: nothing moves unless a call reads or writes. One request
// at a time: an HTTP/2 client opens a new stream (1, 3, 5, ...) for each request and reads the latest one.

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "support/http_wire.h"
#include "support/raw_client.h"
#include "support/tls_client.h"

namespace tether::testing {

enum class ClientProtocol { kH1, kH2c, kH1Tls, kH2Tls };

// "H1", "H2c", "H1Tls", "H2Tls": for test names.
const char* name(ClientProtocol protocol);
bool isH2(ClientProtocol protocol);
bool isTls(ClientProtocol protocol);
// The `protocol` field of tether's log lines for a request from this client ("http/1.1", "h2c", "h2").
std::string logProtocol(ClientProtocol protocol);

// How a client leaves while its request is in flight.
enum class Leave {
  kFin,          // shuts down its sending side (a FIN; the socket stays open for reading, so no reset follows)
  kRst,          // closes the connection with a TCP reset
  kStreamReset,  // HTTP/2 only: RST_STREAM(CANCEL) of the request's stream; the connection stays open
  kCloseNotify,  // TLS only: a close_notify alert, no FIN (the socket stays open); tether takes it as a FIN
};
// "Fin", "Rst", "StreamReset", "CloseNotify": for test names.
const char* name(Leave how);
// The `reason` tether logs for the departure: client_closed, client_reset, stream_reset.
std::string cancelReason(Leave how);

class AnyClient {
 public:
  // Generous: only a failing test waits this long; a busy machine must not fail a passing one.
  static constexpr std::chrono::milliseconds kDefaultTimeout{30000};

  struct Response {
    int status = 0;  // the final status (1xx responses are skipped); 0 until the head arrived
    HeaderList headers;
    std::string body;  // the first kKeepBody bytes of the body
    uint64_t body_bytes = 0;
    bool complete = false;    // the whole body arrived (framing or END_STREAM)
    uint32_t reset_code = 0;  // HTTP/2: the error code of a RST_STREAM that ended the stream
    bool reset = false;       // HTTP/2: the stream was reset by tether

    std::optional<std::string> header(std::string_view name) const { return findHeader(headers, name); }
  };
  static constexpr size_t kKeepBody = 1 << 20;

  explicit AnyClient(ClientProtocol protocol);
  ~AnyClient();
  AnyClient(const AnyClient&) = delete;
  AnyClient& operator=(const AnyClient&) = delete;

  ClientProtocol protocol() const { return protocol_; }
  // TCP connect to 127.0.0.1:port; the TLS handshake (ALPN h2 or http/1.1, which the server must choose); for
  // HTTP/2 the client preface and SETTINGS are written. False on any failure.
  bool connect(uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout);

  // Writes a request head: "<method> <path>" with Host / :authority "test" and `headers` (names lowercased for
  // HTTP/2). `content_length` adds Content-Length (content-length); `body` is written in the same write as the head
  // (HTTP/2: HEADERS and DATA together). With `end` the request is complete (HTTP/2: END_STREAM), otherwise more of
  // its body follows through sendBody().
  bool sendHead(std::string_view method, std::string_view path, const HeaderList& headers = {},
                std::optional<uint64_t> content_length = std::nullopt, bool end = true, std::string_view body = "");
  // Writes body bytes of the current request (HTTP/2: DATA frames, END_STREAM with `end`).
  bool sendBody(std::string_view bytes, bool end);
  // A whole request: the head (Content-Length when `body` is not empty) and the body.
  bool request(std::string_view method, std::string_view path, const HeaderList& headers = {},
               std::string_view body = "");

  // Reads until the current request's response is complete; nullopt on timeout, close or reset before that
  // (response() then holds what arrived).
  std::optional<Response> readResponse(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Reads until the response head and at least `body_bytes` bytes of its body arrived; false if not within
  // `timeout`.
  bool readResponseStart(uint64_t body_bytes, std::chrono::milliseconds timeout = kDefaultTimeout);
  const Response& response() const { return response_; }

  // Reads (and drops) until tether closes the connection: true once it did.
  bool waitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  bool peerClosed() const { return closed_; }

  // Leaves as `how` says. kStreamReset needs an HTTP/2 client (a test failure otherwise).
  void leave(Leave how);

 private:
  struct SessionDelete {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };

  bool sendBytes(std::string_view bytes);
  // Reads what arrives within `wait` and feeds it to the HTTP/1.1 parser or the HTTP/2 session; false once the
  // connection is closed.
  bool pump(std::chrono::milliseconds wait);
  bool flushH2();
  void parseH1();
  bool readUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user);

  ClientProtocol protocol_;
  RawClient raw_;
  std::unique_ptr<TlsClient> tls_;
  bool closed_ = false;
  Response response_;
  void appendBody(const char* data, size_t len);

  // HTTP/1.1: bytes not yet parsed, and the body decoder once the head is in.
  std::string in_;
  std::unique_ptr<BodyDecoder> decoder_;

  // HTTP/2: the session, the current stream and its pending request body.
  std::unique_ptr<nghttp2_session, SessionDelete> session_;
  int32_t stream_id_ = 0;
  std::string upload_;
  bool upload_end_ = false;
};

}  // namespace tether::testing
