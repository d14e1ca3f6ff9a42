#pragma once

#include <cstddef>

#include "http/message_head.h"

namespace tether::http {

// Events of an Http1Codec. Callbacks must not destroy the codec; they may call resume() and expectResponseTo().
class Http1CodecCallbacks {
 public:
  virtual ~Http1CodecCallbacks() = default;
  virtual void onMessageBegin() {}
  // Head fully parsed and validated. Return value tells the codec how to continue. A request callback that will
  // not tunnel an Upgrade request clears head.upgrade: the codec then parses its body and what follows as HTTP/1.1.
  enum class HeadAction {
    Continue,
    NoBody,  // e.g. response to HEAD, 204/304 handled by you (responses only: a request's framing is never ignored)
    Upgrade  // stop parsing after head: tunnel
  };
  virtual HeadAction onHead(MessageHead& head) = 0;
  virtual void onBody(const char* data, size_t len) = 0;      // de-chunked body bytes, pointing into the fed buffer
  virtual void onTrailers(const HeaderList& /*trailers*/) {}  // only for chunked messages with trailers
  // Return true to pause the codec after this message (pipelining: caller resumes later).
  // Not called for a message that ends in an upgrade: its head is its end.
  virtual bool onMessageComplete() = 0;
};

}  // namespace tether::http
