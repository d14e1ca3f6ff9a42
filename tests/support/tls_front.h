#pragma once

// A TLS upstream for integration tests: terminates TLS on 127.0.0.1:<ephemeral> and relays each connection's bytes
// to a cleartext backend (a TestUpstream), one thread per connection. The backend keeps doing what tests check
// (requests, replies, delays that notice a close); this adds what only TLS has: handshakes completed or failed,
// the client certificate presented, and the moment a TLS connection ended. A close on either side closes both.
// With an ALPN list it relays to an HTTP/2 backend (an H2TestUpstream) too: the bytes are the same either way.

#include <openssl/ssl.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tether::testing {

class TlsFront {
 public:
  struct Options {
    std::string cert;  // server certificate and key (PEM)
    std::string key;
    std::string client_ca;  // non-empty: a client certificate signed by this CA is required
    // ALPN protocols this server selects from, in its preference order; none offered by the client (or an empty
    // list): no protocol is selected and the handshake goes on without one.
    std::vector<std::string> alpn{};
  };

  // Throws std::runtime_error if the certificate cannot be loaded or the socket not bound.
  TlsFront(uint16_t backend_port, const Options& options);
  ~TlsFront();  // stops accepting, ends every relay, joins all threads
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  int handshakesCompleted() const;
  // Completed handshakes that resumed a session (the client offered a ticket or session id this server issued).
  int handshakesResumed() const;
  int handshakesFailed() const;
  // TLS connections that ended after their handshake (either side closed or reset).
  int closedConnections() const;
  // The subject CN of each client certificate presented, in handshake order ("" if none was).
  std::vector<std::string> clientNames() const;
  bool waitForHandshakesFailed(int n, std::chrono::milliseconds timeout) const;
  bool waitForClosed(int n, std::chrono::milliseconds timeout) const;
  // How the TLS client ended each connection that ended from its side, in order: its close_notify, a FIN without
  // one, or a TCP reset. Connections the backend ended are not listed.
  enum class ClientEnd { kCloseNotify, kFin, kReset };
  std::vector<ClientEnd> clientEnds() const;

 private:
  struct CtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  struct Relay {
    std::thread thread;
    int tls_fd = -1;
    int plain_fd = -1;
  };

  static int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                        unsigned int in_len, void* arg);
  void acceptLoop();
  void serve(Relay& relay);
  // Moves bytes both ways until either side closes; records how the TLS client ended it.
  void pump(SSL* ssl, int tls_fd, int plain_fd);

  uint16_t backend_port_;
  std::vector<std::string> alpn_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  std::list<Relay> relays_;
  int completed_ = 0;
  int resumed_ = 0;
  std::vector<ClientEnd> client_ends_;
  int failed_ = 0;
  int closed_ = 0;
  std::vector<std::string> client_names_;
};

}  // namespace tether::testing
