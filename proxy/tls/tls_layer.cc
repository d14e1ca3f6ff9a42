#include "tls/tls_layer.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tether::tls {
namespace {

// The largest TLS record's plaintext: one SSL_write of this much makes one record.
constexpr size_t kMaxRecord = 16 * 1024;

// OpenSSL's first queued error as text, or `fallback`; the queue is left empty.
std::string takeError(const char* fallback) {
  const unsigned long code = ERR_get_error();
  const char* text = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  if (text != nullptr) return text;
  return code != 0 ? "TLS error " + std::to_string(code) : fallback;
}

// SSL_get_error reads the thread's error queue: nothing of another connection's may be in it when it runs, so it is
// emptied before each call into OpenSSL. ERR_clear_error wipes all 16 slots whether or not any is used (~840
// instructions, three times per keep-alive request); looking first costs ~275 and the queue is almost always empty.
void emptyErrorQueue() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

// Points the BIO's writes at `cipher` while OpenSSL runs.
class TlsLayer::Sink {
 public:
  Sink(TlsLayer& layer, evbuffer* cipher) : layer_(layer) { layer_.sink_ = cipher; }
  ~Sink() { layer_.sink_ = nullptr; }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

 private:
  TlsLayer& layer_;
};

const BIO_METHOD* TlsLayer::bioMethod() {
  // Made once, never changed after: a table of function pointers shared by every connection of every worker.
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tether");
    BIO_meth_set_read_ex(m, &TlsLayer::bioRead);
    BIO_meth_set_write_ex(m, &TlsLayer::bioWrite);
    BIO_meth_set_ctrl(m, &TlsLayer::bioCtrl);
    return m;
  }();
  return method;
}

TlsLayer::TlsLayer(SSL* ssl, int fd, Role role) : ssl_(ssl), fd_(fd), client_handshake_(role == Role::kClient) {
  BIO* bio = BIO_new(bioMethod());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one reference for both directions, owned by the SSL
  // A FIN without close_notify is an ordinary end (most clients leave that way), reported as SSL_ERROR_ZERO_RETURN
  // rather than a fatal error: the connection can still write (a half-closed client reads its response).
  // A client sets it once its handshake completed: an upstream's FIN mid-handshake is a failure with its reason.
  if (client_handshake_) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_accept_state(ssl_);
  }
}

TlsLayer::~TlsLayer() { SSL_free(ssl_); }

int TlsLayer::bioRead(BIO* bio, char* out, size_t cap, size_t* got) {
  auto* self = static_cast<TlsLayer*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  *got = 0;
  for (;;) {
    const ssize_t n = ::recv(self->fd_, out, cap, 0);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) {
      self->socket_eof_ = true;  // BIO_eof: OpenSSL takes it as the end of the stream
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      self->would_block_ = true;
      BIO_set_retry_read(bio);
      return 0;
    }
    self->socket_error_ = errno;
    return 0;
  }
}

int TlsLayer::bioWrite(BIO* bio, const char* data, size_t size, size_t* written) {
  auto* self = static_cast<TlsLayer*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // Never blocks: the transport sends what accumulated once OpenSSL returned, and bounds how much it asks for.
  if (self->sink_ == nullptr || evbuffer_add(self->sink_, data, size) != 0) return 0;
  *written = size;
  return 1;
}

long TlsLayer::bioCtrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH: return 1;  // the transport flushes after the callback
    case BIO_CTRL_EOF: return static_cast<TlsLayer*>(BIO_get_data(bio))->socket_eof_ ? 1 : 0;
    default: return 0;  // PENDING, WPENDING: nothing is held here
  }
}

net::RecordLayer::ReadResult TlsLayer::read(char* out, size_t cap, evbuffer* cipher) {
  Sink sink(*this, cipher);
  would_block_ = false;
  emptyErrorQueue();  // SSL_get_error reads the thread's queue: nothing of another connection's may be in it
  if (client_handshake_) return handshake();
  size_t got = 0;
  if (SSL_read_ex(ssl_, out, cap, &got) == 1) return {Status::kData, got};
  return classify(SSL_get_error(ssl_, 0));
}

