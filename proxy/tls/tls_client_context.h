#pragma once

// The client side of TLS for one upstream: an SSL_CTX with TLS 1.2+, the trusted CAs (a `ca` file or the system
// store), an optional client certificate and the caller's ALPN offer. Connections get one SSL each from it, with
// their own SNI and the name (or address) their certificate must carry.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace tether::tls {

class TlsClientContext {
 public:
  // Who a connection expects at the other end.
  struct Peer {
    std::string server_name;  // sent as SNI; empty: none (an IP literal)
    std::string host;         // checked against the certificate: a DNS name or an IP literal
    // Connections with the same key offer the session (TLS 1.3 ticket) the last of them was given: an endpoint's
    // index in its pool, so a session goes back only to the server that issued it.
    size_t session_key = 0;
  };

  // `alpn`: the protocols offered, in preference order ("http/1.1"; a later HTTP/2 pool offers "h2").
  // Null with `*error` set if a file cannot be loaded or the key does not match the certificate.
  static std::unique_ptr<TlsClientContext> load(const config::UpstreamTls& tls, const std::vector<std::string>& alpn,
                                                std::string* error);
  // The peer of an endpoint written as `host`: `server_name` from the config if set, else the host when it is a
  // name (SNI cannot carry an address).
  static Peer peerFor(const config::UpstreamTls& tls, const std::string& host);

  SSL_CTX* get() const { return ctx_.get(); }
  bool verifies() const { return verify_; }
  // A new client-side SSL for one connection to `peer`, resuming the last session of `peer.session_key` if there is
  // one; owned by the caller (or the TlsLayer it is given to). Null if OpenSSL refused (out of memory, an unusable
  // name).
  SSL* newConnection(const Peer& peer) const;

 private:
  struct CtxFree {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  };
  TlsClientContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}

  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  bool verify_;
};

}  // namespace tether::tls
