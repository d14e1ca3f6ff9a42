#include "exchange/exchange.h"

#include <strings.h>
#include <algorithm>

#include <cstring>

#include "exchange/outcome_renderer.h"
#include "http/grpc.h"
#include "http/header_rules.h"
#include "http/message_writer.h"
#include "http/request_id.h"

namespace tether {
namespace {

// The `upstream_protocol` of the request events: the protocol key's own words.
std::string_view protocolName(config::Upstream::Protocol protocol) {
  switch (protocol) {
    case config::Upstream::Protocol::Http1: return "http1";
    case config::Upstream::Protocol::H2c: return "h2c";
    case config::Upstream::Protocol::H2: return "h2";
  }
  return {};
}

// Above this many queued bytes in one direction, the producing side stops reading: bounded memory per exchange.
constexpr size_t kHighWatermark = 256 * 1024;
// Interim responses (103 Early Hints, 100 Continue) forwarded per exchange; more are read and dropped, so an
// upstream repeating them cannot fill a client that does not read.
constexpr unsigned kMaxInterimResponses = 8;

using Clock = std::chrono::steady_clock;

void removeHeader(http::HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [name](const http::Header& h) {
    return h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0;
  });
}

const std::string* findField(const http::HeaderList& fields, std::string_view name) {
  for (const http::Header& field : fields) {
    if (field.name.size() == name.size() && strncasecmp(field.name.data(), name.data(), name.size()) == 0) {
      return &field.value;
    }
  }
  return nullptr;
}

// What a gRPC client is told when tether answers for the upstream (the inverse of gRPC's
// http-grpc-status-mapping.md): UNAVAILABLE where the request never reached a server or the server went away
// before answering (safe to retry), DEADLINE_EXCEEDED for the deadline and upstream timeouts, UNIMPLEMENTED for
// a method no route serves, INTERNAL for the rest.
http::grpc::Status grpcStatusOf(Outcome outcome) {
  using http::grpc::Status;
  switch (outcome) {
    case Outcome::NoRoute: return Status::Unimplemented;
    case Outcome::QueueTimeout:
    case Outcome::ConnectFailed:
    case Outcome::ConnectTimeout:
    case Outcome::UpstreamClosed: return Status::Unavailable;
    case Outcome::DeadlineExceeded:
    case Outcome::UpstreamTimeout: return Status::DeadlineExceeded;
    default: return Status::Internal;
  }
}

}  // namespace

// glibc serves requests up to 1032 bytes from its per-thread cache; one byte more and every exchange goes through
// the bins, which cost several times more per request (docs/benchmarks.md, the h2c client side).
static_assert(sizeof(void*) != 8 || sizeof(Exchange) <= 1032, "Exchange grew past glibc's tcache limit");

Exchange::Exchange(ExchangeContext& context, DownstreamStream& downstream)
    : context_(context), snapshot_(context.snapshot), downstream_(&downstream), started_(Clock::now()) {
  event_assign(&watchdog_, context_.base, -1, 0, &Exchange::onWatchdog, this);
  if (context_.metrics) context_.metrics->onExchangeCreated();
}

Exchange::~Exchange() {
  if (watchdogPending()) event_del(&watchdog_);
  // Owners cancel() before dropping an unfinished exchange; this only makes sure no upstream work outlives us.
  abandonUpstream(Outcome::Shutdown);
  if (context_.metrics) context_.metrics->onExchangeDestroyed();
}

Phase Exchange::phase() const {
  if (responseStarted()) return Phase::StreamingResponse;
  if (!request_complete_) return Phase::ReadingRequest;
  if (!upstream_) return acquire_.queued() ? Phase::Queued : Phase::Connecting;
  return Phase::AwaitingResponse;
}

