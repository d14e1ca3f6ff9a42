#pragma once

// One HTTP/1.1 connection to an upstream endpoint, and the UpstreamStream of the one request it carries at a time.
// It frames the request, translates the response codec's events into UpstreamStreamEvents for the exchange that
// started the request, and is owned by its UpstreamPool, which hands it out and takes it back (release/abort).

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>

#include "http/body_framing.h"
#include "http/http1_codec.h"
#include "net/socket_address.h"
#include "net/socket_transport.h"
#include "upstream/upstream_tls_client.h"
#include "upstream_api/upstream_error.h"
#include "upstream_api/upstream_stream.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether::upstream {

class UpstreamPool;

class UpstreamConnection : public util::Deletable,
                           public UpstreamStream,
                           private http::Http1CodecCallbacks,
                           private net::TransportCallbacks {
 public:
  enum class State { Connecting, Active, Idle, Tunnel, Closed };

  UpstreamConnection(UpstreamPool& pool, size_t endpoint, event_base* base, const net::SocketAddress& address);
  ~UpstreamConnection() override;

  // Starts a non-blocking connect, with a TLS handshake when `tls` is enabled (both count into `timeout`); false if
  // the socket could not even be created.
  bool connect(std::chrono::milliseconds timeout, const UpstreamTlsClient& tls);

  // UpstreamStream: what is written goes out in one write right after the current callback.
  void start(UpstreamStreamEvents& events, std::string_view method) override;
  void sendRequestHead(const http::MessageHead& head, http::BodyFraming framing) override;
  void sendRequestBody(const char* data, size_t len) override;
  void sendRequestBody(evbuffer* data) override;
  void sendRequestEnd(const http::HeaderList* trailers) override;
  void sendTunnelData(evbuffer* data) override;
  size_t pendingOutput() const override { return transport_ ? transport_->pendingOutput() : 0; }
  void pauseReading() override;  // in a tunnel too, while the client side is congested
  void resumeReading() override;
  void release(bool reusable) override;
  std::string_view abort(Outcome outcome) override;
  std::string_view peerAddress() const override { return address_text_; }

  State state() const { return state_; }
  size_t endpoint() const { return endpoint_; }
  const net::SocketAddress& address() const { return address_; }
  const std::string& addressText() const { return address_text_; }  // formatted once per connection
  uint32_t requestsServed() const { return requests_served_; }
  // True when the connection can carry another request: response complete, keep-alive on both ends.
  bool reusable() const;

  // Pool-facing.
  void becomeIdle(std::chrono::milliseconds idle_timeout);
  void becomeActive();
  void close(bool reset);
  std::list<UpstreamConnection*>::iterator idle_position_;

 private:
  enum class TimerMode { None, Connect, Idle };
  static void onTimer(evutil_socket_t, short, void* arg);
  void armTimer(TimerMode mode, std::chrono::milliseconds timeout);

  // net::TransportCallbacks
  void onReadable() override;
  void onDrained() override;
  void onPeerGone(bool reset) override;
  void onConnected() override;
  void onHandshakeFailed(std::string_view reason) override;

  void fail(UpstreamError error);
  void enterTunnel();
  // For writing the request: schedules the one flush after the current callback.
  evbuffer* output();

  // http::Http1CodecCallbacks
  HeadAction onHead(http::MessageHead& head) override;
  void onBody(const char* data, size_t len) override;
  void onTrailers(const http::HeaderList& trailers) override;
  bool onMessageComplete() override;

  UpstreamPool& pool_;
  size_t endpoint_;
  net::SocketAddress address_;
  std::string address_text_;
  std::unique_ptr<net::SocketTransport> transport_;
  util::EventPtr timer_;                    // bounds the connect, then the idle time in the pool
  TimerMode timer_mode_ = TimerMode::None;  // Idle: the idle timer is pending, even while the connection is active
  std::chrono::steady_clock::time_point idle_since_;  // when the connection last became idle
  std::chrono::steady_clock::time_point idle_due_;    // when the pending idle timer fires (at the latest)
  std::chrono::milliseconds idle_timeout_{0};
  http::Http1Codec codec_;
  UpstreamStreamEvents* exchange_ = nullptr;  // the exchange of the request in progress; null between requests
  http::BodyFraming request_framing_ = http::BodyFraming::None;
  State state_ = State::Connecting;
  bool response_complete_ = false;
  bool response_keep_alive_ = false;
  bool response_started_ = false;
  uint32_t requests_served_ = 0;
};

}  // namespace tether::upstream
