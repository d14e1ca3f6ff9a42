#pragma once

// One HTTP/1.1 connection to an upstream endpoint. It translates the response codec's events into events for the
// exchange bound to it, and is owned by its UpstreamPool, which hands it out and takes it back.

#include <chrono>
#include <cstdint>
#include <list>

#include "http/http1_codec.h"
#include "net/socket_address.h"
#include "net/socket_transport.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether::upstream {

class UpstreamPool;

enum class UpstreamError {
  ConnectRefused,     // connection refused or unreachable: 502
  ConnectTimeout,     // no connection within connect_timeout: 504
  ConnectionLost,     // the upstream closed or reset before the response ended: 502
  MalformedResponse,  // the response broke HTTP/1.1 rules: 502
  QueueTimeout,       // no connection slot freed in time: 503
};

// Events an UpstreamConnection delivers to the exchange bound to it.
class UpstreamConnectionCallbacks {
 public:
  virtual ~UpstreamConnectionCallbacks() = default;
  virtual http::Http1CodecCallbacks::HeadAction onResponseHead(http::MessageHead& head) = 0;
  virtual void onResponseBody(const char* data, size_t len) = 0;
  virtual void onResponseTrailers(const http::HeaderList& trailers) = 0;
  // Called for interim (1xx) responses too; returns true when the codec should pause.
  virtual bool onResponseComplete() = 0;
  // Called when the request bytes queued towards the upstream fall below the low watermark.
  virtual void onUpstreamDrained() = 0;
  virtual void onUpstreamError(UpstreamError error) = 0;
  // Tunnel mode (after 101): bytes from the upstream, and its close.
  virtual void onTunnelData(evbuffer* input) = 0;
  virtual void onTunnelClosed() = 0;
};

class UpstreamConnection : public util::Deletable, private http::Http1CodecCallbacks, private net::TransportCallbacks {
 public:
  enum class State { Connecting, Active, Idle, Tunnel, Closed };

  UpstreamConnection(UpstreamPool& pool, size_t endpoint, event_base* base, const net::SocketAddress& address,
                     net::IoContext* io = nullptr);
  ~UpstreamConnection() override;

  // Starts a non-blocking connect; false if the socket could not even be created.
  bool connect(std::chrono::milliseconds timeout);

  void bind(UpstreamConnectionCallbacks* exchange, std::string_view method);
  void unbind();

  // For writing the request: what is added goes out in one write right after the current callback.
  evbuffer* output();
  size_t outputLength() const { return transport_ ? transport_->pendingOutput() : 0; }
  void pauseReading();
  void resumeReading();
  void enterTunnel();
  // Tunnel: stop/resume reading while the client side is congested.

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

  void fail(UpstreamError error);

  // http::Http1CodecCallbacks
  HeadAction onHead(http::MessageHead& head) override;
  void onBody(const char* data, size_t len) override;
  void onTrailers(const http::HeaderList& trailers) override;
  bool onMessageComplete() override;

  UpstreamPool& pool_;
  size_t endpoint_;
  net::SocketAddress address_;
  std::string address_text_;
  event_base* base_;
  net::IoContext* io_;
  std::unique_ptr<net::SocketTransport> transport_;
  util::EventPtr timer_;  // bounds the connect, then the idle time in the pool
  TimerMode timer_mode_ = TimerMode::None;
  http::Http1Codec codec_;
  UpstreamConnectionCallbacks* exchange_ = nullptr;
  State state_ = State::Connecting;
  bool response_complete_ = false;
  bool response_keep_alive_ = false;
  bool response_started_ = false;
  uint32_t requests_served_ = 0;
};

}  // namespace tether::upstream
