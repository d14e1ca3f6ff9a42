#include "tls/tls_context.h"

#include <openssl/err.h>

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

}  // namespace

std::unique_ptr<TlsContext> TlsContext::load(const config::ListenerTls& tls, std::string* error) {
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
  // Whole records per recv (one read, not header then body); buffers are freed by the transport when idle, not
  // after every record (SSL_MODE_RELEASE_BUFFERS). No renegotiation: neither HTTP/2 nor tether needs it.
  SSL_CTX_set_read_ahead(raw, 1);
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
  SSL_CTX_set_alpn_select_cb(raw, &selectAlpn, nullptr);
  return context;
}

}  // namespace tether::tls
