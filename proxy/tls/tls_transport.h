#pragma once

// TLS Transport of upstream connections: a bufferevent_openssl on a socket tether is connecting (client handshake).
// Client connections use SocketTransport with a TlsLayer (tls_layer.h) instead. OpenSSL decides when bytes move, so
// this one keeps libevent's buffering; it adds what bufferevents lack: a watch that notices the client's FIN or RST
// while tether is not reading (see TransportCallbacks::onHangup).

#include <memory>

#include "net/transport.h"
#include "tls/tls_client_context.h"
#include "util/libevent.h"

namespace tether::tls {

class TlsTransport final : public net::Transport {
 public:
  // Takes ownership of `fd`, a non-blocking socket whose connect is in progress or done. The handshake with `peer`
  // starts once the socket is writable; onConnected() follows when it completed, onHandshakeFailed() when it failed
  // and onPeerGone(true) when the TCP connect did. Null if OpenSSL could not set up the connection.
  static std::unique_ptr<TlsTransport> connect(event_base* base, const TlsClientContext& context,
                                               const TlsClientContext::Peer& peer, int fd);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  void start(net::TransportCallbacks& callbacks) override;
  void setCallbacks(net::TransportCallbacks& callbacks) override { callbacks_ = &callbacks; }
  void setWatermarks(size_t read_high, size_t write_low) override;
  evbuffer* input() override { return bufferevent_get_input(bev_.get()); }
  evbuffer* output() override { return bufferevent_get_output(bev_.get()); }
  void scheduleFlush() override {}  // libevent writes as soon as the output has bytes
  size_t pendingOutput() const override { return evbuffer_get_length(bufferevent_get_output(bev_.get())); }
  void setReading(bool on) override;
  void wake() override;
  bool hangupSeen() const override { return hangup_seen_; }
  int fd() const override { return static_cast<int>(bufferevent_getfd(bev_.get())); }
  bool secure() const override { return true; }
  bool alpnH2() const override;

 private:
  TlsTransport(event_base* base, bufferevent* bev, int fd, bool connecting);
  // A failed client handshake: reported as onHandshakeFailed with OpenSSL's reason, or as onPeerGone when the
  // TCP connect itself failed (`socket_error`: errno as the failing read or write left it).
  void failConnect(short what, int socket_error);
  static void onRead(bufferevent*, void* arg);
  static void onWrite(bufferevent*, void* arg);
  static void onEvent(bufferevent*, short what, void* arg);
  static void onWatch(evutil_socket_t, short, void* arg);
  static void onWake(evutil_socket_t, short, void* arg);

  util::BufferEventPtr bev_;
  // A duplicate descriptor lets this watch be edge-triggered (libevent refuses to mix ET and level-triggered
  // events on one fd): it wakes once per arrival of data, FIN or RST and never spins on unread bytes.
  util::FileDescriptor watch_fd_;
  util::EventPtr watch_;
  util::EventPtr wake_;
  net::TransportCallbacks* callbacks_ = nullptr;
  size_t read_high_ = 0;
  bool reading_ = true;
  bool hangup_seen_ = false;
  bool connecting_ = false;  // a client handshake is in progress
};

}  // namespace tether::tls
