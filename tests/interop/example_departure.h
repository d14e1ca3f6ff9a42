#pragma once

// How a client of an example app (example_app.h) leaves while its request is in flight, behind tether: curl giving
// up at --max-time (it closes the connection: a FIN), a TCP reset (SO_LINGER 0), or an HTTP/2 RST_STREAM(CANCEL)
// of the request's stream over h2c or h2 over TLS (the connection stays open). For each, what tether logs.

#include <string>
#include <string_view>
#include <vector>

#include "support/any_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {

class ExampleApp;

enum class Departure { kCurlFin, kCurlH2TlsFin, kRst, kH2cStreamReset, kH2TlsStreamReset };

// "CurlFin", "CurlH2TlsFin", "Rst", "H2cStreamReset", "H2TlsStreamReset": for test names.
const char* name(Departure departure);
std::vector<Departure> everyDeparture();
// The client's protocol (for forClient(): a TLS listener for TLS clients).
ClientProtocol clientProtocol(Departure departure);
// What tether's request_cancelled line says: `reason` and `protocol`.
std::string expectedReason(Departure departure);
std::string expectedProtocol(Departure departure);

// Sends GET `path` with X-Request-Id `id` through `tether`, waits until `app` logged that the request started, then
// leaves as `departure` says (curl leaves by itself, after --max-time 3 s; the test waits for it to exit). False,
// with a test failure, if the request did not reach the app.
bool sendAndLeave(Departure departure, const TetherInstance& tether, const ExampleApp& app, std::string_view path,
                  const std::string& id);

// curl's path; the tests that use curl need it.
constexpr const char* kCurl = "/usr/bin/curl";

}  // namespace tether::testing
