#pragma once

// The client side of the integration matrix: which protocols and ways of leaving a parameterised scenario runs for,
// test names for them, and the tether options that serve each protocol (a TLS listener for h2 over TLS).
//
// Reasons by protocol and departure (the same table as cancelReason()):
//
//   client        | FIN            | TCP RST       | RST_STREAM(CANCEL)
//   HTTP/1.1      | client_closed  | client_reset  | -
//   h2c, h2 (TLS) | client_closed  | client_reset  | stream_reset (only that stream; the connection goes on)
//
// Closing an HTTP/2 connection cancels every stream on it with the connection's reason, as for HTTP/1.1.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "support/any_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {

struct MatrixCase {
  ClientProtocol protocol;
  Leave how;
};
// For gtest's messages: "H2c StreamReset".
void PrintTo(const MatrixCase& c, std::ostream* out);
void PrintTo(ClientProtocol protocol, std::ostream* out);

// The clients of the matrix: HTTP/1.1, h2c and h2 over TLS.
std::vector<ClientProtocol> matrixProtocols();
// Where the HTTP/1.1 suite has FIN and RST: those for every protocol, plus RST_STREAM for HTTP/2.
std::vector<MatrixCase> everyDeparture();
// Where the HTTP/1.1 suite has only a FIN: a FIN for every protocol, plus RST_STREAM for HTTP/2.
std::vector<MatrixCase> finOrStreamReset();

// "H2TlsStreamReset", "H1Fin", ...; "H2c" for a protocol alone.
std::string matrixCaseName(const ::testing::TestParamInfo<MatrixCase>& info);
std::string protocolName(const ::testing::TestParamInfo<ClientProtocol>& info);

// `options` with a TLS listener when `protocol` runs over TLS (one self-signed certificate per test process).
TetherOptions forClient(TetherOptions options, ClientProtocol protocol);

// tether_requests_cancelled_total{route, reason, phase} once it reached `at_least` (up to 30 s), or what it is then.
double cancelledSample(const TetherInstance& tether, const std::string& route, const std::string& reason,
                       const std::string& phase, double at_least = 1);

}  // namespace tether::testing
