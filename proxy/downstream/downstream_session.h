#pragma once

// One client HTTP/1.1 connection. It feeds the request codec, turns codec events into Exchange events, frames the
// response the Exchange hands back, and watches the connection: a client that leaves is reported to the exchange.
// Requests on one connection are served one at a time; pipelined bytes wait in the input buffer (bounded by the
// read high watermark) until the current exchange ends.

#include <chrono>
#include <memory>

#include "exchange/downstream_stream.h"
#include "exchange/exchange.h"
#include "http/http1_codec.h"
#include "http/message_writer.h"
#include "net/transport.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"
#include "util/timeout_list.h"

namespace tether {

class SessionHost;
class Http2Session;

class DownstreamSession : public util::Deletable,
                          public DownstreamStream,
                          private http::Http1CodecCallbacks,
                          private net::TransportCallbacks {
 public:
  DownstreamSession(SessionHost& worker, size_t listener, evutil_socket_t fd, const net::SocketAddress& client);
  ~DownstreamSession() override;
  DownstreamSession(const DownstreamSession&) = delete;
  DownstreamSession& operator=(const DownstreamSession&) = delete;

  void start();
  // The worker's TimeoutLists call this when the idle or header read timeout of `session` expires.
  static void onTimeout(void* session);
  size_t listener() const { return listener_; }
  // Worker shutdown: cancel what is in flight and close.
  void shutdown(Outcome reason);
  // Graceful drain: an idle connection that has received nothing closes now; one with a request (or part of one)
  // serves it, with `Connection: close`, and closes; HTTP/2 connections get GOAWAY.
  void drain();

  // DownstreamStream
  void sendResponseHead(http::MessageHead& head, bool no_body) override;
  void sendInterimResponse(const http::MessageHead& head) override;
  void sendResponseBody(const char* data, size_t len) override;
  void sendResponseEnd(const http::HeaderList* trailers) override;
  void sendLocalResponse(int status, std::string_view request_id, std::string_view message) override;
  size_t pendingOutput() const override;
  void pauseRequestBody() override;
  void resumeRequestBody() override;
  void startTunnel() override;
  void tunnelToClient(evbuffer* data) override;
  void abort() override;
  void onExchangeComplete() override;
  std::string_view protocol() const override { return "http/1.1"; }
  bool secure() const override { return tls_; }
  const net::ClientEndpoint& client() const override { return client_; }

 private:
  enum class TimerMode { None, Idle, Head };

  // net::TransportCallbacks
  void onReadable() override;
  // The output fell below the low watermark (or emptied): close if asked to, or let the exchange read on.
  void onDrained() override;
  // The client sent FIN (reset = false) or RST while it may have a request in flight.
  void onPeerGone(bool reset) override;
  void onHangup() override;

  // h2c with prior knowledge: the connection preface hands the socket to an Http2Session.
  void startHttp2();
  void handleParseError();
  void watchPeerClose(bool on);
  // Reads the TCP state: FIN received (CLOSE_WAIT) or reset (CLOSE) ends the exchange in flight.
  void checkPeer();
  // The output buffer, for writing a response: the transport writes it right after the current callback.
  evbuffer* output();
  void armTimer(TimerMode mode);
  void startNextRequest();
  // The client left: a request already read but not yet parsed is started first (see the definition).
  void startBufferedRequest();
  void closeAfterFlush();
  void closeNow();
  // Request bytes arrived (read or still in the socket): closing now would drop a request the client sent.
  bool received() const;

  // An HTTP/1.0 request without Host gets this connection's local address as its Host.
  void addLocalAuthority(http::MessageHead& head);

  // http::Http1CodecCallbacks
  void onMessageBegin() override;
  HeadAction onHead(http::MessageHead& head) override;
  void onBody(const char* data, size_t len) override;
  void onTrailers(const http::HeaderList& trailers) override;
  bool onMessageComplete() override;

  SessionHost& worker_;
  size_t listener_;
  net::ClientEndpoint client_;
  // The client connection. While an exchange is in flight its hangup reports (FIN/RST seen while tether is not
  // reading: backpressure, pipelined bytes waiting) are checked against the TCP state; `watching_` says so.
  std::unique_ptr<net::Transport> transport_;
  util::TimeoutEntry timeout_{this};
  size_t read_high_ = 0;  // the input buffer's high watermark: at it, the transport stops reading the client
  // Only while a request is being read or served: between keep-alive requests it goes back to the worker's pool.
  std::unique_ptr<http::Http1Codec> codec_;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<Http2Session> http2_;  // set once the client sent the HTTP/2 preface; owns the socket then
  const http::HeaderList* request_trailers_ = nullptr;

  http::BodyFraming response_framing_ = http::BodyFraming::None;
  TimerMode timer_mode_ = TimerMode::None;
  bool request_keep_alive_ = true;
  bool request_http10_ = false;
  bool request_complete_ = false;
  bool exchange_complete_ = false;
  bool close_after_response_ = false;
  bool reading_paused_ = false;
  bool tunnel_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool in_read_ = false;
  bool half_closed_ = false;
  bool watching_ = false;            // an exchange is in flight: a FIN or RST on the watch cancels it
  bool peer_check_pending_ = false;  // a hangup may have come before the exchange: check once the codec returns
  bool tls_ = false;                 // accepted on a `tls:` listener
  bool first_bytes_ = true;          // nothing read yet: the preface check is still to do
};

}  // namespace tether
