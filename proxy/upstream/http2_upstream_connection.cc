#include "upstream/http2_upstream_connection.h"

#include <algorithm>

#include "upstream/http2_upstream_pool.h"
#include "upstream/http2_upstream_stream.h"

namespace tether::upstream {
namespace {

// Frames serialized into the socket's output per flush at most: the codec keeps the rest (DATA of busy streams)
// until the socket drains, instead of tether buffering every stream's body twice.
constexpr size_t kOutputHigh = 128 * 1024;
constexpr size_t kOutputLow = 64 * 1024;

}  // namespace

Http2UpstreamConnection::Http2UpstreamConnection(Http2UpstreamPool& pool, size_t endpoint, event_base* base,
                                                 const net::SocketAddress& address, const config::Upstream& upstream)
    : pool_(pool),
      endpoint_(endpoint),
      address_(address),
      address_text_(address.toString()),
      upstream_(upstream),
      codec_(*this, http2::ClientSettings{}),
      flush_event_(event_new(base, -1, 0, &Http2UpstreamConnection::onFlushEvent, this)),
      timer_(evtimer_new(base, &Http2UpstreamConnection::onTimer, this)) {}

Http2UpstreamConnection::~Http2UpstreamConnection() = default;

bool Http2UpstreamConnection::connect(const UpstreamTlsClient& tls) {
  if (!codec_.start()) return false;
  // A refusal comes from the loop (onPeerGone), like any failed connect.
  transport_ = tls.connect(endpoint_, address_, {0, kOutputLow}, *this);
  if (!transport_) return false;
  armTimer(TimerMode::Connect, upstream_.connect_timeout);
  return true;
}

size_t Http2UpstreamConnection::capacity() const { return std::min(peer_max_streams_, kMaxStreams); }

void Http2UpstreamConnection::drain() {
  if (state_ == State::Ready) state_ = State::Draining;
  scheduleFlush();  // closes now if nothing runs on it
}

void Http2UpstreamConnection::attach(Http2UpstreamStream& stream) {
  streams_.push_back(&stream);
  // Busy from now on: no idle timer; a connect in progress (a retry parked here) keeps its bound.
  if (connected()) armTimer(TimerMode::None, {});
  if (connected()) stream.submit();
}

void Http2UpstreamConnection::scheduleFlush() {
  if (state_ == State::Closed || flush_scheduled_ || in_flush_) return;
  flush_scheduled_ = true;
  event_active(flush_event_.get(), 0, 0);
}

void Http2UpstreamConnection::onFlushEvent(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2UpstreamConnection*>(arg);
  self->flush_scheduled_ = false;
  self->flush();
}

void Http2UpstreamConnection::close() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  armTimer(TimerMode::None, {});
  event_del(flush_event_.get());
  streams_.clear();
  last_found_ = 0;
  refused_.clear();
  transport_.reset();
}

void Http2UpstreamConnection::onConnected() {
  armTimer(TimerMode::None, {});
  if (transport_->secure() && !transport_->alpnH2()) {
    // A server that would answer HTTP/1.1 to our HTTP/2 preface: a TLS-level mismatch, not a lost connection.
    pool_.onTlsFailed(*this, "ALPN: server did not select h2");
    return;
  }
  state_ = State::Ready;
  for (Http2UpstreamStream* stream : streams_) stream->submit();  // retries parked while we connected
  pool_.onConnected(*this);
  flush();
}

void Http2UpstreamConnection::onHandshakeFailed(std::string_view reason) {
  if (state_ == State::Connecting) pool_.onTlsFailed(*this, reason);
}

void Http2UpstreamConnection::onReadable() {
  if (!connected()) return;
  evbuffer* input = transport_->input();
  const size_t len = evbuffer_get_length(input);
  if (len == 0) return;
  const bool ok = codec_.receive(evbuffer_pullup(input, static_cast<ssize_t>(len)), len);
  if (state_ == State::Closed) return;
  evbuffer_drain(input, len);
  if (!ok) {
    codec_.send(transport_->output(), kOutputHigh);  // the GOAWAY the codec queued, best effort
    transport_->scheduleFlush();
    fail();
    return;
  }
  flush();
}

void Http2UpstreamConnection::onPeerGone(bool) {
  if (state_ == State::Connecting) {
    pool_.onConnectFailed(*this, UpstreamError::ConnectRefused);
    return;
  }
  if (state_ != State::Closed) fail();
}

void Http2UpstreamConnection::fail() {
  if (state_ == State::Closed) return;
  failStreams();
  pool_.onClosed(*this);
}

