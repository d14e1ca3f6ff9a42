#pragma once

// What a client session needs from the thread that runs it (the Worker implements it). Owned here, below the
// worker, so downstream/ never includes worker/: the worker creates sessions, sessions only see this.

#include <event2/event.h>

#include <cstddef>

#include "config/config.h"
#include "exchange/exchange_context.h"
#include "http/http1_codec_pool.h"
#include "http/message_head_pool.h"
#include "http/request_id.h"
#include "net/io_context.h"
#include "tls/tls_context.h"
#include "util/deferred_deleter.h"
#include "util/timeout_list.h"

namespace tether {

class DownstreamSession;

// Every reference returned outlives the sessions. Called on the worker's thread only.
class SessionHost {
 public:
  virtual event_base* base() const = 0;
  // The current snapshot's config (limits may change on reload; listeners are as started).
  virtual const config::Config& config() const = 0;
  virtual ExchangeContext& exchangeContext() = 0;
  // The TLS context of a `tls:` listener, null for a plaintext one.
  virtual const tls::TlsContext* tlsContext(size_t listener) const = 0;
  virtual http::RequestIdGenerator& requestIds() = 0;
  virtual http::Http1CodecPool& codecPool() = 0;
  // HTTP/2 streams' request heads (warm header storage), taken when a stream opens, given back when it closes.
  virtual http::MessageHeadPool& headPool() = 0;
  virtual net::IoContext& io() = 0;
  virtual util::TimeoutList& idleTimeouts() = 0;
  virtual util::TimeoutList& headTimeouts() = 0;
  virtual util::DeferredDeleter& deleter() = 0;
  // A drain began: responses say `Connection: close`, idle connections close.
  virtual bool draining() const = 0;
  virtual DetachedExchanges& detached() = 0;
  // The session closed; the host deletes it (deferred).
  virtual void onSessionClosed(DownstreamSession& session) = 0;

 protected:
  ~SessionHost() = default;  // not owned through this interface
};

}  // namespace tether
