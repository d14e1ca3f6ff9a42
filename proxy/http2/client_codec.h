#pragma once

// An HTTP/2 client codec without I/O, the mirror of ServerCodec: tether's side of a connection to an HTTP/2
// upstream. Requests go in through submitRequest(), bytes from the server through receive(), frames come out into
// an evbuffer through send(), and what the server did comes back through ClientCodecCallbacks. It knows nothing of
// routing, pools or exchanges; the upstream connection that owns it owns the socket.
//
// Flow control is manual (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE): response body bytes are credited back only through
// consumeStream/consumeConnection, when the client side has taken them, so a client that does not read stops the
// upstream instead of filling tether's memory.

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::http2 {

struct ClientSettings {
  uint32_t initial_window_size = 64 * 1024;     // per stream: response body in flight before tether consumes it
  uint32_t connection_window_size = 1 << 20;    // the connection's receive window
  uint32_t max_header_list_size = 64 * 1024;    // decoded response head size we accept
};

// Called from inside receive() and send(); they must not call receive() or send() again.
class ClientCodecCallbacks {
 public:
  virtual ~ClientCodecCallbacks() = default;
  // One response header field, pseudo-headers (":status") included; false resets the stream (PROTOCOL_ERROR).
  virtual bool onHeader(int32_t stream_id, std::string_view name, std::string_view value) = 0;
  // A response head is complete: interim (1xx) ones too (`interim`), the final one, or the trailers
  // (`trailers`). `end_stream`: nothing follows on this stream.
  virtual void onHeadersComplete(int32_t stream_id, bool interim, bool trailers, bool end_stream) = 0;
  virtual void onData(int32_t stream_id, const uint8_t* data, size_t len) = 0;
  // END_STREAM on a DATA frame: the response body is complete.
  virtual void onResponseEnd(int32_t stream_id) = 0;
  // The server sent RST_STREAM; onStreamClose follows.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  // The stream is gone from the codec, for whatever reason (completed, reset by either side, connection end).
  virtual void onStreamClose(int32_t stream_id, uint32_t error_code) = 0;
  // The server sent GOAWAY: streams above `last_stream_id` were never processed (safe to retry elsewhere).
  virtual void onGoaway(int32_t last_stream_id, uint32_t error_code) = 0;
  // The server's SETTINGS arrived (the first one too): how many streams it lets us open at once.
  virtual void onRemoteSettings(uint32_t max_concurrent_streams) = 0;
  // The server acknowledged our PING (submitPing).
  virtual void onPingAck() {}
  // Data provider: copy up to `len` request body bytes; 0 with no flags means "none yet" (deferred, resumed by
  // resumeData). Set `*end` when the body is complete, and `*trailers` when trailers follow the last DATA frame.
  virtual size_t readRequestBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end, bool* trailers) = 0;
};

class ClientCodec {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  ClientCodec(ClientCodecCallbacks& callbacks, const ClientSettings& settings);
  ClientCodec(const ClientCodec&) = delete;
  ClientCodec& operator=(const ClientCodec&) = delete;

  // Queues the client preface and SETTINGS. False if nghttp2 could not be set up.
  bool start();
  // Feeds server bytes; false on a connection error (the codec then queues GOAWAY: flush and close).
  bool receive(const uint8_t* data, size_t len);
  // Serializes queued frames into `out` until it holds `limit` bytes; false on a fatal error.
  bool send(evbuffer* out, size_t limit);
  bool wantsRead() const;
  bool wantsWrite() const;

  // A request: `fields` holds the pseudo-headers (":method", ":scheme", ":authority", ":path") first, then the
  // regular fields (lower-case names). with_body false ends the stream with the HEADERS frame; otherwise the body
  // comes from readRequestBody. Returns the new stream id, or a negative nghttp2 error (e.g. no stream ids left).
  int32_t submitRequest(const std::vector<Field>& fields, bool with_body);
  bool submitTrailers(int32_t stream_id, const std::vector<Field>& fields);
  // A vector for callers to collect the fields of one submit in, reused (no allocation per request once warm).
  std::vector<Field>& fieldScratch() { return field_scratch_; }
  // More request body is available for a deferred stream.
  void resumeData(int32_t stream_id);
  // RST_STREAM with `error_code` (NGHTTP2_CANCEL for a cancellation); onStreamClose follows from send().
  void resetStream(int32_t stream_id, uint32_t error_code);
  // Gives flow-control credit back for response body bytes the application has taken.
  void consumeStream(int32_t stream_id, size_t len);
  void consumeConnection(size_t len);
  // Liveness check of an idle connection; the server's ACK comes back through onPingAck.
  bool submitPing();
  // GOAWAY with `error_code`: tether opens no new streams on this connection.
  void terminate(uint32_t error_code);

  // Streams open now (submitted and not yet closed).
  size_t openStreams() const;
  // What the server lets us open at once (SETTINGS_MAX_CONCURRENT_STREAMS; 100 until its SETTINGS arrive, as
  // RFC 9113 suggests as a floor).
  uint32_t maxConcurrentStreams() const;

 private:
  struct SessionDelete {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };

  ClientCodecCallbacks& callbacks_;
  ClientSettings settings_;
  std::unique_ptr<nghttp2_session, SessionDelete> session_;
  std::vector<nghttp2_nv> nv_;  // reused by every submit
  std::vector<Field> field_scratch_;
};

}  // namespace tether::http2
