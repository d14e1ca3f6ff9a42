#pragma once

// The server side of TLS for one listener: an SSL_CTX with the listener's certificate and key, TLS 1.2 and 1.3,
// ALPN that offers "h2" then "http/1.1", and session tickets sealed with the worker's TicketKeyRing (no session
// cache). Sessions create one SSL per accepted connection from it.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "tls/server_hooks.h"

namespace tether::tls {

class TlsContext {
 public:
  // Loads the certificate chain and key; null with `*error` set if they are unreadable or do not match. `listener`
  // (its name) is the session id context: a ticket resumes only on the listener that issued it. `hooks` must
  // outlive every SSL made from the context; empty hooks make a context fit only for checking the files.
  static std::unique_ptr<TlsContext> load(const config::ListenerTls& tls, std::string_view listener,
                                          const ServerHooks* hooks, std::string* error);

  SSL_CTX* get() const { return ctx_.get(); }
  // A new server-side SSL for one connection; owned by the caller (or by the bufferevent it is given to).
  SSL* newConnection() const { return SSL_new(ctx_.get()); }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  };
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}

  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
};

}  // namespace tether::tls
