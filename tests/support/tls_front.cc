#include "support/tls_front.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string_view>

namespace tether::testing {
namespace {

int connectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

std::string subjectName(SSL* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return "";
  char name[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof(name));
  X509_free(peer);
  return name;
}

}  // namespace

TlsFront::TlsFront(uint16_t backend_port, const Options& options)
    : backend_port_(backend_port), alpn_(options.alpn), ctx_(SSL_CTX_new(TLS_server_method())) {
  SSL_CTX* ctx = ctx_.get();
  if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, options.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("TlsFront: cannot load " + options.cert);
  }
  if (!options.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.client_ca.c_str(), nullptr) != 1) {
      throw std::runtime_error("TlsFront: cannot load " + options.client_ca);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!alpn_.empty()) SSL_CTX_set_alpn_select_cb(ctx, &TlsFront::selectAlpn, this);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("TlsFront: cannot listen");
  }
  port_ = ntohs(address.sin_port);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

TlsFront::~TlsFront() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // Wakes the threads blocked in accept, SSL_accept, poll or SSL_read.
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (Relay& relay : relays_) {
      if (relay.tls_fd >= 0) ::shutdown(relay.tls_fd, SHUT_RDWR);
      if (relay.plain_fd >= 0) ::shutdown(relay.plain_fd, SHUT_RDWR);
    }
  }
  accept_thread_.join();
  for (Relay& relay : relays_) relay.thread.join();
  ::close(listen_fd_);
}

int TlsFront::selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                         unsigned int in_len, void* arg) {
  const auto* self = static_cast<const TlsFront*>(arg);
  for (const std::string& protocol : self->alpn_) {
    // The client's offer is a list of length-prefixed names.
    for (unsigned int i = 0; i < in_len; i += 1u + in[i]) {
      const std::string_view offered(reinterpret_cast<const char*>(in + i + 1), in[i]);
      if (i + 1u + in[i] > in_len || offered != protocol) continue;
      *out = in + i + 1;
      *out_len = in[i];
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

void TlsFront::acceptLoop() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard lock(mu_);
    if (fd < 0 || stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    Relay& relay = relays_.emplace_back();
    relay.tls_fd = fd;
    relay.thread = std::thread([this, &relay] { serve(relay); });
  }
}

void TlsFront::serve(Relay& relay) {
  // SSL_write uses write(2): a client that closed first (tether failing a connect, say, while an HTTP/2 backend's
  // SETTINGS are on their way) must be an EPIPE for this thread, not a SIGPIPE that kills the test process.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  SSL* ssl = SSL_new(ctx_.get());
  SSL_set_fd(ssl, relay.tls_fd);
  const bool handshake = SSL_accept(ssl) == 1;
  ERR_clear_error();
  const int plain_fd = handshake ? connectLoopback(backend_port_) : -1;
  {
    std::lock_guard lock(mu_);
    if (handshake) {
      ++completed_;
      if (SSL_session_reused(ssl) == 1) ++resumed_;
      client_names_.push_back(subjectName(ssl));
    } else {
      ++failed_;
    }
    relay.plain_fd = stopping_ && plain_fd >= 0 ? -1 : plain_fd;
    if (relay.plain_fd < 0 && plain_fd >= 0) ::close(plain_fd);
  }
  changed_.notify_all();
  if (relay.plain_fd >= 0) pump(ssl, relay.tls_fd, relay.plain_fd);
  SSL_free(ssl);
  std::lock_guard lock(mu_);
  if (handshake) ++closed_;
  // Closed under the lock: the destructor shuts down only descriptors still open.
  ::close(relay.tls_fd);
  relay.tls_fd = -1;
  if (relay.plain_fd >= 0) ::close(relay.plain_fd);
  relay.plain_fd = -1;
  changed_.notify_all();
}

void TlsFront::pump(SSL* ssl, int tls_fd, int plain_fd) {
  char buffer[16 * 1024];
  for (;;) {
    if (SSL_pending(ssl) == 0) {
      pollfd fds[2] = {{tls_fd, POLLIN, 0}, {plain_fd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) return;
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(plain_fd, buffer, sizeof(buffer));
        if (n <= 0 || SSL_write(ssl, buffer, static_cast<int>(n)) <= 0) return;
        continue;
      }
    }
    errno = 0;
    const int n = SSL_read(ssl, buffer, sizeof(buffer));
    if (n <= 0) {
      const int socket_error = errno;
      const int error = SSL_get_error(ssl, n);
      ERR_clear_error();
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) continue;  // a session ticket, say
      // OpenSSL 3 reports a FIN without close_notify as an SSL error ("unexpected eof"), a reset as a failed read.
      const ClientEnd end = error == SSL_ERROR_ZERO_RETURN ? ClientEnd::kCloseNotify
                            : socket_error == ECONNRESET   ? ClientEnd::kReset
                                                           : ClientEnd::kFin;
      std::lock_guard lock(mu_);
      client_ends_.push_back(end);
      return;
    }
    if (::send(plain_fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
  }
}

int TlsFront::handshakesCompleted() const {
  std::lock_guard lock(mu_);
  return completed_;
}

int TlsFront::handshakesResumed() const {
  std::lock_guard lock(mu_);
  return resumed_;
}

std::vector<TlsFront::ClientEnd> TlsFront::clientEnds() const {
  std::lock_guard lock(mu_);
  return client_ends_;
}

int TlsFront::handshakesFailed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

int TlsFront::closedConnections() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::vector<std::string> TlsFront::clientNames() const {
  std::lock_guard lock(mu_);
  return client_names_;
}

bool TlsFront::waitForHandshakesFailed(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return failed_ >= n; });
}

bool TlsFront::waitForClosed(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return closed_ >= n; });
}

}  // namespace tether::testing
