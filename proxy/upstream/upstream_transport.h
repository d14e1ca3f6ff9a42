#pragma once

// The transport of one upstream connection: cleartext (net::SocketTransport) or TLS (tls::TlsTransport). Both
// classes are final, so each call here is a predictable branch and a direct call: the cleartext path pays no
// virtual dispatch for having a TLS sibling.

#include <memory>

#include "net/socket_transport.h"
#include "tls/tls_transport.h"

namespace tether::upstream {

class UpstreamTransport {
 public:
  UpstreamTransport() = default;
  explicit UpstreamTransport(std::unique_ptr<net::SocketTransport> plain) : plain_(std::move(plain)) {}
  explicit UpstreamTransport(std::unique_ptr<tls::TlsTransport> tls) : tls_(std::move(tls)) {}

  explicit operator bool() const { return plain_ || tls_; }
  // The transport as its interface, for what is rare (start, close).
  net::Transport& get() const { return plain_ ? static_cast<net::Transport&>(*plain_) : *tls_; }
  void reset() {
    plain_.reset();
    tls_.reset();
  }

  evbuffer* input() const { return plain_ ? plain_->input() : tls_->input(); }
  evbuffer* output() const { return plain_ ? plain_->output() : tls_->output(); }
  void scheduleFlush() const {
    if (plain_) plain_->scheduleFlush();  // TLS writes as soon as its output has bytes
  }
  size_t pendingOutput() const { return plain_ ? plain_->pendingOutput() : tls_->pendingOutput(); }
  void setReading(bool on) const {
    if (plain_) {
      plain_->setReading(on);
    } else {
      tls_->setReading(on);
    }
  }

 private:
  std::unique_ptr<net::SocketTransport> plain_;
  std::unique_ptr<tls::TlsTransport> tls_;
};

}  // namespace tether::upstream