void Http2UpstreamConnection::failStreams() {
  std::vector<Http2UpstreamStream*> streams(streams_.begin(), streams_.end());  // rare: a copy is fine
  streams.insert(streams.end(), refused_.begin(), refused_.end());
  close();
  // A stream recycled and handed to another connection by an earlier callback in this loop is not ours any more.
  for (Http2UpstreamStream* stream : streams) {
    if (stream->connection() == this) stream->failDetached(UpstreamError::ConnectionLost);
  }
}

Http2UpstreamStream* Http2UpstreamConnection::find(int32_t stream_id) {
  // The codec reports a response's frames one stream after another (head fields, head, data, end, close), and
  // servers answer roughly in the order the requests went out (the order of streams_): so the stream asked for is
  // nearly always the last one found or one just after it, not one of up to kMaxStreams scanned from the front.
  const size_t count = streams_.size();
  for (size_t n = 0, i = last_found_ < count ? last_found_ : 0; n < count; ++n, i = i + 1 == count ? 0 : i + 1) {
    if (streams_[i]->id() == stream_id) {
      last_found_ = i;
      return streams_[i];
    }
  }
  return nullptr;
}

void Http2UpstreamConnection::flush() {
  if (state_ == State::Closed || in_flush_) return;
  in_flush_ = true;
  // Deferred errors first (the exchange hands its stream back inside), then give finished streams back.
  scratch_.assign(streams_.begin(), streams_.end());
  for (Http2UpstreamStream* stream : scratch_) {
    if (stream->connection() == this) stream->reportDeferredError();
  }
  bool room = settings_room_;
  settings_room_ = false;
  // Taken out first: a retry's callbacks may close this connection, and close() clears refused_.
  refused_scratch_.swap(refused_);
  for (Http2UpstreamStream* stream : refused_scratch_) {
    if (stream->connection() != this) continue;  // failed by that close(), or already moved on
    std::erase(streams_, stream);
    if (stream->finished()) {
      pool_.recycle(*stream);  // its exchange let go meanwhile: nothing to retry
    } else {
      pool_.retry(*stream);
    }
    room = true;
  }
  refused_scratch_.clear();
  last_found_ = 0;  // streams leave streams_ only here and in close(): the index may point past the end
  const size_t before = streams_.size();
  std::erase_if(streams_, [this](Http2UpstreamStream* stream) {
    if (!stream->finished()) return false;
    pool_.recycle(*stream);
    return true;
  });
  room = room || streams_.size() < before;
  if (state_ == State::Closed) {
    in_flush_ = false;
    return;
  }
  if (connected() && !codec_.send(transport_->output(), kOutputHigh)) {
    in_flush_ = false;
    fail();
    return;
  }
  if (transport_ && evbuffer_get_length(transport_->output()) > 0) transport_->scheduleFlush();
  in_flush_ = false;
  // The exchanges may send more body (another flush) or hand their stream back in there.
  scratch_.assign(streams_.begin(), streams_.end());
  for (Http2UpstreamStream* stream : scratch_) {
    if (stream->connection() == this) stream->notifyDrained();
  }
  if (state_ == State::Closed) return;
  const bool done = state_ == State::Draining && streams_.empty();
  if (done || (connected() && !codec_.wantsRead() && !codec_.wantsWrite())) {
    if (transport_ && transport_->pendingOutput() > 0) {
      // Our last frames (a GOAWAY, the last RST_STREAM) first: the transport's onDrained flushes again. Bounded,
      // for a server that stopped reading.
      if (timer_mode_ != TimerMode::Closing) armTimer(TimerMode::Closing, upstream_.connect_timeout);
      return;
    }
    fail();  // GOAWAY exchanged, nothing left: the streams left (none, normally) fail, the pool forgets us
    return;
  }
  updateIdleTimer();
  pool_.publish();
  if (room && state_ == State::Ready) pool_.onRoom();
}

void Http2UpstreamConnection::updateIdleTimer() {
  if (!idle()) {
    if (timer_mode_ != TimerMode::Connect) armTimer(TimerMode::None, {});
    return;
  }
  if (pool_.retired() || pool_.tooManyIdle(endpoint_)) {
    drain();  // no reuse after a reload; beyond max_idle_connections_per_endpoint a spare one closes now
    return;
  }
  if (timer_mode_ == TimerMode::None) armTimer(TimerMode::IdlePing, upstream_.keepalive_idle_timeout / 2);
}

void Http2UpstreamConnection::armTimer(TimerMode mode, std::chrono::milliseconds timeout) {
  timer_mode_ = mode;
  if (mode == TimerMode::None) {
    evtimer_del(timer_.get());
    return;
  }
  timeval tv = util::toTimeval(timeout);
  evtimer_add(timer_.get(), &tv);
}

