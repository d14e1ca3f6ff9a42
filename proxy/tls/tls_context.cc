#include "tls/tls_context.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "config/config_loader.h"
#include "tls/ctx_setup.h"

namespace tether::tls {
namespace {

using Held = std::shared_ptr<const TlsContext>;

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

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

void freeHeld(void*, void* pointer, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<Held*>(pointer); }

// Ex_data slots, allocated once per process (OpenSSL keeps the indexes; nothing else is stored globally): the
// SSL_CTX's `const ServerHooks*`; an SSL's hold on its TlsContext (a heap Held, deleted with the SSL); an SSL's
// mark that its handshake was counted.
int hooksIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int heldIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &freeHeld);
  return index;
}
int countedIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const ServerHooks* hooksOf(const SSL* ssl) {
  return static_cast<const ServerHooks*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hooksIndex()));
}

// Runs on the ClientHello (again on the second one after a HelloRetryRequest, maybe after a reload replaced the
// worker's contexts: the SSL's own hold keeps these alive).
int onServerName(SSL* ssl, int*, void*) {
  const auto* held = static_cast<const Held*>(SSL_get_ex_data(ssl, heldIndex()));
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (held == nullptr || name == nullptr) return SSL_TLSEXT_ERR_OK;  // one certificate, or no SNI: the first
  SSL_CTX* chosen = (*held)->select(name);
  if (chosen != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, chosen) == nullptr) return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

// Opening: 1 = resume, 2 = resume and issue a new ticket. A TLS 1.3 resumption always gets a new ticket, as with
// OpenSSL's built-in keys (nginx, HAProxy): OpenSSL clients use a TLS 1.3 ticket once (RFC 8446 C.4), so without
// one every other connection of a client that reconnects (wrk with `Connection: close`, curl) was a full handshake.
int onTicketKey(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                int seal) {
  const ServerHooks* hooks = hooksOf(ssl);
  if (hooks == nullptr || hooks->tickets == nullptr) return seal != 0 ? -1 : 0;
  if (seal != 0) return hooks->tickets->seal(name, iv, cipher, mac) ? 1 : -1;
  const int opened = hooks->tickets->open(name, iv, cipher, mac);
  return opened == 1 && SSL_version(ssl) == TLS1_3_VERSION ? 2 : opened;
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
// bytes OpenSSL allows, whatever the name's length). The same for every certificate of the listener, so a ticket
// resumes whichever name the client asks for.
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

// Everything but the certificate, the same for every context of a listener (a handshake may move between them).
bool configureServerCtx(SSL_CTX* ctx, const config::ListenerTls& tls, std::string_view listener,
                        const ServerHooks* hooks) {
  setCommonOptions(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (!setSessionIdContext(ctx, listener)) return false;
  SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, &onServerName);
  setTickets(ctx, tls, hooks);
  if (hooks != nullptr) {
    SSL_CTX_set_ex_data(ctx, hooksIndex(), const_cast<ServerHooks*>(hooks));
    SSL_CTX_set_info_callback(ctx, &onInfo);
  }
  return true;
}

// The certificate's DNS names (subjectAltName), or its common name if it has none.
std::vector<std::string> certificateNames(SSL_CTX* ctx) {
  std::vector<std::string> names;
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return names;
  auto* alt = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; alt != nullptr && i < sk_GENERAL_NAME_num(alt); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_STRING* text = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<size_t>(ASN1_STRING_length(text)));
  }
  GENERAL_NAMES_free(alt);
  if (names.empty()) {
    char common[256] = "";
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, common, sizeof(common)) > 0) {
      names.emplace_back(common);
    }
  }
  return names;
}

// A context with one certificate chain and its key, or null with `*error`.
SSL_CTX* loadCertificate(const config::ListenerCertificate& entry, std::string* error) {
  // OpenSSL's fopen would wait forever on a FIFO: only regular files get that far.
  for (const auto& [what, path] : {std::pair{"certificate ", &entry.cert}, std::pair{"key ", &entry.key}}) {
    if (auto why = config::regularFileError(*path)) {
      *error = "cannot load " + std::string(what) + *path + ": " + *why;
      return nullptr;
    }
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    *error = lastError("cannot create TLS context");
    return nullptr;
  }
  if (!useCertificateAndKey(ctx, entry.cert, entry.key, error)) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::load(const config::ListenerTls& tls, std::string_view listener,
                                                   const ServerHooks* hooks, std::string* error, size_t* failed) {
  std::shared_ptr<TlsContext> context(new TlsContext());
  for (size_t i = 0; i < tls.certificates.size(); ++i) {
    if (failed != nullptr) *failed = i;
    CtxPtr ctx(loadCertificate(tls.certificates[i], error));
    if (!ctx) return nullptr;
    if (!configureServerCtx(ctx.get(), tls, listener, hooks)) {
      *error = lastError("cannot set up the TLS context");
      return nullptr;
    }
    auto names =
        tls.certificates[i].server_names.empty() ? certificateNames(ctx.get()) : tls.certificates[i].server_names;
    context->contexts_.push_back(std::move(ctx));
    context->addNames(i, std::move(names));
  }
  if (context->contexts_.empty()) {
    *error = "no certificate";
    return nullptr;
  }
  return context;
}

void TlsContext::addNames(size_t index, std::vector<std::string> names) {
  for (auto& name : names) {
    name = lowercase(name);
    if (name.starts_with("*.")) {
      wildcard_.try_emplace(name.substr(2), index);
    } else {
      exact_.try_emplace(name, index);
    }
  }
  names_.push_back(std::move(names));
}

SSL* TlsContext::newConnection() const {
  SSL* ssl = SSL_new(get());
  if (ssl == nullptr || contexts_.size() == 1) return ssl;  // nothing to choose: no hold, no allocation
  auto* held = new Held(shared_from_this());
  if (SSL_set_ex_data(ssl, heldIndex(), held) != 1) {
    delete held;
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

SSL_CTX* TlsContext::select(std::string_view server_name) const {
  const std::string name = lowercase(server_name);
  if (auto it = exact_.find(name); it != exact_.end()) return contexts_[it->second].get();
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) {
    if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return contexts_[it->second].get();
  }
  return get();
}

}  // namespace tether::tls
