#pragma once

// A small PKI for upstream TLS tests, made with the openssl CLI: a CA, a server certificate it signed (localhost
// and 127.0.0.1) and a client certificate it signed (CN tether-client).

#include <string>

namespace tether::testing {

struct TestPki {
  std::string ca;  // the CA's certificate: what a `ca:` file trusts
  std::string ca_key;
  std::string server_cert;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;
  std::string client_cert;  // CN=tether-client
  std::string client_key;
};

// Writes the files into `dir`. Throws std::runtime_error if openssl fails.
TestPki makeTestPki(const std::string& dir);

}  // namespace tether::testing
