#include "support/test_pki.h"

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "support/process.h"

namespace tether::testing {
namespace {

void run(std::vector<std::string> argv) {
  argv.insert(argv.begin(), "/usr/bin/openssl");
  Process openssl(std::move(argv));
  if (openssl.waitExit(std::chrono::seconds(20)) != 0) throw std::runtime_error("openssl failed: " + openssl.output());
}

// A key and a certificate for `subject` signed by the CA, with the extensions in `extensions_file`.
void issue(const TestPki& pki, const std::string& dir, const std::string& name, const std::string& subject,
           const std::string& extensions) {
  const std::string key = dir + "/" + name + "-key.pem";
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << extensions << "\n";
  run({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
       csr, "-subj", subject});
  run({"x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", pki.ca_key, "-CAcreateserial", "-days", "2", "-out",
       dir + "/" + name + ".pem", "-extfile", ext});
}

}  // namespace

TestPki makeTestPki(const std::string& dir) {
  TestPki pki{dir + "/ca.pem",         dir + "/ca-key.pem", dir + "/server.pem",
              dir + "/server-key.pem", dir + "/client.pem", dir + "/client-key.pem"};
  run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pki.ca_key,
       "-out", pki.ca, "-days", "2", "-subj", "/CN=tether test CA"});
  issue(pki, dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  issue(pki, dir, "client", "/CN=tether-client", "extendedKeyUsage=clientAuth");
  return pki;
}

}  // namespace tether::testing