void Exchange::assignRequestId(const http::MessageHead& head) {
  const std::string* given = head.find("x-request-id");
  if (given && http::isValidRequestId(*given)) {
    request_id_len_ = static_cast<uint8_t>(given->size());  // <= 64: isValidRequestId
    std::memcpy(request_id_, given->data(), request_id_len_);
    return;
  }
  context_.request_ids->next(request_id_);
  request_id_len_ = 32;
}

void Exchange::onRequestHead(http::MessageHead& head) {
  http::useTargetAuthority(head);  // an absolute-form target's authority wins over Host (RFC 9112 3.2.2)
  // h2c is never tunnelled: tether speaks HTTP/1.1 upstream, and requests inside would be neither routed nor logged.
  // Clearing head.upgrade tells the session and its codec that this is an ordinary request.
  if (head.upgrade) head.upgrade = http::removeUpgradeProtocol(head.headers, "h2c");
  method_.assign(head.method);
  // The query string may carry tokens or personal data: logged only when the operator asks for it.
  if (snapshot_->config().log.include_query) {
    path_.assign(head.target);
  } else {
    path_.assign(head.path());
  }
  client_ = downstream_->client().text;
  protocol_ = downstream_->protocol();
  assignRequestId(head);
  trace_ = http::findTraceContext(head.headers);  // read only: the field goes upstream as it came
  const std::string* content_type = head.find("content-type");
  grpc_ = content_type && http::grpc::isGrpcContentType(*content_type);
  const std::string* host_header = head.find("host");
  std::string_view host = host_header ? std::string_view(*host_header) : std::string_view();
  route_ = snapshot_->router().match(host, head.path(), method_);
  if (!route_) {
    respondLocally(Outcome::NoRoute, "no route matches this request");
    return;
  }
  source_ = &snapshot_->source(route_->upstream_index);
  upstream_config_ = &source_->config();  // read by every rewatch(): not through the source's virtual call
  request_upgrade_ = head.upgrade;
  if (const std::string* upgrade = head.find("upgrade"); request_upgrade_ && upgrade) upgrade_requested_ = *upgrade;

  // RFC 9113 8.2.2: `TE: trailers` is the one TE an HTTP/2 request carries (gRPC servers require it); an HTTP/1.1
  // upstream gets no TE at all (it would also need Connection: TE).
  const bool te_trailers =
      http::acceptsTrailers(head.headers) && upstream_config_->protocol != config::Upstream::Protocol::Http1;
  http::removeHopByHop(head.headers, request_upgrade_);
  if (te_trailers) head.appendHeader("te", "trailers");
  // removeHopByHop compacts the list: find Host again rather than keep a view into moved strings.
  host_header = head.find("host");
  host = host_header ? std::string_view(*host_header) : std::string_view();
  const std::string& client_ip = downstream_->client().ip;
  const std::string_view proto = downstream_->secure() ? "https" : "http";
  const config::Forwarding& forwarding = route_->forwarding;
  http::applyRequestForwarding(
      head, http::ForwardingInfo{client_ip, proto, host, forwarding.request_id ? requestId() : std::string_view(),
                                 forwarding.x_forwarded});
  http::toOriginForm(head.target);
  if (!route_->deadline_header.empty()) removeHeader(head.headers, route_->deadline_header);  // only tether sets it

  http::BodyFraming framing = http::BodyFraming::None;
  if (head.chunked) {
    framing = http::BodyFraming::Chunked;
  } else if (head.content_length) {
    framing = http::BodyFraming::ContentLength;
  }
  armDeadline(head);
  // An idle keep-alive connection is handed over inside acquire(): the head is then written straight into it.
  // Otherwise (connecting, queued) a copy waits in pending_head_ until onUpstreamReady().
  head_for_upstream_ = &head;
  request_framing_ = framing;
  state_ = State::Connecting;  // before acquire(): it may hand over a connection (or fail) at once
  acquire_ = source_->acquire(*this);
  head_for_upstream_ = nullptr;
  if (framing != http::BodyFraming::None && !finished()) rewatch();  // a body follows: the client must keep sending
  if (state_ != State::Connecting) return;                           // handed a connection at once, or already answered
  pending_head_.emplace(head);
  pending_body_.reset(evbuffer_new());
}

