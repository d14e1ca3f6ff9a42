#pragma once

// What the server contexts (TlsContext) and the client contexts (TlsClientContext) set up alike.

#include <openssl/ssl.h>

#include <cstdint>
#include <string>

namespace tether::tls {

// The options every SSL_CTX of tether has, listener or upstream, plus `extra` (SSL_OP_* flags): TLS 1.2 at least;
// whole records per recv (read-ahead: one read, not header then body; the transport frees the record buffers while
// idle, not after every record as SSL_MODE_RELEASE_BUFFERS would); no renegotiation (neither HTTP/2 nor tether
// needs it).
void setCommonOptions(SSL_CTX* ctx, uint64_t extra = 0);

// Loads `cert` (a PEM chain) and its `key` into `ctx` and checks that they match; false with `*error` if not.
bool useCertificateAndKey(SSL_CTX* ctx, const std::string& cert, const std::string& key, std::string* error);

// "<what>: <OpenSSL's oldest queued error>" ("unknown error" when none is queued); clears the error queue.
std::string lastError(const std::string& what);

}  // namespace tether::tls
