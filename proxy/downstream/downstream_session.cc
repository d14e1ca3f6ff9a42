#include "downstream/downstream_session.h"

#include <sys/ioctl.h>

#include <strings.h>

#include <cerrno>

#include "downstream/http2_session.h"
#include "downstream/session_host.h"
#include "http/error_response.h"
#include "http/header_rules.h"
#include "http2/server_codec.h"
#include "net/socket_transport.h"
#include "tls/tls_layer.h"

namespace tether {
namespace {

// Cleartext, or TLS (server handshake first) on a `tls:` listener. Null if TLS could not be set up.
std::unique_ptr<net::Transport> newClientTransport(SessionHost& worker, size_t listener, evutil_socket_t fd) {
  const tls::TlsContext* tls = worker.tlsContext(listener);
  if (tls == nullptr) return std::make_unique<net::SocketTransport>(worker.base(), fd, &worker.io());
  return tls::acceptTls(worker.base(), fd, *tls, &worker.io());
}

// The exchange is told the client caught up when queued response bytes fall below this.
constexpr size_t kWriteLowWatermark = 64 * 1024;

}  // namespace

DownstreamSession::DownstreamSession(SessionHost& worker, size_t listener, evutil_socket_t fd,
                                     const net::SocketAddress& client)
    : worker_(worker),
      listener_(listener),
      client_(client),
      transport_(newClientTransport(worker, listener, fd)),
      tls_(worker.tlsContext(listener) != nullptr) {}

DownstreamSession::~DownstreamSession() = default;

void DownstreamSession::start() {
  if (!transport_) {
    closeNow();
    return;
  }
  const auto& limits = worker_.config().limits;
  // The input buffer holds at most one head or the pipelined bytes that wait behind the current request.
  read_high_ = std::max(limits.max_request_header_bytes, limits.max_pipelined_bytes);
  transport_->setWatermarks(read_high_, kWriteLowWatermark);
  transport_->start(*this);
  armTimer(TimerMode::Idle);
}

void DownstreamSession::armTimer(TimerMode mode) {
  timer_mode_ = mode;
  if (mode == TimerMode::None) {
    timeout_.cancel();
    return;
  }
  const auto& limits = worker_.config().limits;
  if (mode == TimerMode::Idle) {
    worker_.idleTimeouts().add(timeout_, limits.client_idle_timeout);
  } else {
    worker_.headTimeouts().add(timeout_, limits.header_read_timeout);
  }
}

void DownstreamSession::onReadable() {
  if (closed_ || in_read_) return;
  evbuffer* input = transport_->input();
  if (closing_) {
    evbuffer_drain(input, evbuffer_get_length(input));
    return;
  }
  if (tunnel_) {
    if (exchange_ && !exchange_->finished()) exchange_->onDownstreamTunnelData(input);
    return;
  }
  if (first_bytes_ && transport_->alpnH2()) {
    // ALPN chose h2: whatever comes is HTTP/2, and a bad preface is the HTTP/2 session's PROTOCOL_ERROR to answer.
    first_bytes_ = false;
    startHttp2();
    return;
  }
  if (first_bytes_) {
    const size_t n = std::min(evbuffer_get_length(input), http2::kClientPreface.size());
    const auto* first = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ev_ssize_t>(n)));
    const auto match = http2::matchPreface(std::string_view(first, n));
    if (match == http2::PrefaceMatch::NeedMore) return;
    first_bytes_ = false;
    if (match == http2::PrefaceMatch::Match) {
      startHttp2();
      return;
    }
  }
  if (!codec_ && evbuffer_get_length(input) > 0) {
    codec_ = worker_.codecPool().acquire(http::Http1Codec::Kind::Request, *this,
                                         http::Http1Codec::Limits{worker_.config().limits.max_request_header_bytes});
  }
  in_read_ = true;
  while (!closed_ && !closing_ && !reading_paused_ && evbuffer_get_length(input) > 0) {
    if (exchange_ && request_complete_) break;  // pipelined: waits for the current exchange
    evbuffer_iovec vec;
    if (evbuffer_peek(input, -1, nullptr, &vec, 1) < 1) break;
    const size_t used = codec_->feed(static_cast<const char*>(vec.iov_base), vec.iov_len);
    if (closed_) break;
    evbuffer_drain(input, used);
    const auto status = codec_->status();
    if (status == http::Http1Codec::Status::Error) {
      handleParseError();
      break;
    }
    if (status != http::Http1Codec::Status::Ok || used < vec.iov_len) break;
  }
  in_read_ = false;
  if (!closed_ && peer_check_pending_) {
    peer_check_pending_ = false;
    checkPeer();
  }
  if (!closed_ && exchange_complete_ && request_complete_) startNextRequest();
}

