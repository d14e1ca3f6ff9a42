#pragma once

// The server side of TLS for one listener: one SSL_CTX per certificate of the listener (`tls.certificates`), all
// set up alike (TLS 1.2 and 1.3, ALPN "h2" then "http/1.1", session tickets sealed with the worker's
// TicketKeyRing, no session cache). A handshake starts on the first certificate's context and moves to the one
// whose names match the client's SNI (exact name, then a `*.` wildcard one label deep), if any.
//
// Immutable once loaded, and shared: a reload replaces a worker's contexts while handshakes begun on the old ones
// go on, so an SSL made by newConnection() keeps what its SNI choice needs (the old contexts) until it is freed.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "tls/server_hooks.h"

namespace tether::tls {

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  // Loads every certificate chain and key; null with `*error` set if one is unreadable or does not match
  // (`*failed` = its index in tls.certificates). `listener` (its name) is the session id context: a ticket
  // resumes only on the listener that issued it. `hooks` must outlive every SSL made from the context; null
  // hooks make a context fit only for checking the files.
  static std::shared_ptr<const TlsContext> load(const config::ListenerTls& tls, std::string_view listener,
                                                const ServerHooks* hooks, std::string* error, size_t* failed = nullptr);

  // The first certificate's context, where every handshake starts.
  SSL_CTX* get() const { return contexts_.front().get(); }
  // A new server-side SSL for one connection; owned by the caller (or by the TlsLayer it is given to).
  SSL* newConnection() const;
  // The context for an SNI name (any case); the first certificate's for a name no certificate carries.
  SSL_CTX* select(std::string_view server_name) const;
  // The names each certificate answers, as matched (lowercase; "*.example.com" for a wildcard).
  const std::vector<std::vector<std::string>>& names() const { return names_; }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  };
  using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
  TlsContext() = default;
  void addNames(size_t index, std::vector<std::string> names);

  std::vector<CtxPtr> contexts_;
  std::vector<std::vector<std::string>> names_;
  std::unordered_map<std::string, size_t> exact_;     // name -> context; the first certificate to name it wins
  std::unordered_map<std::string, size_t> wildcard_;  // "example.com" of "*.example.com" -> context
};

}  // namespace tether::tls
