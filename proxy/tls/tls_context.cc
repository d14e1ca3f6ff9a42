#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <utility>

#include "config/config_loader.h"

namespace tether::tls {
namespace {

// ALPN protocol list in wire format, in server preference order.
constexpr unsigned char kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpn, sizeof(kAlpn), in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN, HTTP/1.1 is assumed
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

std::string lastError(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return what + ": " + text;
}

// The SSL_CTX ex_data slot that holds the context's `const ServerHooks*`, and the SSL slot that marks a handshake
// already counted. Allocated once per process (OpenSSL keeps the indexes; nothing else is stored globally).
int hooksIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int countedIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const ServerHooks* hooksOf(const SSL* ssl) {
  return static_cast<const ServerHooks*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hooksIndex()));
}

int onTicketKey(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                int seal) {
  const ServerHooks* hooks = hooksOf(ssl);
  if (hooks == nullptr || hooks->tickets == nullptr) return seal != 0 ? -1 : 0;
  if (seal != 0) return hooks->tickets->seal(name, iv, cipher, mac) ? 1 : -1;
  return hooks->tickets->open(name, iv, cipher, mac);
}

// TLS 1.3 also reports post-handshake messages (tickets, KeyUpdate) as handshakes: the SSL is marked once counted.
void onInfo(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0 || SSL_get_ex_data(ssl, countedIndex()) != nullptr) return;
  const ServerHooks* hooks = hooksOf(ssl);
  if (hooks == nullptr || hooks->observer == nullptr) return;
  static char counted;
  SSL_set_ex_data(const_cast<SSL*>(ssl), countedIndex(), &counted);
  hooks->observer->onHandshakeDone(SSL_session_reused(ssl) == 1);
}

// The session id context, which a resumed session must match: SHA-256 of the listener's name (exactly the 32
// bytes OpenSSL allows, whatever the name's length).
bool setSessionIdContext(SSL_CTX* ctx, std::string_view listener) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(listener.data(), listener.size(), digest, &length, EVP_sha256(), nullptr) != 1) return false;
  return SSL_CTX_set_session_id_context(ctx, digest, length) == 1;
}

// Stateless tickets only: a per-worker session cache would miss on every other worker, a shared one needs a lock.
// One ticket per handshake (OpenSSL sends two by default; a client resumes with one).
void setTickets(SSL_CTX* ctx, const config::ListenerTls& tls, const ServerHooks* hooks) {
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (!tls.session_tickets || hooks == nullptr || hooks->tickets == nullptr) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    return;
  }
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_timeout(ctx, static_cast<long>(hooks->tickets->sessionLifetime().count()));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &onTicketKey);
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::load(const config::ListenerTls& tls, std::string_view listener,
                                             const ServerHooks* hooks, std::string* error) {
  // OpenSSL's fopen would wait forever on a FIFO: only regular files get that far.
  for (const auto& [what, path] : {std::pair{"certificate ", &tls.cert}, std::pair{"key ", &tls.key}}) {
    if (auto why = config::regularFileError(*path)) {
      *error = "cannot load " + std::string(what) + *path + ": " + *why;
      return nullptr;
    }
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) {
    *error = lastError("cannot create TLS context");
    return nullptr;
  }
  std::unique_ptr<TlsContext> context(new TlsContext(raw));
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  // Less buffering per connection, and no renegotiation: neither is needed by HTTP/2 or by tether.
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(raw, tls.cert.c_str()) != 1) {
    *error = lastError("cannot load certificate " + tls.cert);
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(raw, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = lastError("cannot load key " + tls.key);
    return nullptr;
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    *error = lastError("key " + tls.key + " does not match certificate " + tls.cert);
    return nullptr;
  }
  if (!setSessionIdContext(raw, listener)) {
    *error = lastError("cannot set the session id context");
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(raw, &selectAlpn, nullptr);
  setTickets(raw, tls, hooks);
  if (hooks != nullptr) {
    SSL_CTX_set_ex_data(raw, hooksIndex(), const_cast<ServerHooks*>(hooks));
    SSL_CTX_set_info_callback(raw, &onInfo);
  }
  return context;
}

}  // namespace tether::tls
