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

#include "http2/field_indexing.h"
#include "http2/session_memory.h"

namespace tether::http2 {

struct ClientSettings {
  uint32_t initial_window_size = 64 * 1024;   // per stream: response body in flight before tether consumes it
  uint32_t connection_window_size = 1 << 20;  // the connection's receive window
  uint32_t max_header_list_size = 64 * 1024;  // decoded response head size we accept
};

// Called from inside receive() and send(); they must not call receive() or send() again.
class ClientCodecCallbacks {
 public:
  virtual ~ClientCodecCallbacks() = default;
  // One response header field, pseudo-headers (":status") included; false resets the stream (RST_STREAM
  // INTERNAL_ERROR, nghttp2's choice). A head or trailers above max_header_list_size reset it the same way.
  virtual bool onHeader(int32_t stream_id, std::string_view name, std::string_view value) = 0;
  // A response head is complete: interim (1xx) ones too (`interim`), the final one, or the trailers
  // (`trailers`). `end_stream`: nothing follows on this stream.
  virtual void onHeadersComplete(int32_t stream_id, bool interim, bool trailers, bool end_stream) = 0;
  virtual void onData(int32_t stream_id, const uint8_t* data, size_t len) = 0;
  // END_STREAM on a DATA frame: the response body is complete.
  virtual void onResponseEnd(int32_t stream_id) = 0;
  // The server sent RST_STREAM; onStreamClose follows.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  // The stream is gone from the codec, for whatever reason (completed, reset by either side, refused by GOAWAY,
  // reset or refused before its HEADERS left). Once per submitted stream while the connection lives; after a
  // connection error or terminate(), the owner fails the streams left itself.
  // Response bytes onData delivered still count against the connection window: consumeConnection them even if
  // the stream is gone.
  virtual void onStreamClose(int32_t stream_id, uint32_t error_code) = 0;
  // The server sent GOAWAY: streams above `last_stream_id` were never processed (safe to retry elsewhere).
  virtual void onGoaway(int32_t last_stream_id, uint32_t error_code) = 0;
  // The server's SETTINGS arrived (the first one too): how many streams it lets us open at once.
  virtual void onRemoteSettings(uint32_t max_concurrent_streams) = 0;
  // The server acknowledged our PING (submitPing).
  virtual void onPingAck() {}
  // An RST_STREAM of ours went out (serialized by send(); a reset of a request whose HEADERS never left sends
  // nothing and is not reported): what the server counts against its Rapid Reset defence.
  virtual void onResetSent(int32_t /*stream_id*/, uint32_t /*error_code*/) {}
  // Data provider: copy up to `len` request body bytes; 0 with no flags means "none yet" (deferred, resumed by
  // resumeData). Set `*end` when the body is complete, and `*trailers` when trailers follow the last DATA frame:
  // then call submitTrailers (from inside this call is fine; before it, the trailers would overtake the body).
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

  // Whether nghttp2 copies a request's names and values (Copied) or keeps pointing at the caller's (Kept: no copy,
  // no allocation for them). Kept asks the caller to leave the strings unchanged until the stream's close is
  // reported (onStreamClose): nghttp2 reads them when it serializes the HEADERS frame, which may wait for a stream
  // slot. A request reset while still queued is dropped by nghttp2 without reading them.
  enum class FieldLifetime : uint8_t { Copied, Kept };

  // A request: `fields` holds the pseudo-headers (":method", ":scheme", ":authority", ":path") first, then the
  // regular fields (lower-case names). with_body false ends the stream with the HEADERS frame; otherwise the body
  // comes from readRequestBody. Returns the new stream id, or a negative nghttp2 error (e.g. no stream ids left).
  int32_t submitRequest(const std::vector<Field>& fields, bool with_body,
                        FieldLifetime lifetime = FieldLifetime::Copied);
  bool submitTrailers(int32_t stream_id, const std::vector<Field>& fields);
  // A vector for callers to collect the fields of one submit in, reused (no allocation per request once warm).
  std::vector<Field>& fieldScratch() { return field_scratch_; }
  // More request body is available for a deferred stream.
  void resumeData(int32_t stream_id);
  // RST_STREAM with `error_code` (NGHTTP2_CANCEL for a cancellation); onStreamClose follows from send(). A
  // request still queued (its HEADERS waiting for a stream slot) is dropped without a frame, and closes in the
  // next send() too (wantsWrite() says so).
  void resetStream(int32_t stream_id, uint32_t error_code);
  // Gives flow-control credit back for response body bytes the application has taken.
  void consumeStream(int32_t stream_id, size_t len);
  void consumeConnection(size_t len);
  // Liveness check of an idle connection; the server's ACK comes back through onPingAck.
  bool submitPing();
  // GOAWAY with `error_code`: tether opens no new streams on this connection.
  void terminate(uint32_t error_code);
  // A graceful GOAWAY(NO_ERROR) from our side (RFC 9113 6.8: a client may send one too): no new streams from us;
  // the open ones finish, then wantsRead() and wantsWrite() turn false and the owner closes. Last stream id 0:
  // the server opens no streams to us (push is off). False if nghttp2 refused it.
  bool submitGoaway();

  // Streams open now (submitted and not yet closed).
  size_t openStreams() const;
  // What the server lets us open at once (SETTINGS_MAX_CONCURRENT_STREAMS; 100 until its SETTINGS arrive, as
  // RFC 9113 suggests as a floor; 2^32-1, unlimited, if they leave it out). nghttp2 holds back requests beyond it.
  uint32_t maxConcurrentStreams() const;

 private:
  struct SessionDelete {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };
  // What the header block being received is, from its ":status" (a response head always has one, trailers never:
  // nghttp2 enforces both). Header blocks never interleave (RFC 9113 6.10), so one value serves every stream.
  enum class Block : uint8_t { Trailers, Interim, Final };

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onHeaderField(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                           const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user);
  static int onStreamClosed(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                          nghttp2_data_source*, void* user);
  void streamClosed(int32_t stream_id, uint32_t error_code);
  void reportUnsentResets();
  // Takes `stream_id` out of open_; false if it was not there (its close reported already).
  bool forget(int32_t stream_id);

  // A request reset while its HEADERS was queued: nghttp2 drops it only once a stream slot frees, which may be
  // never, so the next send() reports the close itself; nghttp2's later one finds it no longer open.
  struct UnsentReset {
    int32_t stream_id;
    uint32_t error_code;
  };

  ClientCodecCallbacks& callbacks_;
  ClientSettings settings_;
  SessionMemory memory_;  // before session_: the session frees into it while it is deleted
  std::unique_ptr<nghttp2_session, SessionDelete> session_;
  std::vector<nghttp2_nv> nv_;  // reused by every submit
  FieldIndexing indexing_;      // this connection's HPACK encoder: which never-indexed names it has sent once
  std::vector<Field> field_scratch_;
  std::vector<int32_t> open_;  // submitted, close not yet reported; few, so a vector (no allocation once warm)
  std::vector<UnsentReset> unsent_resets_;  // closes for send() to report
  Block block_ = Block::Trailers;
  size_t block_size_ = 0;  // RFC 9113 6.5.2's size of the header block being received
};

}  // namespace tether::http2
