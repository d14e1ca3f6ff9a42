#pragma once

// One HTTP/2 connection to an upstream endpoint, cleartext with prior knowledge (h2c) or TLS with ALPN h2, carrying
// many Http2UpstreamStreams at once. It owns the socket and the ClientCodec, dispatches the codec's events to its
// streams by id, and writes what the codec produces after every receive, submit or hand-back, from one deferred flush
// per loop turn (which is also where finished streams go back to the pool: never while one of their callbacks runs).
//
// Life: Connecting (requesters wait in its own WaiterQueue) -> Ready -> Draining (GOAWAY received, retired, or past
// the upstream's reset_budget: no new streams; it closes once its streams are done) -> Closed. While it carries no
// stream it is idle: a PING checks liveness after half the keep-alive idle timeout, and it closes at the timeout.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http2/client_codec.h"
#include "net/socket_address.h"
#include "net/socket_transport.h"
#include "upstream/upstream_tls_client.h"
#include "upstream/waiter_queue.h"
#include "upstream_api/upstream_error.h"
#include "util/deferred_deleter.h"
#include "util/libevent.h"

namespace tether::upstream {

class Http2UpstreamPool;
class Http2UpstreamStream;

class Http2UpstreamConnection : public util::Deletable,
                                private http2::ClientCodecCallbacks,
                                private net::TransportCallbacks {
 public:
  enum class State { Connecting, Ready, Draining, Closed };
  // Streams per connection at most, whatever the server allows: beyond it the pool opens another connection.
  static constexpr uint32_t kMaxStreams = 100;

  Http2UpstreamConnection(Http2UpstreamPool& pool, size_t endpoint, event_base* base, const net::SocketAddress& address,
                          const config::Upstream& upstream);
  ~Http2UpstreamConnection() override;
  Http2UpstreamConnection(const Http2UpstreamConnection&) = delete;
  Http2UpstreamConnection& operator=(const Http2UpstreamConnection&) = delete;

  // Starts the non-blocking connect, and the TLS handshake when `tls` is enabled (both count into connect_timeout);
  // false if no socket could be created.
  bool connect(const UpstreamTlsClient& tls);
  // Closes the socket now and forgets the streams (the caller failed them first). Idempotent.
  void close();
  // Closes, and fails every stream still carried (ConnectionLost; finished ones go back to the pool).
  void failStreams();

  State state() const { return state_; }
  size_t endpoint() const { return endpoint_; }
  const std::string& addressText() const { return address_text_; }
  // Streams carried now (submitted or waiting for their head), and how many it may carry at most.
  size_t streamCount() const { return streams_.size(); }
  size_t capacity() const;
  // Ready and not draining, with room for one more stream.
  bool hasRoom() const { return state_ == State::Ready && streams_.size() < capacity(); }
  bool idle() const { return state_ == State::Ready && streams_.empty(); }
  // No new streams from now on; closes once the last one is done.
  void drain();
  // Requesters waiting for this connection to be ready.
  WaiterQueue& waiters() { return waiters_; }

  // Pool-facing: carry `stream` (bound to us already); its request goes out once its head is known.
  void attach(Http2UpstreamStream& stream);

  // Stream-facing.
  http2::ClientCodec& codec() { return codec_; }
  void scheduleFlush();
  bool connected() const { return state_ == State::Ready || state_ == State::Draining; }

 private:
  enum class TimerMode { None, Connect, IdlePing, PingAck, IdleClose, Closing };

  // net::TransportCallbacks
  void onReadable() override;
  void onDrained() override { flush(); }
  void onPeerGone(bool reset) override;
  void onConnected() override;
  void onHandshakeFailed(std::string_view reason) override;

  // http2::ClientCodecCallbacks
  bool onHeader(int32_t stream_id, std::string_view name, std::string_view value) override;
  void onHeadersComplete(int32_t stream_id, bool interim, bool trailers, bool end_stream) override;
  void onData(int32_t stream_id, const uint8_t* data, size_t len) override;
  void onResponseEnd(int32_t stream_id) override;
  void onStreamReset(int32_t stream_id, uint32_t error_code) override;
  void onStreamClose(int32_t stream_id, uint32_t error_code) override;
  void onGoaway(int32_t last_stream_id, uint32_t error_code) override;
  void onRemoteSettings(uint32_t max_concurrent_streams) override;
  void onPingAck() override;
  void onResetSent(int32_t stream_id, uint32_t error_code) override;
  size_t readRequestBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end, bool* trailers) override;

  Http2UpstreamStream* find(int32_t stream_id);
  // Writes the codec's frames, gives finished streams back to the pool, reports drained streams, and decides
  // whether the connection is idle, full or done. Runs after every receive and from the deferred flush event.
  void flush();
  static void onFlushEvent(evutil_socket_t, short, void* arg);
  // failStreams(), and tells the pool the connection is gone.
  void fail();
  void updateIdleTimer();
  // The reset-storm guard: counts one RST_STREAM of ours in the sliding window; past reset_budget the connection
  // stops taking streams and sends GOAWAY(NO_ERROR) (drains), so the server's Rapid Reset limit is never reached.
  void countReset();
  void armTimer(TimerMode mode, std::chrono::milliseconds timeout);
  static void onTimer(evutil_socket_t, short, void* arg);

  Http2UpstreamPool& pool_;
  size_t endpoint_;
  net::SocketAddress address_;
  std::string address_text_;
  const config::Upstream& upstream_;
  std::unique_ptr<net::SocketTransport> transport_;
  http2::ClientCodec codec_;
  util::EventPtr flush_event_;
  util::EventPtr timer_;
  TimerMode timer_mode_ = TimerMode::None;
  State state_ = State::Connecting;
  uint32_t peer_max_streams_ = kMaxStreams;
  std::vector<Http2UpstreamStream*> streams_;  // attached: submitted, or waiting to be (connecting, no head yet)
  std::vector<Http2UpstreamStream*> refused_;  // refused by the server, retryable: handed to the pool in flush()
  std::vector<Http2UpstreamStream*> refused_scratch_;  // flush()'s copy of refused_ while it retries them
  std::vector<Http2UpstreamStream*> scratch_;          // reused by flush()
  size_t last_found_ = 0;  // index in streams_ of find()'s last answer, where the next search starts
  WaiterQueue waiters_;
  std::deque<std::chrono::steady_clock::time_point> resets_;  // our RST_STREAMs within reset_window, oldest first
  bool settings_room_ = false;  // the server's SETTINGS allowed more streams: serve the queue from flush()
  bool flush_scheduled_ = false;
  bool in_flush_ = false;
};

}  // namespace tether::upstream
