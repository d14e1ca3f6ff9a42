#include "upstream/upstream_connection.h"

#include "http/message_writer.h"
#include "upstream/upstream_pool.h"

namespace tether::upstream {
namespace {

// Response bytes buffered from the upstream before tether stops reading it (the client is slower).
constexpr size_t kReadHighWatermark = 256 * 1024;
// The exchange is told to send more request bytes when the output falls below this.
constexpr size_t kWriteLowWatermark = 32 * 1024;

}  // namespace

UpstreamConnection::UpstreamConnection(UpstreamPool& pool, size_t endpoint, event_base* base,
                                       const net::SocketAddress& address)
    : pool_(pool),
      endpoint_(endpoint),
      address_(address),
      address_text_(address.toString()),
      timer_(evtimer_new(base, &UpstreamConnection::onTimer, this)),
      codec_(http::Http1Codec::Kind::Response, *this, http::Http1Codec::Limits{}) {}

UpstreamConnection::~UpstreamConnection() = default;

bool UpstreamConnection::connect(std::chrono::milliseconds timeout, const UpstreamTlsClient& tls) {
  // A refusal comes from the loop (onPeerGone), like any failed connect.
  transport_ = tls.connect(endpoint_, address_, {kReadHighWatermark, kWriteLowWatermark}, *this);
  if (!transport_) return false;
  armTimer(TimerMode::Connect, timeout);
  return true;
}

void UpstreamConnection::armTimer(TimerMode mode, std::chrono::milliseconds timeout) {
  timer_mode_ = mode;
  if (mode == TimerMode::None) {
    evtimer_del(timer_.get());
    return;
  }
  timeval tv = util::toTimeval(timeout);
  evtimer_add(timer_.get(), &tv);
  if (mode == TimerMode::Idle) idle_due_ = std::chrono::steady_clock::now() + timeout;
}

void UpstreamConnection::onTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  const TimerMode mode = self->timer_mode_;
  self->timer_mode_ = TimerMode::None;
  if (mode == TimerMode::Connect && self->state_ == State::Connecting) {
    self->pool_.onConnectFailed(*self, UpstreamError::ConnectTimeout);
  } else if (mode == TimerMode::Idle && self->state_ == State::Idle) {
    // The timer may date from an earlier idle period (becomeIdle keeps it): closed once idle for the whole
    // timeout, else armed again for what is left.
    const auto left = self->idle_since_ + self->idle_timeout_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      self->pool_.onIdleClosed(*self);
      return;
    }
    self->armTimer(TimerMode::Idle, std::chrono::ceil<std::chrono::milliseconds>(left));
  }
}

void UpstreamConnection::start(UpstreamStreamEvents& events, std::string_view method) {
  exchange_ = &events;
  request_framing_ = http::BodyFraming::None;
  response_complete_ = false;
  response_started_ = false;
  response_keep_alive_ = false;
  if (codec_.status() == http::Http1Codec::Status::Paused) codec_.resume();
  codec_.expectResponseTo(method);
}

void UpstreamConnection::sendRequestHead(const http::MessageHead& head, http::BodyFraming framing) {
  request_framing_ = framing;
  http::writeRequestHead(output(), head, framing);
}

void UpstreamConnection::sendRequestBody(const char* data, size_t len) {
  if (request_framing_ == http::BodyFraming::Chunked) {
    http::writeChunk(output(), data, len);
  } else {
    evbuffer_add(output(), data, len);
  }
}

void UpstreamConnection::sendRequestBody(evbuffer* data) {
  const size_t len = evbuffer_get_length(data);
  if (len == 0) return;
  evbuffer* out = output();
  // Chunked: one chunk for all of it (the bytes that waited for this connection), moved without a copy.
  if (request_framing_ == http::BodyFraming::Chunked) evbuffer_add_printf(out, "%zx\r\n", len);
  evbuffer_add_buffer(out, data);
  if (request_framing_ == http::BodyFraming::Chunked) evbuffer_add(out, "\r\n", 2);
}

void UpstreamConnection::sendRequestEnd(const http::HeaderList* trailers) {
  // Content-Length and no body need no end marker; trailers only travel in chunked framing.
  if (request_framing_ == http::BodyFraming::Chunked) http::writeLastChunk(output(), trailers);
}

void UpstreamConnection::sendTunnelData(evbuffer* data) { evbuffer_add_buffer(output(), data); }

void UpstreamConnection::release(bool reusable) {
  exchange_ = nullptr;
  pool_.release(*this, reusable ? UpstreamPool::Release::Reuse : UpstreamPool::Release::Close);
}

std::string_view UpstreamConnection::abort(Outcome) {
  // Whatever the reason, the connection cannot carry another request: reset or closed as cancel_with says.
  exchange_ = nullptr;
  const bool open = state_ != State::Closed;
  const bool rst = pool_.config().cancel_with == config::Upstream::CancelWith::Rst;
  pool_.release(*this, UpstreamPool::Release::Abort);
  if (!open) return {};
  return rst ? "rst" : "fin";
}

void UpstreamConnection::pauseReading() {
  if (transport_) transport_->setReading(false);
}

void UpstreamConnection::resumeReading() {
  if (state_ == State::Closed) return;
  transport_->setReading(true);
  // Bytes may already be buffered from before the pause.
  if (evbuffer_get_length(transport_->input()) > 0) onReadable();
}

void UpstreamConnection::enterTunnel() {
  state_ = State::Tunnel;
  armTimer(TimerMode::None, {});
  if (evbuffer_get_length(transport_->input()) > 0 && exchange_) exchange_->onTunnelData(transport_->input());
}

