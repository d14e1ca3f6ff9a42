#include "exchange/exchange.h"

#include <algorithm>
#include <cstring>

#include "http/header_rules.h"
#include "http/message_writer.h"

namespace tether {
namespace {

// Above this many queued bytes in one direction, the producing side stops reading: bounded memory per exchange.
constexpr size_t kHighWatermark = 256 * 1024;

using Clock = std::chrono::steady_clock;

int64_t millisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

bool isValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

// Upstreams expect origin-form ("/path?q"); an absolute-form target ("http://host/path") is rewritten.
void toOriginForm(std::string& target) {
  if (target.empty() || target[0] == '/' || target == "*") return;
  const size_t scheme = target.find("://");
  if (scheme == std::string::npos) return;
  const size_t path = target.find('/', scheme + 3);
  if (path == std::string::npos) {
    const size_t query = target.find('?', scheme + 3);
    target = query == std::string::npos ? "/" : "/" + target.substr(query);
  } else {
    target.erase(0, path);
  }
}

}  // namespace

Exchange::Exchange(ExchangeContext& context, DownstreamStream& downstream)
    : context_(context), downstream_(downstream), started_(Clock::now()) {}

Exchange::~Exchange() {
  // Owners cancel() before dropping an unfinished exchange; this only makes sure no upstream work outlives us.
  if (upstream_) {
    releaseUpstream(upstream::UpstreamPool::Release::Abort);
  } else if (pool_) {
    pool_->cancel(*this);
  }
}

void Exchange::onDownstreamClosed(CancelReason reason) {
  if (finished_) return;
  if (tunnel_) {
    // Either side closing a tunnel is its normal end.
    releaseUpstream(upstream::UpstreamPool::Release::Close);
    finish();
    return;
  }
  cancel(reason);
}

Phase Exchange::phase() const {
  if (response_started_) return Phase::StreamingResponse;
  if (!request_complete_) return Phase::ReadingRequest;
  if (!upstream_) return Phase::Connecting;
  return Phase::AwaitingResponse;
}

void Exchange::assignRequestId(const http::MessageHead& head) {
  const std::string* given = head.find("x-request-id");
  if (given && isValidRequestId(*given)) {
    request_id_len_ = given->size();
    std::memcpy(request_id_, given->data(), request_id_len_);
    return;
  }
  context_.request_ids->next(request_id_);
  request_id_len_ = 32;
}

void Exchange::onRequestHead(http::MessageHead& head) {
  method_.assign(head.method);
  path_.assign(head.path());
  assignRequestId(head);
  const std::string* host_header = head.find("host");
  std::string_view host = host_header ? std::string_view(*host_header) : std::string_view();
  route_ = context_.router->match(host, path_, method_);
  if (!route_) {
    respondLocally(404, "no route matches this request");
    return;
  }
  pool_ = (*context_.pools)[route_->upstream_index].get();
  request_upgrade_ = head.upgrade;

  http::removeHopByHop(head.headers, request_upgrade_);
  // removeHopByHop compacts the list: find Host again rather than keep a view into moved strings.
  host_header = head.find("host");
  host = host_header ? std::string_view(*host_header) : std::string_view();
  const std::string client_ip = downstream_.clientAddress().ip();
  http::applyRequestForwarding(head.headers, http::ForwardingInfo{client_ip, "http", host, requestId()});
  toOriginForm(head.target);

  http::BodyFraming framing = http::BodyFraming::None;
  if (head.chunked) {
    framing = http::BodyFraming::Chunked;
  } else if (head.content_length) {
    framing = http::BodyFraming::ContentLength;
  }
  request_chunked_ = framing == http::BodyFraming::Chunked;
  pending_request_.reset(evbuffer_new());
  http::writeRequestHead(pending_request_.get(), head, framing);

  if (route_->timeout.count() > 0) {
    deadline_.reset(evtimer_new(context_.base, &Exchange::onDeadline, this));
    timeval tv = util::toTimeval(route_->timeout);
    evtimer_add(deadline_.get(), &tv);
  }
  pool_->acquire(*this);
}

evbuffer* Exchange::requestSink() const { return upstream_ ? upstream_->output() : pending_request_.get(); }

void Exchange::onRequestBody(const char* data, size_t len) {
  bytes_received_ += len;
  if (finished_ || !pool_) return;  // answered locally: the body is read and dropped
  evbuffer* sink = requestSink();
  if (request_chunked_) {
    http::writeChunk(sink, data, len);
  } else {
    evbuffer_add(sink, data, len);
  }
  if (!request_paused_ && evbuffer_get_length(sink) > kHighWatermark) {
    request_paused_ = true;
    downstream_.pauseRequestBody();
  }
}

void Exchange::onRequestComplete(const http::HeaderList* trailers) {
  request_complete_ = true;
  if (finished_) return;
  if (pool_ && request_chunked_) http::writeLastChunk(requestSink(), trailers);
  if (response_complete_) finish();
}

void Exchange::onUpstreamReady(upstream::UpstreamConnection& connection) {
  upstream_ = &connection;
  endpoint_ = connection.address();
  sent_upstream_ = Clock::now();
  connection.bind(this, method_);
  evbuffer_add_buffer(connection.output(), pending_request_.get());
}

void Exchange::onUpstreamUnavailable(upstream::UpstreamError error) {
  switch (error) {
    case upstream::UpstreamError::ConnectTimeout: respondLocally(504, "upstream connect timeout"); break;
    case upstream::UpstreamError::QueueTimeout: respondLocally(503, "upstream connection limit reached"); break;
    default: respondLocally(502, "upstream unavailable"); break;
  }
}

void Exchange::onUpstreamDrained() {
  if (request_paused_ && upstream_ && upstream_->outputLength() <= kHighWatermark / 2) {
    request_paused_ = false;
    downstream_.resumeRequestBody();
  }
}

void Exchange::onDownstreamDrained() {
  if (upstream_paused_ && upstream_) {
    upstream_paused_ = false;
    upstream_->resumeReading();
  }
}

http::Http1CodecCallbacks::HeadAction Exchange::onResponseHead(http::MessageHead& head) {
  using HeadAction = http::Http1CodecCallbacks::HeadAction;
  if (head.status < 200 && head.status != 101) {
    downstream_.sendInterimResponse(head);
    return HeadAction::Continue;
  }
  status_ = head.status;
  response_started_ = true;
  if (head.status == 101) {
    if (!request_upgrade_) {
      onUpstreamError(upstream::UpstreamError::MalformedResponse);
      return HeadAction::Continue;
    }
    http::removeHopByHop(head.headers, true);
    downstream_.sendResponseHead(head, true);
    tunnel_ = true;
    downstream_.startTunnel();
    return HeadAction::Upgrade;
  }
  http::removeHopByHop(head.headers, false);
  const bool no_body = method_ == "HEAD" || head.status == 204 || head.status == 304;
  downstream_.sendResponseHead(head, no_body);
  return no_body ? HeadAction::NoBody : HeadAction::Continue;
}

void Exchange::onResponseBody(const char* data, size_t len) {
  bytes_sent_ += len;
  downstream_.sendResponseBody(data, len);
  if (!upstream_paused_ && upstream_ && downstream_.pendingOutput() > kHighWatermark) {
    upstream_paused_ = true;
    upstream_->pauseReading();
  }
}

void Exchange::onResponseTrailers(const http::HeaderList& trailers) { response_trailers_ = trailers; }

bool Exchange::onResponseComplete() {
  if (!response_started_) return false;  // an interim response: the final one follows
  response_complete_ = true;
  downstream_.sendResponseEnd(response_trailers_.empty() ? nullptr : &response_trailers_);
  // A connection whose request was not fully sent cannot carry another request.
  releaseUpstream(request_complete_ ? upstream::UpstreamPool::Release::Reuse : upstream::UpstreamPool::Release::Close);
  finish();
  return true;
}

void Exchange::onUpstreamError(upstream::UpstreamError error) {
  releaseUpstream(upstream::UpstreamPool::Release::Close);
  if (!response_started_) {
    respondLocally(502, error == upstream::UpstreamError::MalformedResponse ? "malformed upstream response"
                                                                            : "upstream closed the connection");
    return;
  }
  // Part of the response is already with the client: the only honest signal left is to cut the connection.
  downstream_.abort();
  finish();
}

void Exchange::onTunnelData(evbuffer* input) {
  bytes_sent_ += evbuffer_get_length(input);
  downstream_.tunnelToClient(input);
  if (!upstream_paused_ && upstream_ && downstream_.pendingOutput() > kHighWatermark) {
    upstream_paused_ = true;
    upstream_->pauseReading();
  }
}

void Exchange::onDownstreamTunnelData(evbuffer* data) {
  if (!upstream_) return;
  bytes_received_ += evbuffer_get_length(data);
  evbuffer_add_buffer(upstream_->output(), data);
  if (!request_paused_ && upstream_->outputLength() > kHighWatermark) {
    request_paused_ = true;
    downstream_.pauseRequestBody();
  }
}

void Exchange::onTunnelClosed() {
  releaseUpstream(upstream::UpstreamPool::Release::Close);
  response_complete_ = true;
  finish();  // the stream flushes what the upstream sent last, then closes
}

void Exchange::onRequestMalformed(int status, std::string_view message) {
  if (finished_) return;
  if (upstream_) {
    releaseUpstream(upstream::UpstreamPool::Release::Abort);
  } else if (pool_) {
    pool_->cancel(*this);
  }
  if (response_started_) {
    downstream_.abort();
    finish();
    return;
  }
  respondLocally(status, message);
}

void Exchange::respondLocally(int status, std::string_view message) {
  status_ = status;
  response_complete_ = true;
  if (pool_) pool_->cancel(*this);
  downstream_.sendLocalResponse(status, requestId(), message);
  finish();
}

void Exchange::releaseUpstream(upstream::UpstreamPool::Release how) {
  if (!upstream_) return;
  upstream::UpstreamConnection* connection = upstream_;
  upstream_ = nullptr;
  upstream_paused_ = false;
  connection->unbind();
  pool_->release(*connection, how);
}

void Exchange::cancel(CancelReason reason) {
  if (finished_ || cancel_reason_ != CancelReason::None) return;
  cancel_reason_ = reason;
  const Phase at = phase();
  if (upstream_) {
    releaseUpstream(upstream::UpstreamPool::Release::Abort);
  } else if (pool_) {
    pool_->cancel(*this);  // a queued request is dropped, a connect in progress abandoned: nothing was sent
  }
  if (reason == CancelReason::DeadlineExceeded) {
    status_ = 504;
    if (!response_started_) {
      downstream_.sendLocalResponse(504, requestId(), "route timeout exceeded");
    } else {
      downstream_.abort();
    }
  } else {
    status_ = 499;
  }
  logCancellation(at);
  finish();
}

void Exchange::onDeadline(evutil_socket_t, short, void* arg) {
  static_cast<Exchange*>(arg)->cancel(CancelReason::DeadlineExceeded);
}

void Exchange::finish() {
  if (finished_) return;
  finished_ = true;
  deadline_.reset();
  if (cancel_reason_ == CancelReason::None) logCompletion();
  downstream_.onExchangeComplete();
}

void Exchange::logCompletion() {
  log::Logger& logger = *context_.logger;
  if (!context_.config->log.access_log || !logger.enabled(config::Log::Level::Info)) return;
  auto& line = logger.line("request_completed");
  line.field("request_id", requestId())
      .field("route", route_ ? std::string_view(route_->name) : std::string_view())
      .field("method", std::string_view(method_))
      .field("path", std::string_view(path_))
      .field("client", std::string_view(downstream_.clientAddress().toString()))
      .field("protocol", downstream_.protocol())
      .field("upstream", pool_ ? std::string_view(pool_->config().name) : std::string_view());
  if (endpoint_) {
    line.field("endpoint", std::string_view(endpoint_->toString()));
  } else {
    line.nullField("endpoint");
  }
  line.field("status", static_cast<int64_t>(status_))
      .field("elapsed_ms", static_cast<int64_t>(millisSince(started_)))
      .field("bytes_received", bytes_received_)
      .field("bytes_sent", bytes_sent_);
  logger.emit();
}

void Exchange::logCancellation(Phase at) {
  log::Logger& logger = *context_.logger;
  auto& line = logger.line("request_cancelled", config::Log::Level::Warn);
  line.field("request_id", requestId())
      .field("route", route_ ? std::string_view(route_->name) : std::string_view())
      .field("method", std::string_view(method_))
      .field("path", std::string_view(path_))
      .field("client", std::string_view(downstream_.clientAddress().toString()))
      .field("protocol", downstream_.protocol())
      .field("upstream", pool_ ? std::string_view(pool_->config().name) : std::string_view());
  if (endpoint_) {
    line.field("endpoint", std::string_view(endpoint_->toString()));
  } else {
    line.nullField("endpoint");
  }
  line.field("phase", toString(at)).field("reason", toString(cancel_reason_))
      .field("elapsed_ms", static_cast<int64_t>(millisSince(started_)));
  if (sent_upstream_) {
    line.field("upstream_elapsed_ms", static_cast<int64_t>(millisSince(*sent_upstream_)));
  } else {
    line.nullField("upstream_elapsed_ms");
  }
  line.field("bytes_received", bytes_received_).field("bytes_sent", bytes_sent_)
      .field("status", static_cast<int64_t>(status_));
  logger.emit();
}

}  // namespace tether
