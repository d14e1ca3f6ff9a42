#pragma once

// One client HTTP/2 connection (h2c with prior knowledge today). It owns the socket and the codec, turns codec
// events into per-stream events, and owns one Http2Stream per open stream. Each stream owns its Exchange, so one
// stream ending (RST_STREAM) cancels only that stream's upstream request. The connection ending cancels them all.
//
// Rapid Reset (CVE-2023-44487) and MadeYouReset: a stream's request is dispatched to its Exchange only after the
// whole batch of frames it arrived in was decoded and the resets it provoked were written, so a stream opened and
// reset in one read (by the client, or by tether because the client broke the protocol on it) never creates
// upstream work. Streams reset before their exchange completed, by either side, spend a token of a per-connection
// bucket (`limits.http2.reset_budget` at once, `reset_rate` per second); an empty bucket gets
// GOAWAY(ENHANCE_YOUR_CALM) and the connection is closed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "http2/server_codec.h"
#include "net/client_endpoint.h"
#include "net/transport.h"
#include "outcome/outcome.h"
#include "util/libevent.h"
#include "util/token_bucket.h"

namespace tether {

class SessionHost;
class Http2Stream;

class Http2Session : private http2::ServerCodecCallbacks, private net::TransportCallbacks {
 public:
  // Takes over `transport`, whose input buffer starts with the client preface. `on_closed` is called once, when the
  // connection is closed; the owner then deletes this session (deferred).
  Http2Session(SessionHost& worker, std::unique_ptr<net::Transport> transport, const net::ClientEndpoint& client,
               std::function<void()> on_closed);
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  void start();
  // Worker shutdown: cancel every stream in flight and close.
  void shutdown(Outcome reason);
  // Graceful drain: GOAWAY (shutdown notice, then the last stream id once a PING came back); streams in flight
  // finish, then the connection closes.
  void drain();

  // Stream-facing.
  SessionHost& worker() { return worker_; }
  http2::ServerCodec& codec() { return codec_; }
  const http2::ServerSettings& settings() const { return settings_; }
  const net::ClientEndpoint& client() const { return client_; }
  // "h2" over TLS (ALPN), "h2c" in cleartext.
  std::string_view protocol() const { return protocol_; }
  // Frames were queued: write them out on the next loop turn (never from inside the codec).
  void scheduleFlush();
  uint64_t resetsBeforeCompletion() const { return resets_before_completion_; }

 private:
  static void onFlush(evutil_socket_t, short, void* arg);
  static void onIdle(evutil_socket_t, short, void* arg);
  // A request head (HEADERS + CONTINUATION) still incomplete after limits.header_read_timeout: HTTP/1.1's 408
  // guard for HTTP/2. The header block blocks the whole connection, so the connection goes.
  static void onHeadTimeout(evutil_socket_t, short, void* arg);
  // limits.send_timeout for the whole connection: response bytes queued (in the socket's output or in streams
  // whose exchange already ended, or held back by the client's flow-control window) and none taken for that long.
  static void onSendCheck(evutil_socket_t, short, void* arg);
  static void onPingWait(evutil_socket_t, short, void* arg);
  void watchSending(size_t unsent);

  // net::TransportCallbacks
  void onReadable() override;
  void onDrained() override;
  void onPeerGone(bool reset) override;

  void flush();
  void dispatchPending();
  void cancelAll(Outcome reason, uint32_t h2_error);
  void noteEarlyReset();
  void updateIdleTimer();
  void disarmIdleTimer();
  void disarmHeadTimer();
  void close();
  Http2Stream* find(int32_t stream_id);

  // http2::ServerCodecCallbacks
  void onStreamBegin(int32_t stream_id) override;
  bool onHeader(int32_t stream_id, std::string_view name, std::string_view value) override;
  void onHeadersComplete(int32_t stream_id, bool trailers, bool end_stream) override;
  void onData(int32_t stream_id, const uint8_t* data, size_t len) override;
  void onRequestEnd(int32_t stream_id) override;
  void onStreamReset(int32_t stream_id, uint32_t error_code) override;
  void onStreamClose(int32_t stream_id, uint32_t error_code) override;
  void onGoaway(uint32_t error_code) override;
  void onPingAck() override;
  size_t readResponseBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end, bool* trailers) override;

  SessionHost& worker_;
  net::ClientEndpoint client_;
  std::unique_ptr<net::Transport> transport_;
  std::function<void()> on_closed_;
  http2::ServerSettings settings_;
  util::TokenBucket reset_tokens_;  // limits.http2.reset_budget / reset_rate
  std::string_view protocol_ = "h2c";
  http2::ServerCodec codec_;
  util::EventPtr flush_event_;
  util::EventPtr idle_timer_;
  util::EventPtr head_timer_;
  util::EventPtr send_timer_;
  util::EventPtr ping_wait_;  // drain: the final GOAWAY goes out after the PING ack, or after this at the latest
  size_t unsent_at_check_ = 0;
  std::chrono::steady_clock::time_point send_progress_;
  int32_t head_pending_ = 0;  // the stream whose header block is being received (one at a time, RFC 9113 6.10)
  // Whether idle_timer_ / head_timer_ are armed: known here, so a stream's set-up and teardown skip the event_del
  // (and the base's lock) of a timer that is not armed.
  bool idle_armed_ = false;
  bool head_armed_ = false;
  std::unordered_map<int32_t, std::unique_ptr<Http2Stream>> streams_;
  std::vector<int32_t> pending_dispatch_;  // heads complete in the current read, dispatched after it
  uint64_t resets_before_completion_ = 0;
  uint64_t streams_opened_ = 0;
  bool closing_ = false;   // GOAWAY queued: close once it is written
  bool draining_ = false;  // shutdown notice sent; the final GOAWAY follows the PING ACK
  bool final_goaway_ = false;
  bool closed_ = false;
};

}  // namespace tether
