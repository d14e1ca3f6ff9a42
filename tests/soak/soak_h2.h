#pragma once

// The soak's HTTP/2 client: one nghttp2 client session over a cleartext (h2c, prior knowledge) or TLS (ALPN h2)
// connection, many streams, response bodies counted and compared with reference() as they arrive (nothing kept),
// request bodies of reference() bytes that can stop half-way (a mid-body abort), RST_STREAM, and leaving the
// connection with a FIN or a reset. Single-threaded: nothing moves unless runUntil() pumps the socket.

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "support/socket_io.h"

namespace tether::soak {

enum class Leave { kFin, kRst };

// A TCP connection to 127.0.0.1, optionally TLS (certificates are not verified: the soak makes its own).
class Conn {
 public:
  Conn();
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connect(uint16_t port, bool tls, std::chrono::milliseconds timeout);
  bool send(std::string_view data, testing::Deadline deadline);
  // Appends what arrives; kOk once something did.
  testing::IoResult recv(std::string& buf, testing::Deadline deadline);
  // kRst: SO_LINGER 0 and close. kFin: shut the sending side (no close_notify), then read until tether closes;
  // false if it did not within `timeout` (it keeps a connection whose client left).
  bool leave(Leave how, std::chrono::milliseconds timeout);
  bool open() const { return fd_ >= 0; }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  bool handshake(testing::Deadline deadline);
  void close();

  int fd_ = -1;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

class H2Session {
 public:
  struct Stream {
    int status = 0;
    std::string body_ok;     // x-body-ok
    std::string body_bytes;  // x-body-bytes
    uint64_t received = 0;
    bool mismatch = false;  // a body byte differed from reference()
    bool closed = false;
    uint32_t error_code = 0;
    uint64_t upload = 0;        // request body size
    uint64_t upload_limit = 0;  // bytes handed to nghttp2 before the body is deferred (mid-body abort)
    uint64_t provided = 0;
  };

  H2Session();
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  bool connect(uint16_t port, bool tls);
  // Queues a request for `path` with x-request-id `id` and a body of `upload` reference bytes, of which only
  // `upload_limit` are ever sent; returns the stream id, or -1.
  int32_t submit(const std::string& method, const std::string& path, const std::string& id, uint64_t upload,
                 uint64_t upload_limit);
  void reset(int32_t stream_id) {
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
  }
  int32_t nextStreamId() const { return static_cast<int32_t>(nghttp2_session_get_next_stream_id(session_.get())); }
  // Sends what is queued and reads what arrives until `done()` (true) or the time is up or the connection ended.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  // True when every queued frame (and body byte allowed so far) has been written to the socket.
  bool flushed() const;
  const Stream& stream(int32_t id) const { return streams_.at(id); }
  void forget(int32_t id) { streams_.erase(id); }
  bool ended() const { return ended_; }
  Conn& conn() { return conn_; }

 private:
  struct SessionDel {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int onData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user);
  static int onClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user);
  bool pump(std::chrono::milliseconds wait, const std::function<bool()>& done);

  Conn conn_;
  std::unique_ptr<nghttp2_session, SessionDel> session_;
  std::map<int32_t, Stream> streams_;
  bool ended_ = false;
};

}  // namespace tether::soak