void Exchange::armDeadline(http::MessageHead& head) {
  std::optional<std::chrono::nanoseconds> budget;
  if (route_->timeout.count() > 0) budget = route_->timeout;
  if (grpc_) {
    // A malformed grpc-timeout is ignored, as gRPC's C core does (grpc-go answers INTERNAL instead): the request
    // runs under the route timeout alone. Only tether sets the field upstream (sendRequest).
    const std::string* given = head.find("grpc-timeout");
    const auto client = given ? http::grpc::parseTimeout(*given) : std::nullopt;
    if (client && (!budget || *client < *budget)) budget = client;
    removeHeader(head.headers, "grpc-timeout");
  }
  if (!budget) return;
  deadline_at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(*budget);
  deadline_.reset(evtimer_new(context_.base, &Exchange::onDeadline, this));
  const auto micros = std::chrono::ceil<std::chrono::microseconds>(*budget).count();
  timeval tv{static_cast<time_t>(micros / 1'000'000), static_cast<suseconds_t>(micros % 1'000'000)};
  evtimer_add(deadline_.get(), &tv);
}

void Exchange::onRequestBody(const char* data, size_t len) {
  bytes_received_ += len;
  if (finished() || !source_) return;  // answered locally: the body is read and dropped
  noteProgress();
  size_t queued;
  if (upstream_) {
    upstream_->sendRequestBody(data, len);
    queued = upstream_->pendingOutput();
  } else {
    evbuffer_add(pending_body_.get(), data, len);
    queued = evbuffer_get_length(pending_body_.get());
  }
  if (!request_paused_ && queued > kHighWatermark) {
    request_paused_ = true;
    if (downstream_) downstream_->pauseRequestBody();
    rewatch();
  }
}

void Exchange::onRequestComplete(const http::HeaderList* trailers) {
  request_complete_ = true;
  if (finished()) return;
  if (source_) {
    http::HeaderList filtered;  // allocates only when a forbidden field (Host, ...) must go
    const http::HeaderList* forward = trailers ? http::forwardableTrailers(trailers, filtered) : nullptr;
    if (upstream_) {
      upstream_->sendRequestEnd(forward);
    } else {
      pending_end_.emplace(forward ? *forward : http::HeaderList());
    }
  }
  rewatch();
}

void Exchange::onUpstreamReady(upstream::UpstreamStream& stream) {
  upstream_ = &stream;
  state_ = State::AwaitingResponse;
  endpoint_.assign(stream.peerAddress());
  sent_upstream_ = Clock::now();
  stream.start(*this, method_);
  if (head_for_upstream_) {  // handed a stream at once: no pending copy was made
    sendRequest(*head_for_upstream_);
  } else {
    sendRequest(*pending_head_);
    pending_head_.reset();
  }
  rewatch();
}

void Exchange::sendRequest(http::MessageHead& head) {
  if (deadline_at_) {
    // Tell a deadline-aware upstream how much of the budget is left now (after queueing and connecting), not the
    // configured total: in the route's deadline_header (milliseconds) and, for gRPC, in grpc-timeout.
    const auto remaining = std::max(Clock::duration::zero(), *deadline_at_ - Clock::now());
    if (!route_->deadline_header.empty()) {
      const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count();
      head.appendHeader(route_->deadline_header, std::to_string(millis));
    }
    if (grpc_) head.appendHeader("grpc-timeout", http::grpc::formatTimeout(remaining));
  }
  upstream_->sendRequestHead(head, request_framing_);
  if (pending_body_) {
    upstream_->sendRequestBody(pending_body_.get());
    pending_body_.reset();
  }
  if (pending_end_) {
    upstream_->sendRequestEnd(pending_end_->empty() ? nullptr : &*pending_end_);
    pending_end_.reset();
  }
}

