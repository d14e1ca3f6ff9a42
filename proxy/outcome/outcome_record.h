#pragma once

// What one exchange was, built once when it ends (Exchange::end()) and read by the one renderer (the log line and
// the /cancellations entry) and by the metrics. The views point into the exchange and are valid only during
// that call.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "outcome/outcome.h"

namespace tether {

struct OutcomeRecord {
  using Duration = std::chrono::steady_clock::duration;
  static constexpr size_t kNoRoute = static_cast<size_t>(-1);

  // How the client left while the route's policy let the upstream run on.
  struct Departure {
    Outcome how = Outcome::ClientClosed;  // ClientClosed, ClientReset or StreamReset
    Phase phase = Phase::ReadingRequest;
    Duration ran_on{};  // from the client leaving to the end
  };

  Outcome outcome = Outcome::Completed;
  Phase phase = Phase::ReadingRequest;  // where the exchange was when it ended (or when the client left)
  std::optional<Departure> departure;

  size_t route = kNoRoute;  // index into Config::routes
  std::string_view route_name;
  std::string_view method;
  std::string_view path;  // as logged (query only if log.include_query)
  std::string_view request_id;
  std::string_view client;
  std::string_view protocol;
  std::string_view upstream;
  std::string_view endpoint;  // empty: no upstream connection carried the request
  std::string_view h2_error;  // how an HTTP/2 client broke off; empty otherwise

  // The upstream side's protocol and what tether sent to stop its work (request events, docs/logging.md).
  std::string_view upstream_protocol;  // "http1", "h2c" or "h2"; empty: no upstream was chosen (null)
  // An HTTP/2 upstream stream's RST_STREAM error code by name ("CANCEL"); an HTTP/1.1 connection closed for the
  // cancellation: its cancel_with ("rst", "fin"); empty: nothing was sent (null).
  std::string_view upstream_reset;

  int status = 0;           // sent to the client, or what tether logs for it (499: the client left)
  int upstream_status = 0;  // the upstream's final status; 0 if none arrived
  Duration elapsed{};
  std::optional<Duration> upstream_elapsed;  // since the request was handed to an upstream connection, if it was
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_discarded = 0;

  // The request's W3C traceparent, when it carried one valid field: its trace-id and parent-id as the lowercase hex
  // they were sent in (trace_id and parent_span_id in the request events); nullopt otherwise (both null).
  struct Trace {
    char trace_id[32];
    char parent_span_id[16];
  };
  std::optional<Trace> trace;

  // gRPC requests (Content-Type application/grpc...) only; empty / nullopt for any other request.
  std::string_view grpc_method;    // "/pkg.Service/Method": the request path
  std::optional<int> grpc_status;  // the upstream's grpc-status (trailers or Trailers-Only head), or tether's own

  bool cancelled() const { return isCancellation(outcome); }
  // The status counted in requests_total: 499 whenever the client left.
  int countedStatus() const { return departure ? 499 : status; }
};

}  // namespace tether
