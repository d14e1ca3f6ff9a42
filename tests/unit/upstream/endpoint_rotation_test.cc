// The endpoint choice both pools share: round-robin, skipping the excluded, the address-less and the full, and
// endpoints in back-off unless nothing else is left and nothing is excluded; addresses of an endpoint in turn.

#include "upstream/endpoint_rotation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tether::upstream {
namespace {

// `addresses[i]`: how many addresses endpoint i has (127.0.0.1:port, ports from 1000 + 10 * i).
config::Upstream upstreamWith(const std::vector<int>& addresses) {
  config::Upstream upstream;
  upstream.failure_backoff = config::Duration{60000};
  for (size_t i = 0; i < addresses.size(); ++i) {
    config::Endpoint endpoint;
    for (int a = 0; a < addresses[i]; ++a) {
      endpoint.addresses.push_back(
          *net::SocketAddress::parse("127.0.0.1:" + std::to_string(1000 + 10 * static_cast<int>(i) + a)));
    }
    upstream.endpoints.push_back(endpoint);
  }
  return upstream;
}

const auto kAlwaysRoom = [](size_t) { return true; };

TEST(EndpointRotation, GoesRoundRobin) {
  EndpointRotation rotation(upstreamWith({1, 1, 1}));
  std::vector<int> picked;
  for (int i = 0; i < 6; ++i) picked.push_back(rotation.pick(-1, kAlwaysRoom));
  EXPECT_EQ(picked, (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

TEST(EndpointRotation, SkipsTheExcludedTheAddresslessAndTheFull) {
  EndpointRotation rotation(upstreamWith({1, 0, 1, 1}));
  EXPECT_EQ(rotation.pick(0, kAlwaysRoom), 2);                               // 0 excluded, 1 has no address
  EXPECT_EQ(rotation.pick(-1, [](size_t index) { return index != 3; }), 0);  // 3 full
  EXPECT_EQ(rotation.pick(-1, [](size_t) { return false; }), -1);
}

TEST(EndpointRotation, BackedOffEndpointsOnlyAsALastResortWhenNothingIsExcluded) {
  EndpointRotation rotation(upstreamWith({1, 1}));
  rotation.markFailed(0);
  EXPECT_EQ(rotation.pick(-1, kAlwaysRoom), 1);
  EXPECT_EQ(rotation.pick(-1, kAlwaysRoom), 1);
  rotation.markFailed(1);
  EXPECT_EQ(rotation.pick(-1, kAlwaysRoom), 0);  // both backed off: the first in turn rather than none
  EXPECT_EQ(rotation.pick(0, kAlwaysRoom), -1);  // a retry elsewhere never goes to a backed-off endpoint
  rotation.markConnected(1);
  EXPECT_EQ(rotation.pick(0, kAlwaysRoom), 1);
}

TEST(EndpointRotation, HandsAnEndpointsAddressesInTurn) {
  EndpointRotation rotation(upstreamWith({1, 2}));
  EXPECT_EQ(rotation.nextAddress(1).port(), 1010);
  EXPECT_EQ(rotation.nextAddress(1).port(), 1011);
  EXPECT_EQ(rotation.nextAddress(1).port(), 1010);
  EXPECT_EQ(rotation.nextAddress(0).port(), 1000);
}

}  // namespace
}  // namespace tether::upstream