void Exchange::onUpstreamUnavailable(upstream::UpstreamError error) {
  switch (error) {
    case upstream::UpstreamError::ConnectTimeout:
      respondLocally(Outcome::ConnectTimeout, "upstream connect timeout");
      break;
    case upstream::UpstreamError::QueueTimeout:
      respondLocally(Outcome::QueueTimeout, "upstream connection limit reached");
      break;
    default: respondLocally(Outcome::ConnectFailed, "upstream unavailable"); break;
  }
}

void Exchange::onUpstreamDrained() {
  noteProgress();
  if (request_paused_ && upstream_ && upstream_->pendingOutput() <= kHighWatermark / 2) {
    request_paused_ = false;
    if (downstream_) downstream_->resumeRequestBody();
    rewatch();
  }
}

void Exchange::onDownstreamDrained() {
  noteProgress();
  if (upstream_paused_ && upstream_) {
    upstream_paused_ = false;
    upstream_->resumeReading();
    rewatch();
  }
}

void Exchange::pauseUpstreamIfClientBehind() {
  if (upstream_paused_ || !upstream_ || !downstream_ || downstream_->pendingOutput() <= kHighWatermark) return;
  upstream_paused_ = true;
  upstream_->pauseReading();
  rewatch();
}

void Exchange::forwardInterim(const http::MessageHead& head) {
  // Not progress: an upstream that repeats 1xx is still bound by response_timeout.
  if (!downstream_ || interim_forwarded_ >= kMaxInterimResponses) return;
  ++interim_forwarded_;
  downstream_->sendInterimResponse(head);
  pauseUpstreamIfClientBehind();
}

upstream::ResponseBody Exchange::onResponseHead(http::MessageHead& head) {
  using upstream::ResponseBody;
  if (head.status < 200 && head.status != 101) {
    forwardInterim(head);
    return ResponseBody::AsFramed;
  }
  if (head.status == 101 && downstream_ &&
      (!request_upgrade_ || !http::upgradeWasRequested(upgrade_requested_, head.find("upgrade")))) {
    // A switch to a protocol the client did not ask for: nothing is tunnelled, the client gets 502.
    onUpstreamError(upstream::UpstreamError::MalformedResponse);
    return ResponseBody::AsFramed;
  }
  status_ = upstream_status_ = head.status;
  state_ = State::Responding;
  rewatch();
  const bool no_body = method_ == "HEAD" || head.status == 204 || head.status == 304;
  if (!downstream_) return no_body ? ResponseBody::None : ResponseBody::AsFramed;  // detached: read and discard
  if (head.status == 101) {
    http::removeHopByHop(head.headers, true);
    downstream_->sendResponseHead(head, true);
    deadline_.reset();  // the route timeout bounds the request, not a WebSocket's lifetime
    state_ = State::Tunnel;
    rewatch();
    downstream_->startTunnel();
    return ResponseBody::Tunnel;
  }
  noteGrpcStatus(head.headers);
  // A Trailers-Only gRPC response (grpc-status in the head) must reach the client as one HEADERS frame with
  // END_STREAM: gRPC clients read a status only from a block that ends the stream.
  trailers_only_ = grpcToClient() && head.status == 200 && findField(head.headers, "grpc-status");
  http::removeHopByHop(head.headers, false);
  downstream_->sendResponseHead(head, no_body || trailers_only_);
  return no_body ? ResponseBody::None : ResponseBody::AsFramed;
}

void Exchange::onResponseBody(const char* data, size_t len) {
  noteProgress();
  if (!downstream_) {
    bytes_discarded_ += len;
    if (drain_bytes_limit_ > 0 && bytes_discarded_ > drain_bytes_limit_) cancel(Outcome::DrainLimit);
    return;
  }
  if (trailers_only_) {
    bytes_discarded_ += len;  // the client's stream has ended: a body after a Trailers-Only head has nowhere to go
    return;
  }
  bytes_sent_ += len;
  downstream_->sendResponseBody(data, len);
  pauseUpstreamIfClientBehind();
}