void DownstreamSession::handleParseError() {
  const auto& error = codec_->error();
  int status = 400;
  switch (error.kind) {
    case http::ParseErrorKind::HeaderTooLarge: status = 431; break;
    case http::ParseErrorKind::UnsupportedVersion: status = 505; break;
    case http::ParseErrorKind::NotImplemented: status = 501; break;
    default: break;
  }
  close_after_response_ = true;
  if (exchange_) {
    // The body of a request in flight turned out malformed: the exchange stops the upstream and answers.
    if (!exchange_->finished()) exchange_->onRequestMalformed(status, error.message);
    closeAfterFlush();
    return;
  }
  char id[64];
  worker_.requestIds().next(id);
  http::writeErrorResponse(output(), status, std::string_view(id, 32), error.message, true);
  closeAfterFlush();
}

void DownstreamSession::onMessageBegin() { armTimer(TimerMode::Head); }

http::Http1CodecCallbacks::HeadAction DownstreamSession::onHead(http::MessageHead& head) {
  armTimer(TimerMode::None);
  request_keep_alive_ = head.keep_alive;
  request_http10_ = head.version_minor == 0;
  request_complete_ = false;
  exchange_complete_ = false;
  // An upgrade that the upstream refuses leaves the connection in an unknown state: close after the answer.
  close_after_response_ = !head.keep_alive || head.upgrade;
  request_trailers_ = nullptr;
  if (request_http10_ && !head.find("host")) addLocalAuthority(head);
  exchange_ = std::make_unique<Exchange>(worker_.exchangeContext(), *this);
  const bool upgrade = head.upgrade;
  watchPeerClose(true);
  exchange_->onRequestHead(head);
  // The exchange refused to tunnel (h2c): an ordinary request, whose connection may stay open.
  if (upgrade && !head.upgrade && !closing_ && !closed_) close_after_response_ = !head.keep_alive;
  return head.upgrade ? HeadAction::Upgrade : HeadAction::Continue;
}

void DownstreamSession::addLocalAuthority(http::MessageHead& head) {
  // HTTP/1.0 allows a request without Host (nginx accepts it too); upstreams speak HTTP/1.1, which requires one.
  // The request was addressed to this socket's local address: that is its authority.
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(transport_->fd(), reinterpret_cast<sockaddr*>(&local), &length) != 0) return;
  const auto address = net::SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&local), length);
  head.appendHeader("Host", address.toString());
}

void DownstreamSession::onBody(const char* data, size_t len) {
  if (exchange_) exchange_->onRequestBody(data, len);
}

void DownstreamSession::onTrailers(const http::HeaderList& trailers) { request_trailers_ = &trailers; }

bool DownstreamSession::onMessageComplete() {
  request_complete_ = true;
  if (exchange_) exchange_->onRequestComplete(request_trailers_);
  return true;  // one request at a time: the next waits until this exchange ends
}

void DownstreamSession::sendResponseHead(http::MessageHead& head, bool no_body) {
  if (head.status == 101) {
    response_framing_ = http::BodyFraming::None;
  } else if (no_body) {
    response_framing_ = head.content_length ? http::BodyFraming::ContentLength : http::BodyFraming::None;
  } else if (head.chunked) {
    response_framing_ = request_http10_ ? http::BodyFraming::UntilClose : http::BodyFraming::Chunked;
  } else if (head.content_length) {
    response_framing_ = http::BodyFraming::ContentLength;
  } else {
    // Read-until-close upstream body: HTTP/1.1 clients get it chunked, so the connection can stay open.
    response_framing_ = request_http10_ ? http::BodyFraming::UntilClose : http::BodyFraming::Chunked;
  }
  if (response_framing_ == http::BodyFraming::UntilClose) close_after_response_ = true;
  if (worker_.draining()) close_after_response_ = true;  // the client must not send another request here
  if (head.status != 101) {
    if (close_after_response_) {
      head.appendHeader("Connection", "close");
    } else if (request_http10_) {
      head.appendHeader("Connection", "keep-alive");
    }
  }
  if (const std::string_view id = exchange_->responseRequestId(); !id.empty()) http::setRequestId(head, id);
  http::writeResponseHead(output(), head, response_framing_);
}

