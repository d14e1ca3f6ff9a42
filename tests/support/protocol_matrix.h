#pragma once

// The client side of the integration matrix: which protocols and ways of leaving a parameterised scenario runs for,
// test names for them, and the tether options that serve each protocol (a TLS listener for h2 over TLS).
//
// The expectation table. Every scenario asserts the same for every client; only these differ by protocol:
//
//   client        | FIN            | TCP RST       | RST_STREAM(CANCEL)                      | `protocol` field
//   HTTP/1.1      | client_closed  | client_reset  | -                                       | http/1.1
//   h2c           | client_closed  | client_reset  | stream_reset, h2_error CANCEL           | h2c
//   h2 over TLS   | client_closed  | client_reset  | stream_reset, h2_error CANCEL           | h2
//   (TLS clients also leave with a close_notify alone, no FIN: client_closed, as a FIN)
//
// Closing an HTTP/2 connection cancels every stream on it with the connection's reason, as for HTTP/1.1; a
// RST_STREAM cancels only its stream and the connection stays open. The same for every client:
//
//   scenario (test)                            | phase              | line(s)                        | upstream
//   ReadingRequest (10 of 1000 body bytes)     | reading_request    | cancelled 499, bytes_received 10 | closed < 5 s,
//   not reused QueuedForConnection (1 connection, busy)   | connecting         | cancelled 499, endpoint null   | never
//   sees the request ConnectInProgress (SYN dropped)            | connecting         | cancelled 499, endpoint null   |
//   connect abandoned AwaitingResponse                           | awaiting_response  | cancelled 499,
//   upstream_elapsed_ms | closed < 5 s, not reused StreamingResponse (50 MiB trickle)         | streaming_response |
//   cancelled 499, bytes_sent >= 32 KiB | closed < 5 s RouteTimeout (300 ms)                      | awaiting_response
//   | cancelled 504 deadline_exceeded | closed at the deadline policy mode: ignore / method not in methods |
//   awaiting_response | client_gone ended completed    | runs to completion, pooled policy grace expires / grace_bytes
//   exceeded | awaiting_response | client_gone drain_limit + cancelled drain_limit | closed policy ignore + route
//   timeout              | awaiting_response  | client_gone + cancelled deadline_exceeded 504 | closed at the deadline
//   half_close: wait, then a reset             | awaiting_response  | cancelled (the reset's reason) | closed < 3 s
//
// Each also checks: exactly one request_cancelled line for the request (client_gone for the policies), the counter
// tether_requests_cancelled_total{route, reason, phase} (or requests_client_gone_total) at 1, and that the next
// request from the same kind of client is served over a new upstream connection.
// HTTP/1.1 only, as the behaviour has no HTTP/2 counterpart: pipelining, a half-close under half_close: wait (an h2
// request's half-close is END_STREAM), back-pressure with pipelined backlogs.

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
// Where the HTTP/1.1 suite has FIN and RST: those for every protocol, plus RST_STREAM for HTTP/2 and close_notify
// for TLS.
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
