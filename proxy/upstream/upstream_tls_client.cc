#include "upstream/upstream_tls_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace tether::upstream {

UpstreamTlsClient::UpstreamTlsClient(const config::Upstream& upstream, const std::vector<std::string>& alpn,
                                     event_base* base, net::IoContext* io)
    : upstream_(upstream), base_(base), io_(io) {
  if (!upstream.tls) return;
  context_ = tls::TlsClientContext::load(*upstream.tls, alpn, &error_);
  peers_.reserve(upstream.endpoints.size());
  for (const auto& endpoint : upstream.endpoints) {
    peers_.push_back(tls::TlsClientContext::peerFor(*upstream.tls, endpoint.host));
  }
}

bool UpstreamTlsClient::ready(std::string_view endpoint_text) const {
  if (!enabled() || context_) return true;
  logFailure(endpoint_text, error_);
  return false;
}

UpstreamTlsClient::Connect UpstreamTlsClient::connect(size_t endpoint, const net::SocketAddress& address,
                                                      Watermarks marks, net::TransportCallbacks& callbacks,
                                                      UpstreamTransport* out) const {
  const Connect result = open(endpoint, address, out);
  if (result != Connect::Started) return result;
  out->get().setWatermarks(marks.read_high, marks.write_low);
  out->get().start(callbacks);
  return result;
}

UpstreamTlsClient::Connect UpstreamTlsClient::open(size_t endpoint, const net::SocketAddress& address,
                                                   UpstreamTransport* out) const {
  if (!context_) {
    *out = UpstreamTransport(net::SocketTransport::connect(base_, address, io_));
    return *out ? Connect::Started : Connect::Failed;
  }
  // The TCP connect starts here, the handshake once it is done.
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return Connect::Failed;
  if (::connect(fd, address.sockaddr_ptr(), address.length()) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return Connect::Refused;
  }
  auto transport = tls::TlsTransport::connect(base_, *context_, peers_[endpoint], fd);  // owns fd, even on failure
  if (!transport) return Connect::Failed;
  *out = UpstreamTransport(std::move(transport));
  return Connect::Started;
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
