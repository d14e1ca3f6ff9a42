#include "upstream/upstream_connection.h"

#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "upstream/upstream_pool.h"
#include "util/direct_write.h"

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
      bev_(bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)),
      flush_(event_new(base, -1, 0, &UpstreamConnection::onFlush, this)),
      codec_(http::Http1Codec::Kind::Response, *this, http::Http1Codec::Limits{}) {}

UpstreamConnection::~UpstreamConnection() = default;

bool UpstreamConnection::connect(std::chrono::milliseconds timeout) {
  if (!bev_) return false;
  bufferevent_setcb(bev_.get(), &UpstreamConnection::onRead, &UpstreamConnection::onWrite,
                    &UpstreamConnection::onEvent, this);
  timeval tv = util::toTimeval(timeout);
  bufferevent_set_timeouts(bev_.get(), nullptr, &tv);  // bounds the connect
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, kReadHighWatermark);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, kWriteLowWatermark, 0);
  if (bufferevent_socket_connect(bev_.get(), address_.sockaddr_ptr(), static_cast<int>(address_.length())) != 0) {
    return false;
  }
  int one = 1;
  setsockopt(bufferevent_getfd(bev_.get()), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return true;
}

void UpstreamConnection::bind(UpstreamConnectionCallbacks* exchange, std::string_view method) {
  exchange_ = exchange;
  response_complete_ = false;
  response_started_ = false;
  response_keep_alive_ = false;
  if (codec_.status() == http::Http1Codec::Status::Paused) codec_.resume();
  codec_.expectResponseTo(method);
}

void UpstreamConnection::unbind() { exchange_ = nullptr; }

void UpstreamConnection::pauseReading() { bufferevent_disable(bev_.get(), EV_READ); }

void UpstreamConnection::resumeReading() {
  if (state_ == State::Closed) return;
  bufferevent_enable(bev_.get(), EV_READ);
  // Bytes may already be buffered from before the pause.
  if (evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0) handleRead();
}

void UpstreamConnection::enterTunnel() {
  state_ = State::Tunnel;
  bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
  if (evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0 && exchange_) {
    exchange_->onTunnelData(bufferevent_get_input(bev_.get()));
  }
}

bool UpstreamConnection::reusable() const {
  // Bytes beyond the response are checked once the codec's caller has drained what it consumed (handleRead).
  return state_ == State::Active && response_complete_ && response_keep_alive_ && !codec_.inMessage();
}

void UpstreamConnection::becomeIdle(std::chrono::milliseconds idle_timeout) {
  state_ = State::Idle;
  exchange_ = nullptr;
  // While idle, any readable event means the upstream closed (or misbehaved): the pool drops the connection.
  timeval tv = util::toTimeval(idle_timeout);
  bufferevent_set_timeouts(bev_.get(), &tv, nullptr);
  bufferevent_enable(bev_.get(), EV_READ);
}

void UpstreamConnection::becomeActive() {
  state_ = State::Active;
  bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
  bufferevent_disable(bev_.get(), EV_WRITE);  // see output()
  bufferevent_enable(bev_.get(), EV_READ);
}

evbuffer* UpstreamConnection::output() {
  if (state_ != State::Closed) event_active(flush_.get(), 0, 0);  // once per loop turn
  return bufferevent_get_output(bev_.get());
}

void UpstreamConnection::onFlush(evutil_socket_t, short, void* arg) {
  static_cast<UpstreamConnection*>(arg)->flushOutput();
}

void UpstreamConnection::flushOutput() {
  if (state_ == State::Closed || state_ == State::Connecting) return;  // connecting: libevent writes once connected
  switch (util::writeQueuedOutput(bev_.get())) {
    case util::DirectWrite::Failed: handleEvent(BEV_EVENT_WRITING | BEV_EVENT_ERROR); break;
    case util::DirectWrite::Drained:
      if (exchange_) exchange_->onUpstreamDrained();
      break;
    case util::DirectWrite::Partial:  // onWrite follows as the socket drains
    case util::DirectWrite::Nothing: break;
  }
}

void UpstreamConnection::close(bool reset) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  exchange_ = nullptr;
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (reset && fd >= 0) {
    // SO_LINGER 0: the close sends RST and leaves no TIME_WAIT on our side (a cancellation storm would otherwise
    // exhaust ephemeral ports towards the upstream).
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  event_del(flush_.get());
  bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
  bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
  bev_.reset();  // closes the socket now: the upstream must learn at once
}

void UpstreamConnection::onRead(bufferevent*, void* arg) { static_cast<UpstreamConnection*>(arg)->handleRead(); }

void UpstreamConnection::onWrite(bufferevent*, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->state_ == State::Closed) return;
  // Back to direct writes once libevent emptied what the socket could not take at once.
  if (evbuffer_get_length(bufferevent_get_output(self->bev_.get())) == 0) bufferevent_disable(self->bev_.get(), EV_WRITE);
  if (self->exchange_) self->exchange_->onUpstreamDrained();
}

void UpstreamConnection::onEvent(bufferevent*, short what, void* arg) {
  static_cast<UpstreamConnection*>(arg)->handleEvent(what);
}

void UpstreamConnection::handleRead() {
  evbuffer* input = bufferevent_get_input(bev_.get());
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

void UpstreamConnection::handleEvent(short what) {
  if (what & BEV_EVENT_CONNECTED) {
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    pool_.onConnected(*this);
    return;
  }
  if (state_ == State::Connecting) {
    pool_.onConnectFailed(*this, (what & BEV_EVENT_TIMEOUT) ? UpstreamError::ConnectTimeout
                                                           : UpstreamError::ConnectRefused);
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
  if ((what & BEV_EVENT_EOF) && exchange_) {
    handleRead();
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
  return exchange_ ? exchange_->onResponseHead(head) : HeadAction::Continue;
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
