#pragma once

// How one pool opens its connections: cleartext, or (with `tls:`, and always for `protocol: h2`) a TCP connect and
// a TLS client handshake with the pool's one context, its ALPN offer and each endpoint's SNI and expected name.
// Shared by the HTTP/1.1 and HTTP/2 pools, which also log their handshake failures through it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "log/logger.h"
#include "net/socket_address.h"
#include "net/socket_transport.h"
#include "tls/tls_client_context.h"

namespace tether::upstream {

class UpstreamTlsClient {
 public:
  struct Watermarks {
    size_t read_high = 0;
    size_t write_low = 0;
  };

  // `alpn`: the protocols connections offer ("http/1.1", or "h2" for HTTP/2). `io`: as for SocketTransport.
  UpstreamTlsClient(const config::Upstream& upstream, const std::vector<std::string>& alpn, event_base* base,
                    net::IoContext* io);
  // Where failures are logged (upstream_tls_failed); may stay unset.
  void setLogger(log::Logger* logger) { logger_ = logger; }

  bool enabled() const { return upstream_.tls.has_value(); }
  // False when TLS is on but its context failed to load (Server reported why at startup): logs that as this
  // connect's failure.
  bool ready(std::string_view endpoint_text) const;
  // Opens a connection to `address` of `endpoint` and starts its transport with `callbacks`: onConnected() once
  // connected (with TLS: once the handshake completed), onHandshakeFailed() if the handshake failed, onPeerGone(true)
  // if the TCP connect failed (refused at once too: reported from the loop). Null if no socket could be made or
  // OpenSSL refused to set up the connection.
  std::unique_ptr<net::SocketTransport> connect(size_t endpoint, const net::SocketAddress& address, Watermarks marks,
                                                net::TransportCallbacks& callbacks) const;
  // One upstream_tls_failed line (warn) for a connect to `endpoint_text`.
  void logFailure(std::string_view endpoint_text, std::string_view reason) const;

 private:
  // connect() without starting the transport.
  std::unique_ptr<net::SocketTransport> open(size_t endpoint, const net::SocketAddress& address) const;

  const config::Upstream& upstream_;
  event_base* base_;
  net::IoContext* io_;
  std::unique_ptr<tls::TlsClientContext> context_;  // null without TLS, or if it failed to load (error_)
  std::string error_;
  std::vector<tls::TlsClientContext::Peer> peers_;  // per endpoint: the SNI and the name its certificate must carry
  log::Logger* logger_ = nullptr;
};

}  // namespace tether::upstream