net::RecordLayer::ReadResult TlsLayer::classify(int ssl_error) {
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      // Without EAGAIN a record without data was handled (a ticket, a KeyUpdate): read on.
      return {would_block_ ? Status::kNeedMore : Status::kData, 0};
    case SSL_ERROR_ZERO_RETURN: return {socket_eof_ ? Status::kEof : Status::kCloseNotify, 0};
    default: break;
  }
  broken_ = true;
  failure_ = takeError("connection lost during the TLS handshake");
  if (socket_error_ != 0) return {Status::kReset, 0};
  if (socket_eof_) return {Status::kEof, 0};
  return {Status::kFailed, 0};
}

net::RecordLayer::ReadResult TlsLayer::handshake() {
  const int done = SSL_do_handshake(ssl_);
  if (done == 1) {
    client_handshake_ = false;
    // Upstreams commonly close without close_notify: from here on that is an EOF, as for clients.
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return {Status::kData, 0};  // reading goes on: the server may have sent data with its last flight
  }
  const int ssl_error = SSL_get_error(ssl_, done);
  if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
    return {would_block_ ? Status::kNeedMore : Status::kData, 0};
  }
  broken_ = true;
  failure_ = handshakeFailure();
  return {Status::kFailed, 0};
}

std::string TlsLayer::handshakeFailure() {
  const long verified = SSL_get_verify_result(ssl_);
  if (verified != X509_V_OK && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0) {
    ERR_clear_error();
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verified);
  }
  // A reset says more than what OpenSSL made of the failed read (often nothing).
  if (socket_error_ != 0) {
    ERR_clear_error();
    return std::string("connection lost during the TLS handshake: ") + std::strerror(socket_error_);
  }
  return takeError("connection closed during the TLS handshake");
}

bool TlsLayer::encrypt(evbuffer* plain, evbuffer* cipher, size_t cipher_cap) {
  if (!established()) return !broken_;  // written once the handshake completed (the owner writes again then)
  Sink sink(*this, cipher);
  char record[kMaxRecord];
  while (evbuffer_get_length(plain) > 0 && evbuffer_get_length(cipher) < cipher_cap) {
    const size_t n = std::min(evbuffer_get_length(plain), kMaxRecord);
    // One record per kMaxRecord bytes whatever the chains: a response written in many pieces is one record.
    evbuffer_iovec first;
    evbuffer_peek(plain, -1, nullptr, &first, 1);
    const char* data = static_cast<const char*>(first.iov_base);
    if (first.iov_len < n) {
      evbuffer_copyout(plain, record, n);
      data = record;
    }
    emptyErrorQueue();
    size_t written = 0;
    if (SSL_write_ex(ssl_, data, n, &written) != 1) {
      broken_ = true;
      failure_ = takeError("TLS write failed");
      return false;
    }
    evbuffer_drain(plain, written);
  }
  return true;
}

bool TlsLayer::alpnH2() const {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &protocol, &length);
  return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

void TlsLayer::closeNotify(evbuffer* cipher) {
  if (close_sent_ || broken_ || !established()) return;
  close_sent_ = true;
  Sink sink(*this, cipher);
  SSL_shutdown(ssl_);  // appends the alert; the peer's answer is not waited for
  ERR_clear_error();
}

void TlsLayer::releaseIdleMemory() {
  // Refuses (returns 0) while a record is partly read or written; the buffers come back on the next read or write.
  if (established()) SSL_free_buffers(ssl_);
}

std::unique_ptr<net::SocketTransport> acceptTls(event_base* base, int fd, const TlsContext& context,
                                                net::IoContext* io) {
  SSL* ssl = context.newConnection();
  if (ssl == nullptr) {
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<net::SocketTransport>(base, fd, io, std::make_unique<TlsLayer>(ssl, fd));
}

std::unique_ptr<net::SocketTransport> connectTls(event_base* base, const net::SocketAddress& address,
                                                 const TlsClientContext& context, const TlsClientContext::Peer& peer,
                                                 net::IoContext* io) {
  return net::SocketTransport::connect(base, address, io, [&](int fd) -> std::unique_ptr<net::RecordLayer> {
    SSL* ssl = context.newConnection(peer);
    if (ssl == nullptr) return nullptr;
    return std::make_unique<TlsLayer>(ssl, fd, TlsLayer::Role::kClient);
  });
}

}  // namespace tether::tls
