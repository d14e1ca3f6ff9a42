#pragma once

// Requests to tether's admin listener from integration tests, and reading samples out of its /metrics text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/raw_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {

// One request to the admin listener (TetherInstance returns once it accepts); a failed attempt is retried for
// up to 30 s, a bound only a broken admin listener reaches.
std::optional<RawClient::Response> adminRequest(uint16_t admin_port, std::string_view path,
                                                std::string_view method = "GET");
inline std::optional<RawClient::Response> adminRequest(const TetherInstance& tether, std::string_view path,
                                                       std::string_view method = "GET") {
  return adminRequest(tether.adminPort(), path, method);
}

// GET /metrics; a test failure if it does not answer 200.
std::string scrape(const TetherInstance& tether);

// The value of the sample written exactly as `series` (name and labels), 0 if absent.
double sampleValue(const std::string& text, const std::string& series);

// Waits until the sample reaches `at_least` (a worker counts an exchange as it ends, which may be a moment
// after the client read its response), then returns it; gives up after 30 s.
double waitForSample(const TetherInstance& tether, const std::string& series, double at_least);
// The same until the sample drops to `at_most` (a gauge), e.g. idle upstream connections after a close.
double waitForSampleAtMost(const TetherInstance& tether, const std::string& series, double at_most);

}  // namespace tether::testing
