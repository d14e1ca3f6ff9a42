#include "tls/tls_client_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <deque>
#include <utility>

#include "config/config_loader.h"
#include "tls/ctx_setup.h"

namespace tether::tls {
namespace {

bool isAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// ALPN's wire format: each protocol prefixed by its length.
std::string alpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& protocol : protocols) {
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

// The last session given to each key's connections. Owned by the SSL_CTX (ex_data, freed with it), not by
// TlsClientContext: a connection may outlive its pool (a reload) and still be given a ticket. Contexts are per
// worker, so one thread uses a store.
struct SessionStore {
  struct Slot {
    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { SSL_SESSION_free(session); }  // null: nothing
    SSL_SESSION* session = nullptr;
  };
  // Each SSL points at its key's slot (SSL ex_data): a deque keeps them where they are as keys are added.
  Slot& slot(size_t key) {
    while (slots.size() <= key) slots.emplace_back();
    return slots[key];
  }
  std::deque<Slot> slots;
};

void freeStore(void*, void* store, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<SessionStore*>(store); }

int storeIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &freeStore);
  return index;
}

// An SSL's slot in its context's store.
int slotIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SessionStore* storeOf(SSL_CTX* ctx) { return static_cast<SessionStore*>(SSL_CTX_get_ex_data(ctx, storeIndex())); }

// A new session (with TLS 1.3: a ticket after the handshake) replaces its key's last one.
int onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionStore::Slot*>(SSL_get_ex_data(ssl, slotIndex()));
  if (slot == nullptr) return 0;  // not kept: OpenSSL frees it
  SSL_SESSION_free(slot->session);
  slot->session = session;
  return 1;  // the reference is the store's now
}

// Client-side session reuse: new sessions go to onNewSession only (no OpenSSL cache to look up or lock).
void enableResumption(SSL_CTX* ctx) {
  auto* store = new SessionStore;
  if (SSL_CTX_set_ex_data(ctx, storeIndex(), store) != 1) {
    delete store;  // full handshakes every time: slower, not wrong
    return;
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &onNewSession);
}

}  // namespace

std::unique_ptr<TlsClientContext> TlsClientContext::load(const config::UpstreamTls& tls,
                                                         const std::vector<std::string>& alpn, std::string* error) {
  // OpenSSL's fopen would wait forever on a FIFO: only regular files get that far.
  for (const auto& [what, path] :
       {std::pair{"ca ", &tls.ca}, std::pair{"certificate ", &tls.certificate}, std::pair{"key ", &tls.key}}) {
    if (path->empty()) continue;
    if (auto why = config::regularFileError(*path)) {
      *error = "cannot load " + std::string(what) + *path + ": " + *why;
      return nullptr;
    }
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) {
    *error = lastError("cannot create TLS context");
    return nullptr;
  }
  std::unique_ptr<TlsClientContext> context(new TlsClientContext(raw, tls.verify));
  setCommonOptions(raw);
  enableResumption(raw);
  const int trusted = tls.ca.empty() ? SSL_CTX_set_default_verify_paths(raw)
                                     : SSL_CTX_load_verify_locations(raw, tls.ca.c_str(), nullptr);
  if (trusted != 1) {
    *error = lastError(tls.ca.empty() ? "cannot load the system's trusted CAs" : "cannot load ca " + tls.ca);
    return nullptr;
  }
  SSL_CTX_set_verify(raw, tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!tls.certificate.empty() && !useCertificateAndKey(raw, tls.certificate, tls.key, error)) return nullptr;
  const std::string wire = alpnWire(alpn);
  // SSL_CTX_set_alpn_protos returns 0 on success, unlike the rest of OpenSSL.
  if (!wire.empty() && SSL_CTX_set_alpn_protos(raw, reinterpret_cast<const unsigned char*>(wire.data()),
                                               static_cast<unsigned>(wire.size())) != 0) {
    *error = lastError("cannot set ALPN");
    return nullptr;
  }
  return context;
}

TlsClientContext::Peer TlsClientContext::peerFor(const config::UpstreamTls& tls, const std::string& host) {
  if (!tls.server_name.empty()) return {tls.server_name, tls.server_name};
  return {isAddress(host) ? std::string() : host, host};
}

SSL* TlsClientContext::newConnection(const Peer& peer) const {
  SSL* ssl = SSL_new(ctx_.get());
  if (ssl == nullptr) return nullptr;
  bool ok = peer.server_name.empty() || SSL_set_tlsext_host_name(ssl, peer.server_name.c_str()) == 1;
  if (SessionStore* store = storeOf(ctx_.get()); ok && store != nullptr) {
    SessionStore::Slot& slot = store->slot(peer.session_key);
    ok = SSL_set_ex_data(ssl, slotIndex(), &slot) == 1;
    // The same session may be offered by several connections at once (as nginx's proxy_ssl_session_reuse does).
    if (ok && slot.session != nullptr && SSL_SESSION_is_resumable(slot.session) == 1) {
      ok = SSL_set_session(ssl, slot.session) == 1;
    }
  }
  if (ok && verify_ && !peer.host.empty()) {
    // An address is matched against the certificate's IP SANs, a name against its DNS names (RFC 6125).
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = isAddress(peer.host) ? X509_VERIFY_PARAM_set1_ip_asc(param, peer.host.c_str()) == 1
                              : SSL_set1_host(ssl, peer.host.c_str()) == 1;
  }
  if (!ok) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  return ssl;
}

}  // namespace tether::tls
