#include "tls/tls_transport.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tether::tls {
namespace {

// As for cleartext connections (SocketTransport): a response goes out as several TLS records written one after
// the other (HTTP/2 HEADERS, then DATA), and with Nagle the second waits for the peer's delayed ACK, 40 ms.
void setNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// errno values that mean the TCP connect failed, before any TLS byte could move.
bool connectError(int error) {
  return error == ECONNREFUSED || error == ENETUNREACH || error == EHOSTUNREACH || error == ETIMEDOUT ||
         error == EADDRNOTAVAIL;
}

}  // namespace

std::unique_ptr<TlsTransport> TlsTransport::connect(event_base* base, const TlsClientContext& context,
                                                    const TlsClientContext::Peer& peer, int fd) {
  setNoDelay(fd);
  SSL* ssl = context.newConnection(peer);
  // Handshake errors stay errors (no dirty shutdown yet): an upstream closing mid-handshake has failed it.
  bufferevent* bev =
      ssl == nullptr ? nullptr
                     : bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    if (ssl != nullptr) SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<TlsTransport>(new TlsTransport(base, bev, fd, true));
}

TlsTransport::TlsTransport(event_base* base, bufferevent* bev, int fd, bool connecting)
    : bev_(bev),
      watch_fd_(fcntl(fd, F_DUPFD_CLOEXEC, 0)),
      watch_(event_new(base, watch_fd_.get(), EV_READ | EV_CLOSED | EV_ET | EV_PERSIST, &TlsTransport::onWatch, this)),
      wake_(event_new(base, -1, 0, &TlsTransport::onWake, this)),
      connecting_(connecting) {}

TlsTransport::~TlsTransport() {
  watch_.reset();
  wake_.reset();
  if (bev_) {
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
  }
}

void TlsTransport::start(net::TransportCallbacks& callbacks) {
  callbacks_ = &callbacks;
  bufferevent_setcb(bev_.get(), &TlsTransport::onRead, &TlsTransport::onWrite, &TlsTransport::onEvent, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  event_add(watch_.get(), nullptr);
}

void TlsTransport::setWatermarks(size_t read_high, size_t write_low) {
  read_high_ = read_high;
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, read_high);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, write_low, 0);
}

void TlsTransport::setReading(bool on) {
  if (reading_ == on) return;
  reading_ = on;
  if (on) {
    bufferevent_enable(bev_.get(), EV_READ);
    if (evbuffer_get_length(input()) > 0) wake();  // bytes may already wait in the input buffer
  } else {
    bufferevent_disable(bev_.get(), EV_READ);
  }
}

void TlsTransport::wake() { event_active(wake_.get(), 0, 0); }

void TlsTransport::onRead(bufferevent*, void* arg) { static_cast<TlsTransport*>(arg)->callbacks_->onReadable(); }

void TlsTransport::onWrite(bufferevent*, void* arg) { static_cast<TlsTransport*>(arg)->callbacks_->onDrained(); }

void TlsTransport::onEvent(bufferevent*, short what, void* arg) {
  const int socket_error = errno;  // first: what the failed read or write left, before any other call
  auto* self = static_cast<TlsTransport*>(arg);
  if (what & BEV_EVENT_CONNECTED) {  // the handshake completed
    if (!self->connecting_) return;
    self->connecting_ = false;
    // From here on, as for clients: upstreams commonly close without close_notify, and that is an EOF.
    bufferevent_openssl_set_allow_dirty_shutdown(self->bev_.get(), 1);
    self->callbacks_->onConnected();
    return;
  }
  if (self->connecting_) {
    self->connecting_ = false;
    self->failConnect(what, socket_error);
    return;
  }
  // What bufferevent_openssl reports does not say how the client left: with dirty shutdowns allowed a reset comes
  // as EOF, and OpenSSL 3 turns a FIN without close_notify into an error. The TCP state does: CLOSE_WAIT is the
  // client's FIN; anything else (CLOSE after a reset, or a TLS failure on a live connection) is gone for good.
  self->callbacks_->onPeerGone(self->peerState() != net::PeerState::kFin);
}

void TlsTransport::failConnect(short what, int socket_error) {
  // libevent stores SSL_get_error()'s result first, then OpenSSL's queued errors (packed codes, far above it).
  int ssl_error = SSL_ERROR_NONE;
  unsigned long first = 0;
  for (unsigned long code; (code = bufferevent_get_openssl_error(bev_.get())) != 0;) {
    if (code <= SSL_ERROR_WANT_CLIENT_HELLO_CB) {
      ssl_error = static_cast<int>(code);
    } else if (first == 0) {
      first = code;
    }
  }
  ERR_clear_error();
  SSL* ssl = bufferevent_openssl_get_ssl(bev_.get());
  const long verified = SSL_get_verify_result(ssl);
  std::string reason;
  if (verified != X509_V_OK && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0) {
    reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verified);
  } else if (first != 0) {
    const char* text = ERR_reason_error_string(first);
    reason = text != nullptr ? text : "TLS error " + std::to_string(first);
  } else if (connectError(socket_error) && ssl_error != SSL_ERROR_SSL) {
    callbacks_->onPeerGone(true);  // refused or unreachable: not a TLS failure
    return;
  } else if ((what & BEV_EVENT_EOF) != 0 || socket_error == 0) {
    reason = "connection closed during the TLS handshake";
  } else {
    reason = std::string("connection lost during the TLS handshake: ") + std::strerror(socket_error);
  }
  callbacks_->onHandshakeFailed(reason);
}

void TlsTransport::onWatch(evutil_socket_t, short, void* arg) {
  // Woken by any change on the socket; while reading, the bufferevent itself sees FIN and RST.
  // Reported either way (the owner reads the TCP state); remembered when it may not be followed by a read.
  auto* self = static_cast<TlsTransport*>(arg);
  if (!self->reading_ || (self->read_high_ != 0 && evbuffer_get_length(self->input()) >= self->read_high_)) {
    self->hangup_seen_ = true;
  }
  self->callbacks_->onHangup();
}

void TlsTransport::onWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<TlsTransport*>(arg);
  self->callbacks_->onReadable();
}

bool TlsTransport::alpnH2() const {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev_.get()), &protocol, &length);
  return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

}  // namespace tether::tls
