#pragma once

// One request on a multiplexed HTTP/2 upstream connection: the UpstreamStream an exchange talks to. It turns the
// HTTP/1.1-shaped request head into HTTP/2 fields, feeds the request body to the codec's data provider from its own
// buffer, and turns the codec's events for its stream id into UpstreamStreamEvents.
//
// Owned by the Http2UpstreamPool and reused (its buffers and field vectors keep their capacity): the pool hands it
// out bound to a connection, the exchange hands it back once (release/abort), and the connection gives it back to
// the pool only once the codec has closed the stream too, from its own deferred flush (never while one of the
// stream's callbacks is on the stack). A stream can move to another connection before anything of its request was
// sent (a GOAWAY or REFUSED_STREAM retry).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message_head.h"
#include "upstream_api/upstream_error.h"
#include "upstream_api/upstream_stream.h"
#include "util/libevent.h"

namespace tether::upstream {

class Http2UpstreamConnection;
class Http2UpstreamPool;

class Http2UpstreamStream final : public UpstreamStream {
 public:
  Http2UpstreamStream() = default;
  Http2UpstreamStream(const Http2UpstreamStream&) = delete;
  Http2UpstreamStream& operator=(const Http2UpstreamStream&) = delete;
  ~Http2UpstreamStream() = default;

  // UpstreamStream
  // The method needs no note here: a HEAD response's body is refused by the exchange (ResponseBody::None).
  void start(UpstreamStreamEvents& events, std::string_view method) override;
  void sendRequestHead(const http::MessageHead& head, http::BodyFraming framing) override;
  void sendRequestBody(const char* data, size_t len) override;
  void sendRequestBody(evbuffer* data) override;
  void sendRequestEnd(const http::HeaderList* trailers) override;
  // No tunnels over HTTP/2 (a request asking for an Upgrade fails before this): the bytes are dropped.
  void sendTunnelData(evbuffer* data) override;
  size_t pendingOutput() const override { return body_ ? evbuffer_get_length(body_.get()) : 0; }
  void pauseReading() override { paused_ = true; }
  void resumeReading() override;
  void release(bool reusable) override;
  std::string_view abort(Outcome outcome) override;
  std::string_view peerAddress() const override;

  // Pool-facing: a fresh request on `connection` (state of the previous one cleared, capacity kept).
  void bind(Http2UpstreamPool& pool, Http2UpstreamConnection& connection);
  Http2UpstreamConnection* connection() const { return connection_; }
  // A retry: the request goes to `connection` as a new stream (nothing of it reached the old one's server).
  void moveTo(Http2UpstreamConnection& connection);
  // The exchange handed it back and the codec has closed it: the pool may reuse it.
  bool finished() const { return !bound_ && !open_; }
  // Nothing of the request has reached the server's processing (no body byte taken by the codec, no response):
  // after a refusal it can go to another connection as it is.
  bool retryable() const { return !response_started_ && body_taken_ == 0 && attempts_ < 2; }

  // Connection-facing. submit() sends the request if its head is known; the codec events for our id come next.
  void submit();
  int32_t id() const { return id_; }
  bool open() const { return open_; }
  bool onHeader(std::string_view name, std::string_view value);
  void onHeadersComplete(bool interim, bool trailers, bool end_stream);
  void onData(const uint8_t* data, size_t len);
  void onResponseEnd();
  // The codec closed the stream. Returns true when the stream should be retried elsewhere (refused, retryable):
  // the connection then hands it to the pool instead of failing it.
  bool onClosed(uint32_t error_code);
  size_t readBody(uint8_t* buf, size_t len, bool* end, bool* trailers);
  // The connection is gone (or the stream could not be placed): report `error` once, and forget the connection.
  void failDetached(UpstreamError error);
  // Request body fell to the low watermark after being above it: tells the exchange (from the connection's flush).
  void notifyDrained();
  // Deferred failures (a request with Upgrade): reported from the connection's flush, outside the exchange's call.
  void reportDeferredError();

 private:
  void buildRequestFields(const http::MessageHead& head);
  void deliverError(UpstreamError error);
  // RST_STREAM(error_code) on our stream; the first code sent is what abort() reports.
  void reset(uint32_t error_code);
  // Resets the stream on the wire if the codec still has it (CANCEL), and hands the stream back.
  void handBack();
  void resumeBody();

  Http2UpstreamPool* pool_ = nullptr;
  Http2UpstreamConnection* connection_ = nullptr;
  UpstreamStreamEvents* events_ = nullptr;
  bool bound_ = false;  // the exchange holds it (onUpstreamReady .. release/abort)
  bool open_ = false;   // submitted and its close not yet reported by the codec
  int32_t id_ = 0;
  int attempts_ = 0;  // connections this request was submitted to

  // Request side. The fields are one owned copy (a retry resubmits them), kept unchanged while nghttp2 points at
  // them (ClientCodec::FieldLifetime::Kept: the stream is reused only after its close), capacity kept from request
  // to request: every name (lowercased) and value back to back in field_bytes_, located by field_spans_ (offsets,
  // since the string may grow while it is filled).
  struct FieldSpan {
    uint32_t name_at;
    uint32_t name_len;
    uint32_t value_len;  // the value follows the name
  };
  std::string field_bytes_;
  std::vector<FieldSpan> field_spans_;
  http::HeaderList trailers_out_;
  util::EvBufferPtr body_;
  bool head_known_ = false;
  bool with_body_ = false;
  bool body_end_ = false;
  bool drain_armed_ = false;  // pendingOutput() went above the low watermark: report onUpstreamDrained
  uint64_t body_taken_ = 0;
  std::optional<UpstreamError> deferred_error_;

  // Response side.
  http::MessageHead response_;  // reused: the fields of a head are assigned over the previous one's
  size_t response_fields_ = 0;  // fields of the head being received so far
  http::HeaderList trailers_in_;
  bool response_started_ = false;  // the final head arrived
  bool discard_body_ = false;      // the exchange answered ResponseBody::None
  bool complete_ = false;
  bool malformed_ = false;
  bool paused_ = false;
  size_t held_credit_ = 0;              // stream window credit held back while paused
  std::optional<uint32_t> reset_sent_;  // the RST_STREAM code this request's stream was reset with
};

}  // namespace tether::upstream
