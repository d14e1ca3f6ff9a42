// TLS client pieces shared by the macro benchmark tools that speak HTTPS (fixed_rate --tls, tls_connect).
// OpenSSL with its defaults (TLS 1.2/1.3, its default suites and groups), no certificate verification: the
// harness makes a throwaway self-signed certificate per run, and what is measured is the proxy, not the PKI.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

#include "common.h"

namespace bench {

// A client context offering `alpn` (wire format, e.g. "\x08http/1.1"; empty = no ALPN). With `sessionCache`
// the context keeps client sessions (tickets) so that a caller can hand the last one to the next connection.
inline SSL_CTX* makeClientCtx(const std::string& alpn, bool sessionCache) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (!alpn.empty())
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()), unsigned(alpn.size()));
  SSL_CTX_set_session_cache_mode(
      ctx, sessionCache ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE : SSL_SESS_CACHE_OFF);
  return ctx;
}

// What the connection negotiated, as a JSON object: {"version":"TLSv1.3","suite":...,"group":...,"alpn":...}.
inline std::string negotiatedJson(SSL* ssl) {
  const unsigned char* alpn = nullptr;
  unsigned alpnLen = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  int nid = SSL_get_negotiated_group(ssl);
  const char* group = nid != NID_undef ? OBJ_nid2sn(nid) : "";
  std::string out = "{\"version\":\"" + std::string(SSL_get_version(ssl)) + "\",\"suite\":\"" +
                    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)) + "\",\"group\":\"" + (group ? group : "") +
                    "\",\"alpn\":\"" + std::string(reinterpret_cast<const char*>(alpn), alpnLen) + "\"}";
  return out;
}

// Blocking handshake on a connected blocking socket (set-up before a measurement); nullptr on failure.
inline SSL* blockingHandshake(SSL_CTX* ctx, int fd) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

}  // namespace bench