void DownstreamSession::sendInterimResponse(const http::MessageHead& head) {
  if (request_http10_) return;  // HTTP/1.0 clients do not understand 1xx
  http::writeResponseHead(output(), head, http::BodyFraming::None);
}

void DownstreamSession::sendResponseBody(const char* data, size_t len) {
  evbuffer* out = output();
  if (response_framing_ == http::BodyFraming::Chunked) {
    http::writeChunk(out, data, len);
  } else {
    evbuffer_add(out, data, len);
  }
}

void DownstreamSession::sendResponseEnd(const http::HeaderList* trailers) {
  if (response_framing_ == http::BodyFraming::Chunked) {
    http::writeLastChunk(output(), trailers);
  }
}

void DownstreamSession::sendLocalResponse(int status, std::string_view request_id, std::string_view message) {
  // A request whose body is still arriving cannot be followed by another on this connection.
  if (!request_complete_ || worker_.draining()) close_after_response_ = true;
  http::writeErrorResponse(output(), status, request_id, message, close_after_response_);
}

size_t DownstreamSession::pendingOutput() const { return transport_ ? transport_->pendingOutput() : 0; }

void DownstreamSession::pauseRequestBody() {
  reading_paused_ = true;
  transport_->setReading(false);
}

void DownstreamSession::resumeRequestBody() {
  if (!reading_paused_ || closed_) return;
  reading_paused_ = false;
  transport_->setReading(true);
  transport_->wake();  // bytes may already wait in the input buffer
}

void DownstreamSession::startTunnel() {
  tunnel_ = true;
  transport_->wake();  // bytes the client sent after its head belong to the tunnel
}

void DownstreamSession::tunnelToClient(evbuffer* data) { evbuffer_add_buffer(output(), data); }

void DownstreamSession::abort() {
  close_after_response_ = true;
  // A read-until-close body (an HTTP/1.0 client) ends at the close: only a reset tells the client it was cut short.
  if (response_framing_ == http::BodyFraming::UntilClose && transport_) transport_->abortiveClose();
  closeNow();
}

void DownstreamSession::onExchangeComplete() {
  exchange_complete_ = true;
  if (closed_) return;
  if (!tunnel_) watchPeerClose(false);
  if (!request_complete_ || close_after_response_ || tunnel_ || worker_.draining()) {
    // The rest of the request body (if any) is not worth reading: close once the response is out.
    closeAfterFlush();
    return;
  }
  if (!in_read_) transport_->wake();  // next pipelined request, off this call stack
}

void DownstreamSession::startNextRequest() {
  worker_.deleter().defer(std::move(exchange_));
  exchange_complete_ = false;
  request_complete_ = false;
  codec_->resume();
  armTimer(TimerMode::Idle);
  if (evbuffer_get_length(transport_->input()) > 0) {
    transport_->wake();  // a pipelined request is waiting
  } else {
    worker_.codecPool().release(std::move(codec_));  // idle until the next request's first bytes
    if (worker_.draining()) drain();  // the drain began while this exchange was ending: idle now, so close
  }
}

void DownstreamSession::onDrained() {
  if (closed_) return;
  if (closing_ && transport_->pendingOutput() == 0) {
    closeNow();
    return;
  }
  if (exchange_ && !exchange_->finished()) exchange_->onDownstreamDrained();
}

evbuffer* DownstreamSession::output() {
  transport_->scheduleFlush();  // once per loop turn, however many pieces the response is written in
  return transport_->output();
}

void DownstreamSession::onHangup() {
  // Between exchanges the transport's own read sees FIN and RST.
  if (watching_ && !closed_) checkPeer();
}

void DownstreamSession::checkPeer() {
  // Whether the client really left (a FIN or a reset) or only sent more bytes (a pipelined request, which is not a
  // disconnect).
  switch (transport_->peerState()) {
    case net::PeerState::kFin:
      if (!half_closed_) onPeerGone(false);
      break;
    case net::PeerState::kReset: onPeerGone(true); break;
    case net::PeerState::kOpen: break;
  }
}

