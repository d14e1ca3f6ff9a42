#pragma once

// How a client of an example app (example_app.h) leaves while its request is in flight, behind tether: curl giving
// up at --max-time (it closes the connection: a FIN), a TCP reset (SO_LINGER 0), or an HTTP/2 RST_STREAM(CANCEL)
// of the request's stream over h2c or h2 over TLS (the connection stays open). For each, what tether logs; and the
// checks on both sides (the app's line, tether's) after it, or after a request that completes.

#include <string>
#include <string_view>
#include <vector>

#include "support/any_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {

class ExampleApp;

enum class Departure { kCurlFin, kCurlH2cFin, kCurlH2TlsTimeout, kRst, kH2cStreamReset, kH2TlsStreamReset };

// "CurlFin", "CurlH2cFin", "CurlH2TlsTimeout", "Rst", "H2cStreamReset", "H2TlsStreamReset": for test names.
const char* name(Departure departure);
std::vector<Departure> everyExampleDeparture();
// The client's protocol (for forClient(): a TLS listener for TLS clients).
ClientProtocol clientProtocol(Departure departure);
// What tether's request_cancelled line says: `reason` (any of these) and `protocol`. curl over TLS closes its socket
// at --max-time with TLS bytes from tether still unread (session tickets, HTTP/2 frames), which the kernel answers
// with a reset rather than a FIN: client_reset, or client_closed when nothing was left unread.
std::vector<std::string> expectedReasons(Departure departure);
std::string expectedProtocol(Departure departure);

// Sends GET `path` with X-Request-Id `id` through `tether`, waits until `app` logged that the request `started_id`
// (`id` if empty; the id of a downstream call the request makes) started, then leaves as `departure` says: curl
// leaves by itself, after --max-time 3 s, and the test waits for it to exit; the other clients stay open until
// tether logged request_cancelled for `id` (a socket closed at once could turn a RST_STREAM into a TCP reset that
// discards it). False, with a test failure, if the request did not reach the app.
bool sendAndLeave(Departure departure, const TetherInstance& tether, const ExampleApp& app, std::string_view path,
                  const std::string& id, const std::string& started_id = "");

// After a departure: the app's `request cancelled` line for `id`, and (checked after tether stopped: every line is
// written then) exactly one request_cancelled line of tether's for it, in phase awaiting_response, with one of
// `reasons` and `protocol`. The delay from tether's line to the app's is printed ("cancel delay"), recorded as the
// test property cancel_delay_ms, and bounded at 5 s: a guard against "never" only. Stops tether.
void expectCancelledOnBothSides(TetherInstance& tether, const ExampleApp& app, const std::string& id,
                                const std::vector<std::string>& reasons, const std::string& protocol);

// The negative: curl GET /fast with X-Request-Id `id` through `tether` completes, the app logs `request completed`,
// and neither side cancels anything (tether's log checked after it stopped). Stops tether.
void expectCompletesWithoutCancellation(TetherInstance& tether, const ExampleApp& app, const std::string& id);

// curl's path; the tests that use curl need it.
constexpr const char* kCurl = "/usr/bin/curl";

}  // namespace tether::testing
