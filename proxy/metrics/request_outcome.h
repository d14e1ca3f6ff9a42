#pragma once

// What an Exchange reports to its worker's metrics when it ends (Exchange::finish()). The views are valid only
// during the call.

#include <cstddef>
#include <optional>
#include <string_view>

#include "exchange/cancellation.h"

namespace tether::metrics {

struct RequestOutcome {
  static constexpr size_t kNoRoute = static_cast<size_t>(-1);

  size_t route = kNoRoute;  // index into Config::routes
  std::string_view route_name;
  std::string_view method;
  std::string_view path;  // as logged (query only if log.include_query)
  std::string_view request_id;
  std::string_view protocol;
  std::string_view upstream;
  int status = 0;  // as logged: 499 when the client left
  double seconds = 0;
  std::optional<double> upstream_seconds;           // since the request was sent upstream, if it was
  CancelReason cancel_reason = CancelReason::None;  // None: not cancelled
  Phase cancel_phase = Phase::ReadingRequest;
  CancelReason gone_reason = CancelReason::None;  // the client left and the upstream ran on (policy)
  Phase gone_phase = Phase::ReadingRequest;
};

}  // namespace tether::metrics
