#pragma once

// Which endpoint of an upstream the next connection goes to, shared by both pools: round-robin over the endpoints,
// skipping those without addresses or without room and preferring those not in back-off (a failed connect backs an
// endpoint off for failure_backoff), and round-robin over each endpoint's addresses. Single-threaded.

#include <chrono>
#include <cstddef>
#include <vector>

#include "config/config.h"
#include "net/socket_address.h"

namespace tether::upstream {

class EndpointRotation {
 public:
  explicit EndpointRotation(const config::Upstream& upstream);

  size_t size() const { return endpoints_.size(); }

  // The next endpoint round-robin, other than `exclude`, with addresses and for which has_room(index) holds; one not
  // backed off if there is one. A backed-off endpoint is still better than failing outright, but only when nothing is
  // excluded (`exclude` < 0): a retry elsewhere does not go to one. -1 when none.
  template <typename HasRoom>
  int pick(int exclude, HasRoom&& has_room) {
    const auto now = std::chrono::steady_clock::now();
    const size_t n = endpoints_.size();
    int fallback = -1;
    for (size_t i = 0; i < n; ++i) {
      const size_t index = (round_robin_ + i) % n;
      const auto& e = endpoints_[index];
      if (static_cast<int>(index) == exclude || e.addresses.empty()) continue;
      if (!has_room(index)) continue;
      if (e.backoff_until > now) {
        if (fallback < 0) fallback = static_cast<int>(index);
        continue;
      }
      round_robin_ = index + 1;
      return static_cast<int>(index);
    }
    if (fallback >= 0 && exclude < 0) round_robin_ = static_cast<size_t>(fallback) + 1;
    return exclude < 0 ? fallback : -1;
  }

  // The address the next connection to `endpoint` goes to (its addresses in turn); `endpoint` must have some.
  const net::SocketAddress& nextAddress(size_t endpoint);
  // A connect to `endpoint` failed: it is backed off for failure_backoff from now.
  void markFailed(size_t endpoint);
  // A connect to `endpoint` succeeded: its back-off ends.
  void markConnected(size_t endpoint) { endpoints_[endpoint].backoff_until = {}; }

 private:
  struct Endpoint {
    std::vector<net::SocketAddress> addresses;
    size_t next_address = 0;
    std::chrono::steady_clock::time_point backoff_until{};
  };

  std::vector<Endpoint> endpoints_;
  size_t round_robin_ = 0;
  config::Duration failure_backoff_;
};

}  // namespace tether::upstream
