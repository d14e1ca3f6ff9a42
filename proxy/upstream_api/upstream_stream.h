#pragma once

// What an Exchange needs from the upstream side of one request once it has one (the mirror of DownstreamStream): an
// HTTP/1.1 connection of a pool today (UpstreamConnection), a stream of a multiplexed HTTP/2 connection later. The
// exchange decides; the stream frames and writes the request for its protocol and reports the response through
// UpstreamStreamEvents. The stream belongs to its source (the pool): the exchange hands it back exactly once,
// with release() or abort(), and must not touch it afterwards.

#include <event2/buffer.h>

#include <cstddef>
#include <string_view>

#include "http/body_framing.h"
#include "http/message_head.h"
#include "outcome/outcome.h"
#include "upstream_api/upstream_stream_events.h"

namespace tether::upstream {

class UpstreamStream {
 public:
  // Starts one request on the stream: from now on `events` receives its response. `method` decides how a response
  // is framed (no body for HEAD).
  virtual void start(UpstreamStreamEvents& events, std::string_view method) = 0;

  // The request head, with the body framing the stream uses for what follows (chunked: every sendRequestBody is
  // one chunk, and sendRequestEnd writes the last chunk with the trailers).
  virtual void sendRequestHead(const http::MessageHead& head, http::BodyFraming framing) = 0;
  virtual void sendRequestBody(const char* data, size_t len) = 0;
  // Moves all of `data` into the request body (bytes that arrived before the stream existed).
  virtual void sendRequestBody(evbuffer* data) = 0;
  // The request is complete; `trailers` (may be null) are already filtered for forwarding.
  virtual void sendRequestEnd(const http::HeaderList* trailers) = 0;
  // After a 101: raw bytes towards the upstream; moves all of `data`.
  virtual void sendTunnelData(evbuffer* data) = 0;
  // Request bytes queued towards the upstream and not yet written: the exchange pauses the client above a watermark
  // and resumes it on onUpstreamDrained().
  virtual size_t pendingOutput() const = 0;

  // Back-pressure from the client side: stop and resume delivering response bytes.
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;

  // Hands the stream back after a request that ended normally (`reusable`: the request was fully sent, no tunnel) or
  // after an upstream failure (not reusable: closed gently). An HTTP/1.1 connection may then serve another request.
  virtual void release(bool reusable) = 0;
  // Stops the upstream's work now because of `outcome` (a cancellation, or an answer tether gave itself): a
  // connection is reset or closed as the upstream's `cancel_with` says; an HTTP/2 stream is reset. Returns what was
  // sent, as logged in `upstream_reset` (static storage): the RST_STREAM error code's name ("CANCEL"; or the code
  // the stream had sent already, e.g. "PROTOCOL_ERROR"), the connection's "rst" or "fin"; empty when nothing went
  // to the upstream (its stream had ended already).
  virtual std::string_view abort(Outcome outcome) = 0;

  // The peer's address as logged (`upstream_addr`).
  virtual std::string_view peerAddress() const = 0;

 protected:
  ~UpstreamStream() = default;  // owned by its source, never deleted through this interface
};

}  // namespace tether::upstream