bool UpstreamConnection::reusable() const {
  // Bytes beyond the response are checked once the codec's caller has drained what it consumed (onReadable).
  return state_ == State::Active && response_complete_ && response_keep_alive_ && !codec_.inMessage();
}

void UpstreamConnection::becomeIdle(std::chrono::milliseconds idle_timeout) {
  state_ = State::Idle;
  exchange_ = nullptr;
  idle_since_ = std::chrono::steady_clock::now();
  idle_timeout_ = idle_timeout;
  // An idle timer still pending from an earlier idle period (becomeActive leaves it) that fires no later than this
  // period ends stays: onTimer() arms it again for what is left. One evtimer_add per idle timeout, not per request.
  if (timer_mode_ != TimerMode::Idle || idle_due_ > idle_since_ + idle_timeout) armTimer(TimerMode::Idle, idle_timeout);
  // While idle, any readable event means the upstream closed (or misbehaved): the pool drops the connection.
  transport_->setReading(true);
}

void UpstreamConnection::becomeActive() {
  state_ = State::Active;
  // A pending idle timer stays (no event_del per request): firing while the connection is active, it does nothing.
  if (timer_mode_ != TimerMode::Idle) armTimer(TimerMode::None, {});
  transport_->setReading(true);
}

evbuffer* UpstreamConnection::output() {
  if (state_ != State::Closed) transport_->scheduleFlush();  // once per loop turn
  return transport_->output();
}

void UpstreamConnection::close(bool reset) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  exchange_ = nullptr;
  armTimer(TimerMode::None, {});
  // A reset leaves no TIME_WAIT on our side: a cancellation storm would otherwise exhaust ephemeral ports.
  if (reset && transport_) transport_->abortiveClose();
  transport_.reset();  // closes the socket now: the upstream must learn at once
}

void UpstreamConnection::onConnected() {
  armTimer(TimerMode::None, {});
  pool_.onConnected(*this);
}

void UpstreamConnection::onHandshakeFailed(std::string_view reason) {
  if (state_ == State::Connecting) pool_.onTlsFailed(*this, reason);
}

void UpstreamConnection::onDrained() {
  if (state_ != State::Closed && exchange_) exchange_->onUpstreamDrained();
}

void UpstreamConnection::onReadable() {
  evbuffer* input = transport_->input();
  if (state_ == State::Idle) {
    pool_.onIdleClosed(*this);  // unsolicited bytes on an idle connection: not safe to reuse
    return;
  }
  if (state_ == State::Tunnel) {
    if (exchange_) exchange_->onTunnelData(input);
    return;
  }
  while (exchange_ && state_ == State::Active && evbuffer_get_length(input) > 0) {
    evbuffer_iovec vec;
    if (evbuffer_peek(input, -1, nullptr, &vec, 1) < 1) break;
    size_t used = codec_.feed(static_cast<const char*>(vec.iov_base), vec.iov_len);
    // The callbacks may have closed us (cancellation) or re-bound us.
    if (state_ == State::Closed) return;
    evbuffer_drain(input, used);
    auto status = codec_.status();
    if (status == http::Http1Codec::Status::Error) {
      fail(UpstreamError::MalformedResponse);
      return;
    }
    if (status == http::Http1Codec::Status::Upgraded) {
      enterTunnel();
      return;
    }
    if (status == http::Http1Codec::Status::Paused || used == 0) break;
  }
  // Unsolicited bytes after a complete response: the connection is not safe to reuse.
  if (state_ == State::Idle && evbuffer_get_length(input) > 0) pool_.onIdleClosed(*this);
}

void UpstreamConnection::onPeerGone(bool reset) {
  if (state_ == State::Closed) return;
  if (state_ == State::Connecting) {
    pool_.onConnectFailed(*this, UpstreamError::ConnectRefused);
    return;
  }
  if (state_ == State::Idle) {
    pool_.onIdleClosed(*this);
    return;
  }
  if (state_ == State::Tunnel) {
    if (exchange_) exchange_->onTunnelClosed();
    return;
  }
  // Active: EOF may legitimately end a read-until-close response.
  if (!reset && exchange_) {
    onReadable();
    if (state_ == State::Closed || !exchange_) return;
    if (response_started_ && !response_complete_ && codec_.finishOnEof()) {
      response_keep_alive_ = false;
      return;  // onMessageComplete already ran
    }
  }
  fail(UpstreamError::ConnectionLost);
}

void UpstreamConnection::fail(UpstreamError error) {
  auto* exchange = exchange_;
  if (exchange) exchange->onUpstreamError(error);  // the exchange releases (closes) us
}

http::Http1CodecCallbacks::HeadAction UpstreamConnection::onHead(http::MessageHead& head) {
  if (head.status >= 200 || head.status == 101) {
    response_started_ = true;
    response_keep_alive_ = head.keep_alive;
  }
  if (!exchange_) return HeadAction::Continue;
  switch (exchange_->onResponseHead(head)) {
    case ResponseBody::AsFramed: break;
    case ResponseBody::None: return HeadAction::NoBody;
    case ResponseBody::Tunnel: return HeadAction::Upgrade;
  }
  return HeadAction::Continue;
}

void UpstreamConnection::onBody(const char* data, size_t len) {
  if (exchange_) exchange_->onResponseBody(data, len);
}

void UpstreamConnection::onTrailers(const http::HeaderList& trailers) {
  if (exchange_) exchange_->onResponseTrailers(trailers);
}

bool UpstreamConnection::onMessageComplete() {
  if (response_started_) {
    response_complete_ = true;
    ++requests_served_;
  }
  return exchange_ ? exchange_->onResponseComplete() : true;
}

}  // namespace tether::upstream
