#include "upstream/upstream_tls_client.h"

#include "tls/tls_layer.h"

namespace tether::upstream {

UpstreamTlsClient::UpstreamTlsClient(const config::Upstream& upstream, const std::vector<std::string>& alpn,
                                     event_base* base, net::IoContext* io)
    : upstream_(upstream), base_(base), io_(io) {
  if (!upstream.tls) return;
  context_ = tls::TlsClientContext::load(*upstream.tls, alpn, &error_);
  peers_.reserve(upstream.endpoints.size());
  for (const auto& endpoint : upstream.endpoints) {
    peers_.push_back(tls::TlsClientContext::peerFor(*upstream.tls, endpoint.host));
    peers_.back().session_key = peers_.size() - 1;  // a session goes back to the endpoint that issued it
  }
}

bool UpstreamTlsClient::ready(std::string_view endpoint_text) const {
  if (!enabled() || context_) return true;
  logFailure(endpoint_text, error_);
  return false;
}

std::unique_ptr<net::SocketTransport> UpstreamTlsClient::connect(size_t endpoint, const net::SocketAddress& address,
                                                                 Watermarks marks,
                                                                 net::TransportCallbacks& callbacks) const {
  auto transport = open(endpoint, address);
  if (!transport) return nullptr;
  transport->setWatermarks(marks.read_high, marks.write_low);
  transport->start(callbacks);
  return transport;
}

std::unique_ptr<net::SocketTransport> UpstreamTlsClient::open(size_t endpoint,
                                                              const net::SocketAddress& address) const {
  // The same transport either way: with TLS its record layer runs the handshake once the TCP connect is done.
  if (!context_) return net::SocketTransport::connect(base_, address, io_);
  return tls::connectTls(base_, address, *context_, peers_[endpoint], io_);
}

void UpstreamTlsClient::logFailure(std::string_view endpoint_text, std::string_view reason) const {
  if (logger_ == nullptr || !logger_->enabled(log::Level::Warn)) return;
  logger_->line("upstream_tls_failed", log::Level::Warn)
      .field("upstream", std::string_view(upstream_.name))
      .field("endpoint", endpoint_text)
      .field("error", reason);
  logger_->emit();
}

}  // namespace tether::upstream
