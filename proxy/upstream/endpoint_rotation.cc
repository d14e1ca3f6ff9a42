#include "upstream/endpoint_rotation.h"

namespace tether::upstream {

EndpointRotation::EndpointRotation(const config::Upstream& upstream)
    : endpoints_(upstream.endpoints.size()), failure_backoff_(upstream.failure_backoff) {
  for (size_t i = 0; i < endpoints_.size(); ++i) endpoints_[i].addresses = upstream.endpoints[i].addresses;
}

const net::SocketAddress& EndpointRotation::nextAddress(size_t endpoint) {
  auto& e = endpoints_[endpoint];
  return e.addresses[e.next_address++ % e.addresses.size()];
}

void EndpointRotation::markFailed(size_t endpoint) {
  endpoints_[endpoint].backoff_until = std::chrono::steady_clock::now() + failure_backoff_;
}

}  // namespace tether::upstream
