#include "support/protocol_matrix.h"

#include <mutex>

#include "support/admin_client.h"
#include "support/test_env.h"
#include "support/tls_client.h"

namespace tether::testing {

std::vector<ClientProtocol> matrixProtocols() {
  return {ClientProtocol::kH1, ClientProtocol::kH1Tls, ClientProtocol::kH2c, ClientProtocol::kH2Tls};
}

std::vector<MatrixCase> everyDeparture() {
  std::vector<MatrixCase> cases;
  for (const ClientProtocol protocol : matrixProtocols()) {
    cases.push_back({protocol, Leave::kFin});
    cases.push_back({protocol, Leave::kRst});
    if (isH2(protocol)) cases.push_back({protocol, Leave::kStreamReset});
    if (isTls(protocol)) cases.push_back({protocol, Leave::kCloseNotify});
  }
  return cases;
}

std::vector<MatrixCase> finOrStreamReset() {
  std::vector<MatrixCase> cases;
  for (const ClientProtocol protocol : matrixProtocols()) {
    cases.push_back({protocol, Leave::kFin});
    if (isH2(protocol)) cases.push_back({protocol, Leave::kStreamReset});
  }
  return cases;
}

std::string matrixCaseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  return std::string(name(info.param.protocol)) + name(info.param.how);
}

void PrintTo(const MatrixCase& c, std::ostream* out) { *out << name(c.protocol) << " " << name(c.how); }
void PrintTo(ClientProtocol protocol, std::ostream* out) { *out << name(protocol); }

std::string protocolName(const ::testing::TestParamInfo<ClientProtocol>& info) { return name(info.param); }

TetherOptions forClient(TetherOptions options, ClientProtocol protocol) {
  if (!isTls(protocol)) return options;
  static std::once_flag once;
  static CertificatePaths certificate;
  std::call_once(once, [] { certificate = makeSelfSignedCertificate(tempDir()); });
  options.tls_cert = certificate.cert;
  options.tls_key = certificate.key;
  return options;
}

double cancelledSample(const TetherInstance& tether, const std::string& route, const std::string& reason,
                       const std::string& phase, double at_least) {
  return waitForSample(
      tether,
      "tether_requests_cancelled_total{route=\"" + route + "\",reason=\"" + reason + "\",phase=\"" + phase + "\"}",
      at_least);
}

}  // namespace tether::testing
