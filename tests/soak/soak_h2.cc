#include "soak/soak_h2.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "soak/soak_upstream.h"

namespace tether::soak {

using testing::Deadline;
using testing::IoResult;
using namespace std::chrono_literals;

Conn::Conn() = default;
Conn::~Conn() { close(); }

void Conn::close() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Conn::connect(uint16_t port, bool tls, std::chrono::milliseconds timeout) {
  const Deadline deadline = testing::deadlineAfter(timeout);
  fd_ = testing::connectLoopback(port, deadline);
  if (fd_ < 0) return false;
  // As real HTTP/2 clients do: frames queued after a write (WINDOW_UPDATE, SETTINGS ack) must not wait for an ACK.
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return !tls || handshake(deadline);
}

bool Conn::handshake(Deadline deadline) {
  ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!ctx_) return false;
  ssl_.reset(SSL_new(ctx_.get()));
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl_.get(), kAlpn, sizeof kAlpn);
  SSL_set_tlsext_host_name(ssl_.get(), "localhost");
  SSL_set_fd(ssl_.get(), fd_);
  for (int steps = 0; steps < 100; ++steps) {
    const int rc = SSL_connect(ssl_.get());
    if (rc == 1) {
      const unsigned char* chosen = nullptr;
      unsigned length = 0;
      SSL_get0_alpn_selected(ssl_.get(), &chosen, &length);
      return length == 2 && std::memcmp(chosen, "h2", 2) == 0;
    }
    const int error = SSL_get_error(ssl_.get(), rc);
    const short events = error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) ||
        testing::waitFor(fd_, events, -1, deadline) != IoResult::kOk) {
      return false;
    }
  }
  return false;
}

bool Conn::send(std::string_view data, Deadline deadline) {
  if (fd_ < 0) return false;
  if (!ssl_) return testing::writeAll(fd_, data, -1, deadline) == IoResult::kOk;
  for (int steps = 0; !data.empty() && steps < 100000; ++steps) {
    const int rc = SSL_write(ssl_.get(), data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
    if (rc > 0) {
      data.remove_prefix(static_cast<size_t>(rc));
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), rc);
    const short events = error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) ||
        testing::waitFor(fd_, events, -1, deadline) != IoResult::kOk) {
      return false;
    }
  }
  return data.empty();
}

IoResult Conn::recv(std::string& buf, Deadline deadline) {
  if (fd_ < 0) return IoResult::kClosed;
  if (!ssl_) return testing::readSome(fd_, buf, -1, deadline);
  char chunk[32 * 1024];
  for (int steps = 0; steps < 100000; ++steps) {
    const int rc = SSL_read(ssl_.get(), chunk, sizeof chunk);
    if (rc > 0) {
      buf.append(chunk, static_cast<size_t>(rc));
      return IoResult::kOk;
    }
    const int error = SSL_get_error(ssl_.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return IoResult::kClosed;
    const IoResult waited = testing::waitFor(fd_, error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, -1, deadline);
    if (waited != IoResult::kOk) return waited;
  }
  return IoResult::kTimeout;
}

bool Conn::leave(Leave how, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  if (how == Leave::kRst) {
    ssl_.reset();
    testing::closeWithReset(fd_);
    fd_ = -1;
    return true;
  }
  // A FIN without close_notify, as a client that just closes its socket sends; closing a socket with unread bytes
  // would send a reset instead, so the bytes tether still sends are read (and dropped) until it closes.
  ::shutdown(fd_, SHUT_WR);
  const Deadline deadline = testing::deadlineAfter(timeout);
  std::string scratch;
  IoResult r = IoResult::kOk;
  for (int reads = 0; r == IoResult::kOk && reads < 100000; ++reads) {
    scratch.clear();
    r = ssl_ ? recv(scratch, deadline) : testing::readSome(fd_, scratch, -1, deadline);
  }
  close();
  return r == IoResult::kClosed;
}

namespace {

nghttp2_nv field(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

H2Session::H2Session() {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &H2Session::onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &H2Session::onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &H2Session::onClose);
  nghttp2_session* session = nullptr;
  nghttp2_session_client_new(&session, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  session_.reset(session);
}

H2Session::~H2Session() = default;

bool H2Session::connect(uint16_t port, bool tls) {
  if (!conn_.connect(port, tls, 10s)) return false;
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                             {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  return nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 2) == 0;
}

int32_t H2Session::submit(const std::string& method, const std::string& path, const std::string& id, uint64_t upload,
                          uint64_t upload_limit) {
  const std::string length = std::to_string(upload);
  std::vector<nghttp2_nv> nv{field(":method", method), field(":scheme", "http"), field(":path", path),
                             field(":authority", "soak"), field("x-request-id", id)};
  if (upload > 0) nv.push_back(field("content-length", length));
  nghttp2_data_provider provider{};
  provider.read_callback = &H2Session::readBody;
  const int32_t stream_id =
      nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(), upload > 0 ? &provider : nullptr, nullptr);
  if (stream_id > 0) {
    Stream& stream = streams_[stream_id];
    stream.upload = upload;
    stream.upload_limit = std::min(upload, upload_limit);
  }
  return stream_id;
}

bool H2Session::pump(std::chrono::milliseconds wait, const std::function<bool()>& done) {
  // Frames are gathered into one write: small writes would meet Nagle and delayed ACKs.
  std::string output;
  for (int frames = 0; frames < 100000; ++frames) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n > 0) output.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (n > 0 && output.size() < (1u << 20)) continue;
    if (!output.empty() && !conn_.send(output, testing::deadlineAfter(60s))) {
      ended_ = true;
      return false;
    }
    output.clear();
    if (n <= 0) break;
  }
  if (done()) return true;  // e.g. all written: no need to wait for a read
  std::string input;
  const IoResult r = conn_.recv(input, testing::deadlineAfter(wait));
  if (!input.empty()) {
    nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  if (r == IoResult::kClosed) ended_ = true;
  return !ended_;
}

bool H2Session::flushed() const { return nghttp2_session_want_write(session_.get()) == 0; }

bool H2Session::runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const Deadline deadline = testing::deadlineAfter(timeout);
  for (int rounds = 0; rounds < 10000000; ++rounds) {
    if (done()) return true;
    if (ended_ || testing::Clock::now() >= deadline) return false;
    // A short read wait: the loop must come back to send what a callback queued (WINDOW_UPDATE, body).
    if (!pump(10ms, done)) return done();
  }
  return false;
}

int H2Session::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                        const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<H2Session*>(user);
  const auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") it->second.status = std::atoi(v.c_str());
  if (n == "x-body-ok") it->second.body_ok = v;
  if (n == "x-body-bytes") it->second.body_bytes = v;
  return 0;
}

int H2Session::onData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<H2Session*>(user);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  Stream& stream = it->second;
  const std::string& ref = reference();
  if (stream.received + len > ref.size() || std::memcmp(data, ref.data() + stream.received, len) != 0) {
    stream.mismatch = true;
  }
  stream.received += len;
  return 0;
}

int H2Session::onClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* self = static_cast<H2Session*>(user);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  it->second.closed = true;
  it->second.error_code = error_code;
  return 0;
}

ssize_t H2Session::readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source*, void* user) {
  auto* self = static_cast<H2Session*>(user);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Stream& stream = it->second;
  if (stream.provided == stream.upload_limit && stream.upload_limit < stream.upload) return NGHTTP2_ERR_DEFERRED;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(length, stream.upload_limit - stream.provided));
  std::memcpy(buf, reference().data() + stream.provided, n);
  stream.provided += n;
  if (stream.provided == stream.upload) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace tether::soak