void Exchange::onResponseTrailers(const http::HeaderList& trailers) {
  response_trailers_ = trailers;
  noteGrpcStatus(trailers);
}

bool Exchange::onResponseComplete() {
  if (!responseStarted()) return false;  // an interim response: the final one follows
  if (downstream_) downstream_->sendResponseEnd(response_trailers_.empty() ? nullptr : &response_trailers_);
  end(Outcome::Completed);
  return true;
}

void Exchange::onUpstreamError(upstream::UpstreamError error) {
  if (!responseStarted()) {
    if (error == upstream::UpstreamError::MalformedResponse) {
      respondLocally(Outcome::MalformedResponse, "malformed upstream response");
    } else {
      respondLocally(Outcome::UpstreamClosed, "upstream closed the connection");
    }
    return;
  }
  // Part of the response is already with the client: the only honest signal left is to cut the connection (HTTP/1.1)
  // or reset the stream (HTTP/2).
  if (downstream_) downstream_->abort();
  end(Outcome::UpstreamError);
}

void Exchange::onTunnelData(evbuffer* input) {
  if (!downstream_) {
    evbuffer_drain(input, evbuffer_get_length(input));
    return;
  }
  noteProgress();
  bytes_sent_ += evbuffer_get_length(input);
  downstream_->tunnelToClient(input);
  pauseUpstreamIfClientBehind();
}

void Exchange::onDownstreamTunnelData(evbuffer* data) {
  if (!upstream_) return;
  noteProgress();
  bytes_received_ += evbuffer_get_length(data);
  upstream_->sendTunnelData(data);
  if (!request_paused_ && upstream_->pendingOutput() > kHighWatermark) {
    request_paused_ = true;
    if (downstream_) downstream_->pauseRequestBody();
  }
}

void Exchange::onTunnelClosed() {
  end(Outcome::Completed);  // the stream flushes what the upstream sent last, then closes
}

void Exchange::onRequestMalformed(int status, std::string_view message) {
  if (finished()) return;
  if (responseStarted()) {
    abandonUpstream(Outcome::RequestMalformed);
    if (downstream_) downstream_->abort();
    end(Outcome::RequestMalformed);
    return;
  }
  respondLocally(Outcome::RequestMalformed, message, status);
}

void Exchange::respondLocally(Outcome outcome, std::string_view message, int status) {
  if (finished()) return;
  status_ = status != 0 ? status : infoOf(outcome).status;
  // Nothing more goes to the upstream: settled before the answer, so a reused connection is never half-written.
  settleUpstream(outcome, false);
  if (downstream_) sendLocalAnswer(outcome, status_, message);
  end(outcome);
}

void Exchange::sendLocalAnswer(Outcome outcome, int status, std::string_view message) {
  if (!grpcToClient()) {
    downstream_->sendLocalResponse(status, requestId(), message);
    return;
  }
  // Trailers-Only (PROTOCOL-HTTP2.md): HTTP 200 and the status in one HEADERS frame that ends the stream, so a
  // gRPC client reads tether's reason instead of guessing one from an HTTP status and a JSON body it cannot parse.
  const auto grpc_status = static_cast<int>(grpcStatusOf(outcome));
  grpc_status_ = static_cast<int16_t>(grpc_status);
  http::MessageHead head;
  head.status = 200;
  head.headers = {{"content-type", "application/grpc"},
                  {"grpc-status", std::to_string(grpc_status)},
                  {"grpc-message", http::grpc::percentEncodeMessage(message)}};
  downstream_->sendResponseHead(head, true);
}

