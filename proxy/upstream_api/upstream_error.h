#pragma once

// Why an upstream could not be had, or failed while serving a request: what an UpstreamStream (or the source it
// was asked of) reports to its exchange, whatever the protocol.

namespace tether::upstream {

enum class UpstreamError {
  ConnectRefused,     // connection refused or unreachable: 502
  ConnectTimeout,     // no connection within connect_timeout: 504
  ConnectionLost,     // the upstream closed or reset before the response ended: 502
  MalformedResponse,  // the response broke the protocol's rules: 502
  QueueTimeout,       // no connection slot freed in time: 503
};

}  // namespace tether::upstream