void Http2UpstreamConnection::onTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2UpstreamConnection*>(arg);
  const TimerMode mode = self->timer_mode_;
  self->timer_mode_ = TimerMode::None;
  switch (mode) {
    case TimerMode::Connect:
      if (self->state_ == State::Connecting) self->pool_.onConnectFailed(*self, UpstreamError::ConnectTimeout);
      break;
    case TimerMode::IdlePing:
      if (!self->idle()) break;
      // Idle for half the keep-alive time: make sure the server is still there before a request depends on it.
      self->codec_.submitPing();
      self->armTimer(TimerMode::PingAck, self->upstream_.connect_timeout);
      self->flush();
      break;
    case TimerMode::PingAck: self->fail(); break;  // no answer: the connection is dead
    case TimerMode::Closing: self->fail(); break;  // the last frames never left: close anyway
    case TimerMode::IdleClose:
      if (self->idle()) self->fail();
      break;
    case TimerMode::None: break;
  }
}

void Http2UpstreamConnection::onPingAck() {
  if (timer_mode_ != TimerMode::PingAck) return;
  if (idle()) {
    armTimer(TimerMode::IdleClose, upstream_.keepalive_idle_timeout - upstream_.keepalive_idle_timeout / 2);
  } else {
    armTimer(TimerMode::None, {});
  }
}

void Http2UpstreamConnection::onResetSent(int32_t, uint32_t error_code) {
  pool_.onStreamResetSent(error_code);
  countReset();
}

void Http2UpstreamConnection::countReset() {
  if (upstream_.reset_budget == 0 || state_ != State::Ready) return;  // off, or draining already
  const auto now = std::chrono::steady_clock::now();
  resets_.push_back(now);
  while (now - resets_.front() > upstream_.reset_window) resets_.pop_front();
  if (resets_.size() <= upstream_.reset_budget) return;
  // Called from inside codec_.send(): the GOAWAY goes out in the same write as the reset that tripped the guard.
  state_ = State::Draining;
  codec_.submitGoaway();
  pool_.onResetBudgetExceeded(*this, resets_.size());
  resets_.clear();
}

bool Http2UpstreamConnection::onHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  Http2UpstreamStream* stream = find(stream_id);
  return stream == nullptr || stream->onHeader(name, value);
}

void Http2UpstreamConnection::onHeadersComplete(int32_t stream_id, bool interim, bool trailers, bool end_stream) {
  if (Http2UpstreamStream* stream = find(stream_id)) stream->onHeadersComplete(interim, trailers, end_stream);
}

void Http2UpstreamConnection::onData(int32_t stream_id, const uint8_t* data, size_t len) {
  // The connection window is never held: one paused stream must not stop the others.
  codec_.consumeConnection(len);
  if (Http2UpstreamStream* stream = find(stream_id)) {
    stream->onData(data, len);
  } else {
    codec_.consumeStream(stream_id, len);
  }
}

void Http2UpstreamConnection::onResponseEnd(int32_t stream_id) {
  if (Http2UpstreamStream* stream = find(stream_id)) stream->onResponseEnd();
}

// The server's RST_STREAM: onStreamClose follows with its code (REFUSED_STREAM retries, anything else fails the
// stream with ConnectionLost: 502, or the client is cut).
void Http2UpstreamConnection::onStreamReset(int32_t, uint32_t) {}

void Http2UpstreamConnection::onStreamClose(int32_t stream_id, uint32_t error_code) {
  Http2UpstreamStream* stream = find(stream_id);
  if (stream == nullptr) return;
  if (stream->onClosed(error_code)) refused_.push_back(stream);  // retried from flush(), after this receive
  scheduleFlush();
}

void Http2UpstreamConnection::onGoaway(int32_t, uint32_t) {
  // nghttp2 closes our streams above last_stream_id itself (REFUSED_STREAM: retried); the rest finish.
  if (state_ == State::Ready) state_ = State::Draining;
  scheduleFlush();
}

void Http2UpstreamConnection::onRemoteSettings(uint32_t max_concurrent_streams) {
  settings_room_ = settings_room_ || max_concurrent_streams > peer_max_streams_;
  peer_max_streams_ = max_concurrent_streams;
  scheduleFlush();  // the pool serves its queue from there, not from inside the codec
}

size_t Http2UpstreamConnection::readRequestBody(int32_t stream_id, uint8_t* buf, size_t len, bool* end,
                                                bool* trailers) {
  Http2UpstreamStream* stream = find(stream_id);
  if (stream == nullptr) {
    *end = true;
    return 0;
  }
  return stream->readBody(buf, len, end, trailers);
}

}  // namespace tether::upstream