void Exchange::noteGrpcStatus(const http::HeaderList& fields) {
  if (!grpc_) return;
  const std::string* value = findField(fields, "grpc-status");
  if (!value) return;
  if (const auto status = http::grpc::parseStatus(*value)) grpc_status_ = static_cast<int16_t>(*status);  // < 1000
}

void Exchange::releaseUpstream(bool reusable) {
  if (!upstream_) return;
  upstream::UpstreamStream* stream = upstream_;
  upstream_ = nullptr;  // first: the source may hand the stream to another exchange inside release()
  upstream_paused_ = false;
  stream->release(reusable);
}

void Exchange::abandonUpstream(Outcome outcome) {
  if (upstream_) {
    upstream::UpstreamStream* stream = upstream_;
    upstream_ = nullptr;
    upstream_paused_ = false;
    upstream_reset_ = stream->abort(outcome);
  } else {
    acquire_.cancel();  // a queued request is dropped, a connect in progress abandoned: nothing was sent
  }
}

bool Exchange::keepServingAfterFin() const {
  // A FIN after the whole request may be a client that only shut its write side (HAProxy's reading).
  return route_ && request_complete_ && !finished() &&
         route_->cancellation.half_close == config::CancellationPolicy::HalfClose::Wait;
}

bool Exchange::policyLetsUpstreamRunOn() const {
  // An unfinished request can never complete upstream; a tunnel has no response to finish.
  if (!route_ || !request_complete_ || state_ == State::Tunnel) return false;
  const auto& policy = route_->cancellation;
  if (!propagates()) return true;  // `ignore`, or a method outside `methods`
  return policy.grace.count() > 0 || policy.grace_bytes > 0;
}

bool Exchange::propagates() const {
  const auto& policy = route_->cancellation;
  return policy.mode == config::CancellationPolicy::Mode::Propagate &&
         (policy.methods.empty() ||
          std::find(policy.methods.begin(), policy.methods.end(), method_) != policy.methods.end());
}

bool Exchange::onDownstreamClosed(Outcome how) {
  if (finished()) return false;
  if (state_ == State::Tunnel) {
    end(Outcome::Completed);  // either side closing a tunnel is its normal end
    return false;
  }
  if (!policyLetsUpstreamRunOn()) {
    cancel(how);
    return false;
  }
  detach(how);
  return true;
}

void Exchange::detach(Outcome how) {
  departure_ = Departure{how, phase(), Clock::now()};
  downstream_ = nullptr;
  if (upstream_paused_ && upstream_) {
    upstream_paused_ = false;
    upstream_->resumeReading();  // nothing holds the response back any more: it is read and discarded
  }
  rewatch();
  const auto& policy = route_->cancellation;
  const bool propagating = propagates();
  if (propagating) drain_bytes_limit_ = policy.grace_bytes;  // `ignore` lets the upstream finish, whatever it sends
  if (propagating && policy.grace.count() > 0) {
    grace_.reset(evtimer_new(context_.base, &Exchange::onGraceExpired, this));
    timeval tv = util::toTimeval(policy.grace);
    evtimer_add(grace_.get(), &tv);
  }
}

void Exchange::onGraceExpired(evutil_socket_t, short, void* arg) {
  static_cast<Exchange*>(arg)->cancel(Outcome::DrainLimit);
}

void Exchange::cancel(Outcome reason) {
  if (finished()) return;
  answerTimeout(reason);
  end(reason);
}

void Exchange::answerTimeout(Outcome reason) {
  std::string_view message;
  switch (reason) {
    case Outcome::DeadlineExceeded: message = "route timeout exceeded"; break;
    case Outcome::UpstreamTimeout: message = "upstream timeout"; break;
    case Outcome::RequestBodyTimeout: message = "request body timeout"; break;
    case Outcome::SendTimeout: break;  // the client is not reading: nothing more can reach it
    default: return;                   // the client left, or tether stops: there is no one to answer
  }
  const int status = infoOf(reason).status;
  if (downstream_ && status != 0 && !responseStarted()) {
    sendLocalAnswer(reason, status, message);
  } else if (downstream_) {
    downstream_->abort();  // part of the response is out: cutting the connection is the only signal left
  }
}

