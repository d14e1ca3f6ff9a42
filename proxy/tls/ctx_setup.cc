#include "tls/ctx_setup.h"

#include <openssl/err.h>

namespace tether::tls {

void setCommonOptions(SSL_CTX* ctx, uint64_t extra) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | extra);
}

bool useCertificateAndKey(SSL_CTX* ctx, const std::string& cert, const std::string& key, std::string* error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    *error = lastError("cannot load certificate " + cert);
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = lastError("cannot load key " + key);
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    *error = lastError("key " + key + " does not match certificate " + cert);
  } else {
    return true;
  }
  return false;
}

std::string lastError(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return what + ": " + text;
}

}  // namespace tether::tls
