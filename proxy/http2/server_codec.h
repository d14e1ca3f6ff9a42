#pragma once

// An HTTP/2 server codec without I/O: bytes go in through receive(), frames come out into an evbuffer through
// send(), and what the client did comes back through ServerCodecCallbacks. It knows nothing of routing or
// upstreams; the session that owns it owns the socket.

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

// The client connection preface (RFC 9113 3.4).
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch { Match, NoMatch, NeedMore };
// Whether the first bytes of a connection are (so far) the client preface.
PrefaceMatch matchPreface(std::string_view first_bytes);

struct ServerSettings {
  uint32_t max_concurrent_streams = 100;
  uint32_t initial_window_size = 64 * 1024;
  uint32_t max_header_list_size = 64 * 1024;
  // nghttp2's own token bucket on RST_STREAM from the client: a burst, then a rate per second.
  uint64_t reset_burst = 1000;
  uint64_t reset_rate = 33;
};

// Called from inside receive() and send(); they must not call receive() or send() again.
class ServerCodecCallbacks {
 public:
  virtual ~ServerCodecCallbacks() = default;
  // A client stream opened with a HEADERS frame (not for trailers).
  virtual void onStreamBegin(int32_t stream_id) = 0;
  // One header field, pseudo-headers included; false rejects the stream (RST_STREAM PROTOCOL_ERROR).
  virtual bool onHeader(int32_t stream_id, std::string_view name, std::string_view value) = 0;
  // The request head (trailers = false) or the request trailers (trailers = true) are complete.
  virtual void onHeadersComplete(int32_t stream_id, bool trailers, bool end_stream) = 0;
  virtual void onData(int32_t stream_id, const uint8_t* data, size_t len) = 0;
  // END_STREAM on a DATA frame: the request body is complete.
  virtual void onRequestEnd(int32_t stream_id) = 0;
  // The client sent RST_STREAM; onStreamClose follows.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  // The stream is gone from the codec, for whatever reason (completed, reset by either side, connection end).
  virtual void onStreamClose(int32_t stream_id, uint32_t error_code) = 0;
  virtual void onGoaway(uint32_t error_code) = 0;
  // The client acknowledged a PING (the one submitShutdownNotice() sent).
  virtual void onPingAck() {}
  // Data provider: copy up to `len` response body bytes; 0 with no flags means "none yet" (deferred). Set
  // `*end` when the body is complete, and `*trailers` when trailers follow the last DATA frame.
  virtual size_t readResponseBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end, bool* trailers) = 0;
};

class ServerCodec {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  ServerCodec(ServerCodecCallbacks& callbacks, const ServerSettings& settings);
  ServerCodec(const ServerCodec&) = delete;
  ServerCodec& operator=(const ServerCodec&) = delete;

  // Queues the server SETTINGS. False if nghttp2 could not be set up.
  bool start();
  // Feeds client bytes; false on a connection error (the codec then queues GOAWAY: flush and close).
  bool receive(const uint8_t* data, size_t len);
  // Serializes queued frames into `out` until it holds `limit` bytes; false on a fatal error.
  bool send(evbuffer* out, size_t limit);
  // Serializes the queued frames other than DATA (whatever `out` holds: nghttp2 bounds how many it queues), so
  // streams the codec reset are closed before their requests would be dispatched.
  bool sendControl(evbuffer* out);
  bool wantsRead() const;
  bool wantsWrite() const;

  // `fields` excludes ":status"; with_body false ends the stream with the HEADERS frame.
  bool submitResponse(int32_t stream_id, int status, const std::vector<Field>& fields, bool with_body);
  bool submitInterim(int32_t stream_id, int status, const std::vector<Field>& fields);
  bool submitTrailers(int32_t stream_id, const std::vector<Field>& fields);
  // A vector for callers to collect the fields of one submit in, reused (no allocation per response once warm).
  std::vector<Field>& fieldScratch() { return field_scratch_; }
  // More response body is available for a deferred stream.
  void resumeData(int32_t stream_id);
  void resetStream(int32_t stream_id, uint32_t error_code);
  // Gives flow-control credit back for request body bytes the application has taken.
  void consumeStream(int32_t stream_id, size_t len);
  void consumeConnection(size_t len);
  // GOAWAY with `error_code`; no new streams are accepted.
  void terminate(uint32_t error_code);
  // Graceful shutdown, first step (RFC 9113 6.8): GOAWAY with stream id 2^31-1, then a PING. Streams the client
  // opened meanwhile are still served; the PING's ACK (onPingAck) says the client has seen the GOAWAY.
  bool submitShutdownNotice();
  // Second step: GOAWAY(NO_ERROR) with the last stream id processed. Streams up to it finish; the session wants
  // neither to read nor to write once they have.
  bool submitFinalGoaway();

 private:
  struct SessionDelete {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };

  static int onBeginFrame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user);
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onHeaderField(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                           const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user);
  static int onStreamClosed(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                          nghttp2_data_source*, void* user);

  ServerCodecCallbacks& callbacks_;
  ServerSettings settings_;
  SessionMemory memory_;  // before session_: the session frees into it while it is deleted
  std::unique_ptr<nghttp2_session, SessionDelete> session_;
  std::vector<nghttp2_nv> nv_;  // reused by every submit
  FieldIndexing indexing_;      // this connection's HPACK encoder: which never-indexed names it has sent once
  std::vector<Field> field_scratch_;
};

}  // namespace tether::http2
