#pragma once

// A blocking TLS client for integration tests: connect to 127.0.0.1:<port>, handshake with an ALPN offer, write
// bytes, then leave the way a test needs (close_notify-less FIN, or a TCP reset). Certificates are not verified:
// the tests make their own self-signed one (makeSelfSignedCertificate).

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tether::testing {

class TlsClient {
 public:
  TlsClient();
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // TCP connect and TLS handshake offering `alpn` ("h2" or "http/1.1"); false on any failure.
  bool connect(uint16_t port, std::string_view alpn, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The protocol the server chose by ALPN ("" if none).
  std::string alpn() const;
  bool send(std::string_view data);
  // Bytes that arrive within `timeout` (decrypted); "" on timeout or close.
  std::string recvSome(std::chrono::milliseconds timeout);
  // True once a read found the connection closed or reset (recvSome returned "" for that reason).
  bool peerClosed() const { return eof_; }
  void closeWithRst();   // SO_LINGER 0, no close_notify: the server sees a reset
  void closeWithFin();   // no close_notify, a plain FIN (a RST if unread bytes, such as session tickets, wait)
  void shutdownWrite();  // a FIN without close_notify; the socket stays open for reading
  // close_notify (SSL_shutdown) and nothing else: no FIN, the socket stays open for reading.
  void sendCloseNotify();
  int fd() const { return fd_; }

  // Session resumption and SNI (set before connect()). setSession: offer `session` (its ticket) to resume;
  // setServerName: the SNI name sent ("" sends none; default "localhost"); setMaxVersion: TLS1_2_VERSION and so on.
  void setSession(SSL_SESSION* session) { resume_ = session; }
  void setServerName(std::string name) { server_name_ = std::move(name); }
  void setMaxVersion(int version) { SSL_CTX_set_max_proto_version(ctx_.get(), version); }
  // After connect(): whether the handshake resumed the offered session; the session to resume later (with the
  // ticket the server sent, if any: in TLS 1.3 it follows the handshake, so read a response first); the server
  // certificate's subject CN and serial number (hex).
  bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
  std::shared_ptr<SSL_SESSION> session() const;
  std::string peerCommonName() const;
  std::string peerSerial() const;

 private:
  struct CtxDelete {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  struct SslDelete {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  std::unique_ptr<SSL_CTX, CtxDelete> ctx_;
  std::unique_ptr<SSL, SslDelete> ssl_;
  int fd_ = -1;
  bool eof_ = false;
  SSL_SESSION* resume_ = nullptr;  // not owned: the caller keeps it alive until connect() returns (a copy is used)
  std::string server_name_ = "localhost";
};

// Writes a self-signed EC certificate and key for localhost into `dir` (cert.pem, key.pem) with the openssl CLI.
// Throws std::runtime_error if openssl fails.
struct CertificatePaths {
  std::string cert;
  std::string key;
};
CertificatePaths makeSelfSignedCertificate(const std::string& dir);

}  // namespace tether::testing
