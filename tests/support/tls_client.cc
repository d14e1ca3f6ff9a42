#include "support/tls_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include <stdexcept>
#include <vector>

#include "support/process.h"
#include "support/socket_io.h"

namespace tether::testing {
namespace {

// Waits for what OpenSSL asked for after a WANT_READ / WANT_WRITE.
bool waitSsl(int fd, int ssl_error, Deadline deadline) {
  const short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
  return waitFor(fd, events, -1, deadline) == IoResult::kOk;
}

}  // namespace

TlsClient::TlsClient() : ctx_(SSL_CTX_new(TLS_client_method())) {}

TlsClient::~TlsClient() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::connect(uint16_t port, std::string_view alpn, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  fd_ = connectLoopback(port, deadline);
  if (fd_ < 0 || !ctx_) return false;
  ssl_.reset(SSL_new(ctx_.get()));
  std::vector<unsigned char> wire{static_cast<unsigned char>(alpn.size())};
  wire.insert(wire.end(), alpn.begin(), alpn.end());
  SSL_set_alpn_protos(ssl_.get(), wire.data(), static_cast<unsigned>(wire.size()));
  if (!server_name_.empty()) SSL_set_tlsext_host_name(ssl_.get(), server_name_.c_str());
  if (resume_ != nullptr) {
    // A copy, so that this connection ending without a shutdown cannot mark the caller's session not resumable.
    SSL_SESSION* copy = SSL_SESSION_dup(resume_);
    SSL_set_session(ssl_.get(), copy);
    SSL_SESSION_free(copy);
  }
  SSL_set_fd(ssl_.get(), fd_);
  for (;;) {
    const int rc = SSL_connect(ssl_.get());
    if (rc == 1) return true;
    const int error = SSL_get_error(ssl_.get(), rc);
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) || !waitSsl(fd_, error, deadline)) {
      return false;
    }
  }
}

std::string TlsClient::alpn() const {
  const unsigned char* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

bool TlsClient::send(std::string_view data) {
  const Deadline deadline = deadlineAfter(std::chrono::seconds(5));
  while (!data.empty()) {
    const int rc = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
    if (rc > 0) {
      data.remove_prefix(static_cast<size_t>(rc));
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), rc);
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) || !waitSsl(fd_, error, deadline)) {
      return false;
    }
  }
  return true;
}

std::string TlsClient::recvSome(std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  char buf[16384];
  for (;;) {
    const int rc = SSL_read(ssl_.get(), buf, sizeof buf);
    if (rc > 0) return std::string(buf, static_cast<size_t>(rc));
    const int error = SSL_get_error(ssl_.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      eof_ = true;
      return "";
    }
    if (!waitSsl(fd_, error, deadline)) return "";
  }
}

std::shared_ptr<SSL_SESSION> TlsClient::session() const {
  // A copy: freeing an SSL that did not shut down (closeWithFin, closeWithRst, the destructor) marks its own
  // session not resumable.
  SSL_SESSION* session = SSL_get0_session(ssl_.get());
  return std::shared_ptr<SSL_SESSION>(session != nullptr ? SSL_SESSION_dup(session) : nullptr, &SSL_SESSION_free);
}

std::string TlsClient::peerCommonName() const {
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr) return "";
  char name[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof(name));
  return name;
}

std::string TlsClient::peerSerial() const {
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr) return "";
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(serial);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(serial);
  return out;
}

void TlsClient::closeWithRst() {
  if (fd_ < 0) return;
  closeWithReset(fd_);
  fd_ = -1;
}

void TlsClient::closeWithFin() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

void TlsClient::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void TlsClient::sendCloseNotify() {
  // The alert is one small record: it fits the empty send buffer, so the first call sends it (and returns 0, the
  // peer's close_notify not yet received).
  if (ssl_) SSL_shutdown(ssl_.get());
}

CertificatePaths makeSelfSignedCertificate(const std::string& dir) {
  CertificatePaths paths{dir + "/cert.pem", dir + "/key.pem"};
  Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-keyout", paths.key, "-out", paths.cert, "-days", "2", "-subj", "/CN=localhost",
                   "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  if (openssl.waitExit(std::chrono::seconds(20)) != 0) throw std::runtime_error("openssl failed: " + openssl.output());
  return paths;
}

}  // namespace tether::testing
