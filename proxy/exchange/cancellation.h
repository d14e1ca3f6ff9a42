#pragma once

// Cancellation as a value: why an exchange ended early and where it was when it did. Recorded once by the
// Exchange (first reason wins) and read by the log and the metrics.

#include <string_view>

namespace tether {

enum class CancelReason {
  None,
  ClientClosed,        // client sent FIN while the request was in flight
  ClientReset,         // client connection reset (RST, ECONNRESET, EPIPE)
  DeadlineExceeded,    // the route's timeout expired
  Shutdown,            // drain timeout at exit
  DrainLimit,          // the client left, and the upstream ran past its grace
  StreamReset,         // HTTP/2 client RST_STREAM
  RequestBodyTimeout,  // the client sent no request body bytes for limits.request_body_timeout (408)
  SendTimeout,         // the client took no response bytes for limits.send_timeout
  UpstreamTimeout,     // the upstream sent no response head (response_timeout), no body bytes (read_timeout), or
                       // took no request body bytes (send_timeout) in time (504 if nothing was sent yet)
};
// Metric arrays are sized from this: a new reason goes before it and updates it.
inline constexpr CancelReason kLastCancelReason = CancelReason::UpstreamTimeout;

enum class Phase {
  ReadingRequest,     // request body still arriving
  Connecting,         // waiting for or opening an upstream connection
  AwaitingResponse,   // request sent, no response headers yet
  StreamingResponse,  // response headers sent to the client, body flowing
};

constexpr std::string_view toString(CancelReason r) {
  switch (r) {
    case CancelReason::None: return "none";
    case CancelReason::ClientClosed: return "client_closed";
    case CancelReason::ClientReset: return "client_reset";
    case CancelReason::DeadlineExceeded: return "deadline_exceeded";
    case CancelReason::Shutdown: return "shutdown";
    case CancelReason::DrainLimit: return "drain_limit";
    case CancelReason::StreamReset: return "stream_reset";
    case CancelReason::RequestBodyTimeout: return "request_body_timeout";
    case CancelReason::SendTimeout: return "send_timeout";
    case CancelReason::UpstreamTimeout: return "upstream_timeout";
  }
  return "unknown";
}

constexpr std::string_view toString(Phase p) {
  switch (p) {
    case Phase::ReadingRequest: return "reading_request";
    case Phase::Connecting: return "connecting";
    case Phase::AwaitingResponse: return "awaiting_response";
    case Phase::StreamingResponse: return "streaming_response";
  }
  return "unknown";
}

}  // namespace tether
