#pragma once

// What an UpstreamStream reports to the exchange it serves (the mirror of the calls a DownstreamSession makes on
// an Exchange). Called from the stream's I/O callbacks; the exchange may abort() or release() the stream inside any
// of them, and the stream then delivers nothing more.

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>

#include "http/message_head.h"
#include "upstream_api/upstream_error.h"

namespace tether::upstream {

// What follows a response head, as the exchange decided: the stream maps it onto its protocol's framing.
enum class ResponseBody : uint8_t {
  AsFramed,  // whatever the response's own framing says (Content-Length, chunked, DATA frames, close)
  None,      // no body whatever the head says: a response to HEAD, a 204 or 304
  Tunnel,    // after a 101: raw bytes both ways from here on
};

class UpstreamStreamEvents {
 public:
  virtual ~UpstreamStreamEvents() = default;
  // A response head: interim (1xx) ones too. The answer tells the stream what follows it.
  virtual ResponseBody onResponseHead(http::MessageHead& head) = 0;
  virtual void onResponseBody(const char* data, size_t len) = 0;
  virtual void onResponseTrailers(const http::HeaderList& trailers) = 0;
  // Called for interim (1xx) responses too; returns true when the stream should stop delivering (the final
  // response ended).
  virtual bool onResponseComplete() = 0;
  // The request bytes queued towards the upstream fell below the stream's low watermark.
  virtual void onUpstreamDrained() = 0;
  virtual void onUpstreamError(UpstreamError error) = 0;
  // Tunnel mode (after a 101): bytes from the upstream (the exchange takes what it forwards out of `input`), and
  // the upstream's close.
  virtual void onTunnelData(evbuffer* input) = 0;
  virtual void onTunnelClosed() = 0;
};

}  // namespace tether::upstream