Exchange::Watch Exchange::watchNow() const {
  if (finished() || !source_) return Watch::None;
  if (state_ == State::Tunnel) return upstream_ ? Watch::Tunnel : Watch::None;
  if (!request_complete_) {
    if (!request_paused_) return downstream_ ? Watch::RequestBody : Watch::None;
    return upstream_ ? Watch::UpstreamSend : Watch::None;  // queued or connecting: the source's timeouts apply
  }
  if (!upstream_) return Watch::None;
  if (!responseStarted()) return Watch::ResponseHead;
  return upstream_paused_ && downstream_ ? Watch::ClientSend : Watch::UpstreamRead;
}

std::chrono::milliseconds Exchange::timeoutOf(Watch watch) const {
  switch (watch) {
    case Watch::None: break;
    case Watch::RequestBody: return snapshot_->config().limits.request_body_timeout;
    case Watch::ClientSend: return snapshot_->config().limits.send_timeout;
    case Watch::UpstreamSend: return upstream_config_->send_timeout;
    case Watch::ResponseHead: return upstream_config_->response_timeout;
    case Watch::UpstreamRead: return upstream_config_->read_timeout;
    case Watch::Tunnel: return upstream_config_->read_timeout;  // nginx's proxy_read_timeout bounds an idle tunnel too
  }
  return std::chrono::milliseconds(0);
}

void Exchange::rewatch() {
  const Watch now = watchNow();
  if (now == watch_) return;
  watch_ = now;
  if (now == Watch::None) {
    disarmWatchdog();
    return;
  }
  noteProgress();
  pending_at_check_ = SIZE_MAX;
  const std::chrono::milliseconds timeout = timeoutOf(now);
  // A pending timer due no later than this watch's timeout stays: when it fires early, checkProgress() re-arms it
  // for what is left (a keep-alive request moves through three watches of the same 60 s: one event_add, not three).
  // Not for the queue watches, whose first look at the queue must come a whole timeout after the watch began.
  const bool queue_watch = now == Watch::ClientSend || now == Watch::UpstreamSend;
  if (!queue_watch && watchdogPending() && watchdog_due_ <= last_progress_ + timeout) return;
  armWatchdog(last_progress_, timeout);
}

void Exchange::armWatchdog(Clock::time_point now, std::chrono::milliseconds after) {
  timeval tv = util::toTimeval(after);
  evtimer_add(&watchdog_, &tv);
  watchdog_due_ = now + after;  // never before libevent's own due time (its clock is the loop's cached one)
}

void Exchange::disarmWatchdog() {
  if (!watchdogPending()) return;
  event_del(&watchdog_);
  watchdog_due_ = {};
}

void Exchange::onWatchdog(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  self->watchdog_due_ = {};  // fired: no longer pending
  self->checkProgress();
}

void Exchange::checkProgress() {
  const Watch watch = watchNow();
  if (watch != watch_ || watch == Watch::None) {
    watch_ = Watch::None;
    rewatch();
    return;
  }
  // Writes that only partly drain a full buffer report nothing: a queue that shrank since the last look is progress.
  size_t pending = SIZE_MAX;
  if (watch == Watch::ClientSend) pending = downstream_->pendingOutput();
  if (watch == Watch::UpstreamSend) pending = upstream_->pendingOutput();
  if (pending < pending_at_check_) noteProgress();
  pending_at_check_ = pending;
  const auto timeout = timeoutOf(watch);
  const auto now = Clock::now();
  const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress_);
  if (idle < timeout) {
    // Look again when the timeout would run out; queues are looked at twice per timeout at least.
    const auto next = watch == Watch::ClientSend || watch == Watch::UpstreamSend ? std::min(timeout - idle, timeout / 2)
                                                                                 : timeout - idle;
    armWatchdog(now, std::max(next, std::chrono::milliseconds(1)));
    return;
  }
  switch (watch) {
    case Watch::Tunnel: onTunnelClosed(); break;  // an idle tunnel's normal end, as when a side closes it
    case Watch::RequestBody: cancel(Outcome::RequestBodyTimeout); break;
    case Watch::ClientSend: cancel(Outcome::SendTimeout); break;
    default: cancel(Outcome::UpstreamTimeout); break;
  }
}