void DownstreamSession::watchPeerClose(bool on) {
  watching_ = on;
  // A FIN or RST reported before this exchange began is not reported again; the transport reads it unless it had
  // stopped reading (input full): then look once the codec callback that started the exchange returned.
  if (on && transport_->hangupSeen()) peer_check_pending_ = true;
}

void DownstreamSession::onPeerGone(bool reset) {
  if (closed_) return;
  startBufferedRequest();
  if (closed_) return;
  if (!exchange_ || exchange_->finished()) {
    closeNow();  // nothing in flight (idle keep-alive, or a response still flushing): not a cancellation
    return;
  }
  if (!reset && !half_closed_ && exchange_->keepServingAfterFin()) {
    // `half_close: wait`: the client only shut its write side; keep writing the response, read no more.
    // The watch stays on: a reset after the FIN still cancels.
    half_closed_ = true;
    close_after_response_ = true;
    transport_->setReading(false);
    return;
  }
  if (exchange_->onDownstreamClosed(reset ? Outcome::ClientReset : Outcome::ClientClosed)) {
    worker_.detached().adopt(std::move(exchange_));  // the upstream runs on under the route's policy
  }
  closeNow();
}

void DownstreamSession::startBufferedRequest() {
  // A request that was read before the departure can wait unparsed in the input while the previous exchange is
  // wrapped up (startNextRequest runs from a wake-up). Start it now, so the departure cancels and logs it like any
  // request in flight instead of dropping it unseen. One behind an exchange still in flight was never started: it
  // stays unparsed.
  if (closing_ || tunnel_ || http2_ || first_bytes_ || evbuffer_get_length(transport_->input()) == 0) return;
  if (exchange_) {
    if (!exchange_complete_ || !request_complete_) return;
    startNextRequest();
  }
  onReadable();
}

void DownstreamSession::onTimeout(void* session) {
  auto* self = static_cast<DownstreamSession*>(session);
  if (self->timer_mode_ == TimerMode::Head && !self->exchange_) {
    char id[64];
    self->worker_.requestIds().next(id);
    http::writeErrorResponse(self->output(), 408, std::string_view(id, 32), "request header timeout", true);
    self->closeAfterFlush();
    return;
  }
  self->closeNow();
}

void DownstreamSession::startHttp2() {
  armTimer(TimerMode::None);
  watching_ = false;
  http2_ = std::make_unique<Http2Session>(worker_, std::move(transport_), client_, [this] { closeNow(); });
  http2_->start();
  if (http2_ && worker_.draining()) http2_->drain();  // its preface arrived after the drain began
}

void DownstreamSession::shutdown(Outcome reason) {
  if (http2_) {
    http2_->shutdown(reason);  // closes this session too
    return;
  }
  if (exchange_ && !exchange_->finished()) exchange_->cancel(reason);
  closeNow();
}

void DownstreamSession::drain() {
  if (http2_) {
    http2_->drain();
    return;
  }
  // In flight or closing: the response carries `Connection: close` and the connection closes after it.
  if (closed_ || closing_ || exchange_) return;
  if (received()) {
    // Served as it arrives (the codec may be waiting for the rest of it); header_read_timeout bounds a stall.
    if (!codec_) transport_->wake();
    return;
  }
  closeNow();  // like nginx: an idle keep-alive connection is closed; a client retries on a new connection
}

bool DownstreamSession::received() const {
  if (codec_ || evbuffer_get_length(transport_->input()) > 0) return true;
  int queued = 0;
  return ioctl(transport_->fd(), FIONREAD, &queued) == 0 && queued > 0;
}

void DownstreamSession::closeAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  transport_->setReading(false);
  if (transport_->pendingOutput() == 0) {
    armTimer(TimerMode::None);
    closeNow();
  } else {
    // Whatever is queued goes out, then onDrained() closes; a client that never reads is closed by the timer.
    armTimer(TimerMode::Idle);
    transport_->scheduleFlush();
  }
}

void DownstreamSession::closeNow() {
  if (closed_) return;
  closed_ = true;
  timeout_.cancel();
  watching_ = false;
  transport_.reset();  // closes the socket now (unless an Http2Session took it over)
  worker_.onSessionClosed(*this);
}

}  // namespace tether
