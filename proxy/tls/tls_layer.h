#pragma once

// TLS as a net::RecordLayer inside SocketTransport: an SSL whose one BIO (a custom BIO_METHOD, no OpenSSL socket
// BIO) reads the transport's socket with recv and appends every record it writes to the buffer the transport passes,
// so a callback's records leave in one sendmsg. What the socket did (EAGAIN, its end, a reset) is recorded by the
// BIO, so a peer's FIN, RST and close_notify are told apart without guessing from OpenSSL's error queue. Both
// sides: client connections (acceptTls) and upstream connections (connectTls, whose handshake failures say why).

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "net/io_context.h"
#include "net/record_layer.h"
#include "net/socket_address.h"
#include "net/socket_transport.h"
#include "tls/tls_client_context.h"
#include "tls/tls_context.h"

namespace tether::tls {

class TlsLayer final : public net::RecordLayer {
 public:
  enum class Role { kServer, kClient };
  // One side of `fd` (not owned), taking ownership of `ssl`. A client's handshake starts with its first read().
  TlsLayer(SSL* ssl, int fd, Role role = Role::kServer);
  ~TlsLayer() override;
  TlsLayer(const TlsLayer&) = delete;
  TlsLayer& operator=(const TlsLayer&) = delete;

  ReadResult read(char* out, size_t cap, evbuffer* cipher) override;
  bool encrypt(evbuffer* plain, evbuffer* cipher, size_t cipher_cap) override;
  bool established() const override { return SSL_is_init_finished(ssl_) == 1; }
  bool alpnH2() const override;
  void closeNotify(evbuffer* cipher) override;
  void releaseIdleMemory() override;
  std::string failure() const override { return failure_; }

 private:
  class Sink;
  static const BIO_METHOD* bioMethod();
  static int bioRead(BIO* bio, char* out, size_t cap, size_t* got);
  static int bioWrite(BIO* bio, const char* data, size_t size, size_t* written);
  static long bioCtrl(BIO* bio, int command, long, void*);
  ReadResult classify(int ssl_error);
  // The client's handshake step; kData once it completed. Every end before that is kFailed, with failure() in the
  // words of docs/logging.md (upstream_tls_failed).
  ReadResult handshake();
  std::string handshakeFailure();

  SSL* ssl_;
  int fd_;
  evbuffer* sink_ = nullptr;  // where the BIO's writes go, set for the duration of each call into OpenSSL
  int socket_error_ = 0;      // errno of a failed recv (other than EAGAIN)
  bool socket_eof_ = false;   // recv returned 0: the peer's FIN
  bool would_block_ = false;  // the last recv said EAGAIN
  bool broken_ = false;       // a reset or a protocol failure: no close_notify
  bool close_sent_ = false;
  bool client_handshake_ = false;  // a client whose handshake has not completed yet
  std::string failure_;
};

// A TLS listener's accepted socket (server handshake first) as a SocketTransport; takes ownership of `fd`. Null if
// OpenSSL could not set the connection up.
std::unique_ptr<net::SocketTransport> acceptTls(event_base* base, int fd, const TlsContext& context,
                                                net::IoContext* io);
// A TLS connection to `address` (an upstream): the TCP connect starts now, the client handshake with `peer` once it
// completed; the transport's onConnected() follows the handshake, onHandshakeFailed() reports its failure and
// onPeerGone(true) a failed TCP connect. Null if no socket could be made or OpenSSL could not set the connection up.
std::unique_ptr<net::SocketTransport> connectTls(event_base* base, const net::SocketAddress& address,
                                                 const TlsClientContext& context, const TlsClientContext::Peer& peer,
                                                 net::IoContext* io);

}  // namespace tether::tls