void Exchange::onDeadline(evutil_socket_t, short, void* arg) {
  static_cast<Exchange*>(arg)->cancel(Outcome::DeadlineExceeded);
}

void Exchange::end(Outcome outcome) {
  if (finished()) return;
  const bool tunnel = state_ == State::Tunnel;
  const Phase at = departure_ ? departure_->phase : phase();
  state_ = State::Ended;
  settleUpstream(outcome, tunnel);
  deadline_.reset();
  grace_.reset();
  disarmWatchdog();
  watch_ = Watch::None;
  const int status = infoOf(outcome).status;
  if (status != 0) status_ = status;
  report(record(outcome, at));
  if (downstream_) {
    downstream_->onExchangeComplete();
  } else if (departure_) {
    context_.detached->release(*this);
  }
}

void Exchange::settleUpstream(Outcome outcome, bool tunnel) {
  if (outcome == Outcome::Completed) {
    // A stream whose request was not fully sent, or that carried a tunnel, cannot carry another request.
    releaseUpstream(request_complete_ && !tunnel);
  } else if (sourceOf(outcome) == OutcomeSource::Upstream && !isCancellation(outcome)) {
    releaseUpstream(false);  // the upstream failed: close it gently
  } else {
    abandonUpstream(outcome);  // cancelled or answered by tether: whatever the upstream is doing is wasted
  }
  if (!upstream_) acquire_.cancel();  // still queued or connecting: the source forgets us
}

OutcomeRecord Exchange::record(Outcome outcome, Phase phase) const {
  const auto now = Clock::now();
  OutcomeRecord r;
  r.outcome = outcome;
  r.phase = phase;
  if (departure_) r.departure = OutcomeRecord::Departure{departure_->how, departure_->phase, now - departure_->at};
  if (route_) {
    r.route = static_cast<size_t>(route_ - snapshot_->config().routes.data());
    r.route_name = route_->name;
  }
  r.method = method_;
  r.path = path_;
  r.request_id = requestId();
  r.client = client_;
  r.protocol = protocol_;
  if (source_) r.upstream = source_->config().name;
  r.endpoint = endpoint_;
  r.h2_error = h2_error_;
  if (upstream_config_) r.upstream_protocol = protocolName(upstream_config_->protocol);
  r.upstream_reset = upstream_reset_;
  r.status = status_;
  r.upstream_status = upstream_status_;
  r.elapsed = now - started_;
  if (sent_upstream_) r.upstream_elapsed = now - *sent_upstream_;
  r.bytes_received = bytes_received_;
  r.bytes_sent = bytes_sent_;
  r.bytes_discarded = bytes_discarded_;
  if (trace_) {
    r.trace.emplace();
    trace_->writeTraceId(r.trace->trace_id);
    trace_->writeParentId(r.trace->parent_span_id);
  }
  if (grpc_) {
    r.grpc_method = std::string_view(path_).substr(0, path_.find('?'));
    if (grpc_status_ >= 0) r.grpc_status = grpc_status_;
  }
  return r;
}

void Exchange::report(const OutcomeRecord& record) {
  std::string event = OutcomeRenderer::render(record, *context_.logger, snapshot_->config().log.access_log);
  if (!context_.metrics) return;
  if (auto* route_metrics = snapshot_->metrics()) route_metrics->onExchangeFinished(record);
  context_.metrics->onExchangeFinished(record, event);
}

}  // namespace tether
