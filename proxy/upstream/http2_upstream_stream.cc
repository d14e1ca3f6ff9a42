#include "upstream/http2_upstream_stream.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <cstring>

#include "http/header_chars.h"
#include "upstream/http2_upstream_connection.h"
#include "upstream/http2_upstream_pool.h"

namespace tether::upstream {
namespace {

// The exchange pauses the client above 256 KiB of pendingOutput() and resumes at or below half of it.
constexpr size_t kDrainedWatermark = 128 * 1024;

// A comma-separated field value names `token` (Connection: keep-alive, x-foo).
bool listsToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (http::equalsIgnoreCase(http::trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 9113 8.2.2: connection-specific fields must not appear in HTTP/2; TE only as "trailers". By length first:
// this runs for every field of every request.
bool connectionSpecific(const http::Header& field, const std::string* connection) {
  const std::string_view name = field.name;
  switch (name.size()) {
    case 2:
      if (http::equalsIgnoreCase(name, "te")) return !http::equalsIgnoreCase(http::trimOws(field.value), "trailers");
      break;
    case 4:
      if (http::equalsIgnoreCase(name, "host")) return true;
      break;
    case 7:
      if (http::equalsIgnoreCase(name, "upgrade")) return true;
      break;
    case 10:
      if (http::equalsIgnoreCase(name, "connection") || http::equalsIgnoreCase(name, "keep-alive")) return true;
      break;
    case 16:
      if (http::equalsIgnoreCase(name, "proxy-connection")) return true;
      break;
    case 17:
      if (http::equalsIgnoreCase(name, "transfer-encoding")) return true;
      break;
    default: break;
  }
  return connection != nullptr && listsToken(*connection, name);
}

// Copies `n` bytes from `src` to `dst` with ASCII letters lowercased, eight bytes at a time (field names are
// tokens: ASCII only; bytes >= 0x80 pass unchanged anyway). Per byte: the high bit of (b + 0x3f) ^ (b + 0x25), on
// b's low seven bits, is set exactly for 'A'..'Z'; shifted down to 0x20 it is the case bit. In place is fine.
void copyLower(char* dst, const char* src, size_t n) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, src + i, 8);
    const uint64_t low7 = word & ~kHigh;
    const uint64_t upper = ((low7 + 0x3f3f3f3f3f3f3f3fULL) ^ (low7 + 0x2525252525252525ULL)) & ~word & kHigh;
    word |= upper >> 2;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < n; ++i) dst[i] = http::toLowerAscii(src[i]);
}

// The path of an absolute-form target ("http://host/p?q" -> "/p?q"); origin-form and "*" stay as they are.
std::string_view pathOf(std::string_view target) {
  if (target.empty() || target.front() == '/' || target == "*") return target.empty() ? "/" : target;
  const size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return target;
  const size_t slash = target.find('/', scheme + 3);
  return slash == std::string_view::npos ? "/" : target.substr(slash);
}

}  // namespace

void Http2UpstreamStream::bind(Http2UpstreamPool& pool, Http2UpstreamConnection& connection) {
  pool_ = &pool;
  connection_ = &connection;
  events_ = nullptr;
  bound_ = true;
  open_ = false;
  id_ = 0;
  attempts_ = 0;
  field_bytes_.clear();
  field_spans_.clear();
  trailers_out_.clear();
  if (body_) evbuffer_drain(body_.get(), evbuffer_get_length(body_.get()));
  head_known_ = with_body_ = body_end_ = drain_armed_ = false;
  body_taken_ = 0;
  deferred_error_.reset();
  response_.clearKeepingHeaders();  // the fields are overwritten in place, see onHeader
  response_fields_ = 0;
  trailers_in_.clear();
  response_started_ = discard_body_ = complete_ = malformed_ = paused_ = false;
  held_credit_ = 0;
  reset_sent_.reset();
}

void Http2UpstreamStream::moveTo(Http2UpstreamConnection& connection) {
  connection_ = &connection;
  open_ = false;
  id_ = 0;
  response_.clearKeepingHeaders();
  response_fields_ = 0;
}

void Http2UpstreamStream::start(UpstreamStreamEvents& events, std::string_view) { events_ = &events; }

void Http2UpstreamStream::sendRequestHead(const http::MessageHead& head, http::BodyFraming framing) {
  if (head.upgrade) {
    // HTTP/2 has no Upgrade (RFC 9113 8.6): the exchange answers 502, from the connection's flush.
    deferred_error_ = UpstreamError::MalformedResponse;
    if (connection_) connection_->scheduleFlush();
    return;
  }
  buildRequestFields(head);
  with_body_ = framing == http::BodyFraming::Chunked || framing == http::BodyFraming::UntilClose ||
               (framing == http::BodyFraming::ContentLength && head.content_length.value_or(0) > 0);
  head_known_ = true;
  if (connection_ && connection_->connected()) submit();
}

void Http2UpstreamStream::buildRequestFields(const http::MessageHead& head) {
  const std::string* host = nullptr;
  const std::string* connection = nullptr;
  for (const http::Header& field : head.headers) {  // the first of each, as MessageHead::find
    if (host == nullptr && field.name.size() == 4 && http::equalsIgnoreCase(field.name, "host")) host = &field.value;
    if (connection == nullptr && field.name.size() == 10 && http::equalsIgnoreCase(field.name, "connection")) {
      connection = &field.value;
    }
  }
  // One resize to an upper bound, then plain copies: the buffer keeps its capacity from request to request.
  const std::string_view scheme = pool_ != nullptr && pool_->config().tls ? "https" : "http";  // TLS only with h2
  const std::string_view path = pathOf(head.target);
  size_t bound = head.method.size() + scheme.size() + path.size() + (host ? host->size() : 0) + 32;  // + names
  for (const http::Header& field : head.headers) bound += field.name.size() + field.value.size();
  field_bytes_.resize(bound);
  field_spans_.clear();
  field_spans_.reserve(head.headers.size() + 4);
  size_t at = 0;
  const auto add = [this, &at](std::string_view name, std::string_view value, bool lower) {
    char* out = field_bytes_.data() + at;
    if (lower) {  // HTTP/1.1 clients' names, tether's own X-Forwarded-*
      copyLower(out, name.data(), name.size());
    } else {
      std::memcpy(out, name.data(), name.size());
    }
    std::memcpy(out + name.size(), value.data(), value.size());
    field_spans_.push_back(
        {static_cast<uint32_t>(at), static_cast<uint32_t>(name.size()), static_cast<uint32_t>(value.size())});
    at += name.size() + value.size();
  };
  add(":method", head.method, false);
  add(":scheme", scheme, false);
  if (host) add(":authority", *host, false);
  add(":path", path, false);
  for (const http::Header& field : head.headers) {
    if (!connectionSpecific(field, connection)) add(field.name, field.value, true);
  }
  field_bytes_.resize(at);
}

void Http2UpstreamStream::submit() {
  if (!head_known_ || !connection_ || id_ != 0) return;
  auto& codec = connection_->codec();
  auto& scratch = codec.fieldScratch();
  scratch.clear();
  const char* bytes = field_bytes_.data();
  for (const FieldSpan& span : field_spans_) {
    scratch.emplace_back(std::string_view(bytes + span.name_at, span.name_len),
                         std::string_view(bytes + span.name_at + span.name_len, span.value_len));
  }
  // field_bytes_ stays as it is until the codec reports the stream closed: bind() is the only writer.
  const int32_t id = codec.submitRequest(scratch, with_body_, http2::ClientCodec::FieldLifetime::Kept);
  ++attempts_;
  if (id <= 0) {
    deferred_error_ = UpstreamError::ConnectionLost;  // no stream ids left: reported from the flush
  } else {
    id_ = id;
    open_ = true;
  }
  connection_->scheduleFlush();
}

void Http2UpstreamStream::sendRequestBody(const char* data, size_t len) {
  if (!with_body_ || len == 0) return;
  if (!body_) body_.reset(evbuffer_new());
  evbuffer_add(body_.get(), data, len);
  resumeBody();
}

void Http2UpstreamStream::sendRequestBody(evbuffer* data) {
  if (!with_body_ || evbuffer_get_length(data) == 0) {
    evbuffer_drain(data, evbuffer_get_length(data));
    return;
  }
  if (!body_) body_.reset(evbuffer_new());
  evbuffer_add_buffer(body_.get(), data);
  resumeBody();
}

void Http2UpstreamStream::sendRequestEnd(const http::HeaderList* trailers) {
  if (!with_body_ || body_end_) return;
  body_end_ = true;
  trailers_out_.clear();
  if (trailers) {
    for (const http::Header& field : *trailers) {
      http::Header& out = trailers_out_.emplace_back();
      out.name = field.name;
      copyLower(out.name.data(), out.name.data(), out.name.size());
      out.value = field.value;
    }
  }
  resumeBody();
}

void Http2UpstreamStream::sendTunnelData(evbuffer* data) { evbuffer_drain(data, evbuffer_get_length(data)); }

void Http2UpstreamStream::resumeBody() {
  if (pendingOutput() > kDrainedWatermark) drain_armed_ = true;
  if (!connection_ || !open_) return;  // submitted later (connecting, or a retry): the provider reads it then
  connection_->codec().resumeData(id_);
  connection_->scheduleFlush();
}

size_t Http2UpstreamStream::readBody(uint8_t* buf, size_t len, bool* end, bool* trailers) {
  const int n = body_ ? evbuffer_remove(body_.get(), buf, len) : 0;
  const size_t taken = n > 0 ? static_cast<size_t>(n) : 0;
  body_taken_ += taken;
  if (pendingOutput() == 0 && (body_end_ || !bound_)) {
    *end = true;
    if (bound_ && !trailers_out_.empty()) {
      auto& codec = connection_->codec();
      auto& scratch = codec.fieldScratch();
      scratch.clear();
      for (const http::Header& field : trailers_out_) scratch.emplace_back(field.name, field.value);
      *trailers = codec.submitTrailers(id_, scratch);
    }
  }
  return taken;
}

void Http2UpstreamStream::notifyDrained() {
  if (!drain_armed_ || pendingOutput() > kDrainedWatermark) return;
  drain_armed_ = false;
  if (events_) events_->onUpstreamDrained();
}

void Http2UpstreamStream::reportDeferredError() {
  if (!deferred_error_) return;
  const UpstreamError error = *deferred_error_;
  deferred_error_.reset();
  deliverError(error);
}

void Http2UpstreamStream::resumeReading() {
  paused_ = false;
  if (held_credit_ == 0 || !connection_ || !open_) return;
  connection_->codec().consumeStream(id_, held_credit_);
  held_credit_ = 0;
  connection_->scheduleFlush();
}

void Http2UpstreamStream::release(bool) { handBack(); }

std::string_view Http2UpstreamStream::abort(Outcome) {
  // Whatever cancel_with says: only this stream stops (RST_STREAM CANCEL); the connection serves the others.
  handBack();
  return reset_sent_ ? std::string_view(nghttp2_http2_strerror(*reset_sent_)) : std::string_view();
}

void Http2UpstreamStream::reset(uint32_t error_code) {
  connection_->codec().resetStream(id_, error_code);
  if (!reset_sent_) reset_sent_ = error_code;  // the first code is the one the server acts on
}

void Http2UpstreamStream::handBack() {
  if (!bound_) return;
  bound_ = false;
  events_ = nullptr;
  deferred_error_.reset();
  if (!connection_) {
    if (pool_) pool_->recycle(*this);  // its connection is gone already: nothing to reset
    return;
  }
  // A completed exchange sends nothing: its stream closes by itself (the codec reports it right after the
  // END_STREAM that completed it, or once the rest of a complete body is out). Anything else still open (an
  // error, a cancel, a request body the server did not wait for) is reset. A request never submitted closes with
  // nothing on the wire.
  const bool closes_itself = complete_ && (!with_body_ || body_end_);
  if (open_ && !closes_itself) reset(NGHTTP2_CANCEL);
  connection_->scheduleFlush();
}

std::string_view Http2UpstreamStream::peerAddress() const {
  return connection_ ? std::string_view(connection_->addressText()) : std::string_view();
}

bool Http2UpstreamStream::onHeader(std::string_view name, std::string_view value) {
  if (response_started_) {  // a block after the final head: trailers
    if (name.starts_with(':')) return false;
    trailers_in_.push_back({std::string(name), std::string(value)});
    return true;
  }
  if (name == ":status") {
    int status = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), status);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.size() != 3 || status < 100) {
      malformed_ = true;
      return false;
    }
    response_.status = status;
    return true;
  }
  if (name.starts_with(':')) {
    malformed_ = true;
    return false;
  }
  if (name == "content-length") {
    uint64_t length = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      malformed_ = true;
      return false;
    }
    response_.content_length = length;
  }
  // Over the previous response's field at this position (the same name, mostly: one copy, no moves), or a new one.
  if (response_fields_ < response_.headers.size()) {
    http::Header& field = response_.headers[response_fields_];
    field.name.assign(name);
    field.value.assign(value);
  } else {
    response_.appendHeader(name, value);
  }
  ++response_fields_;
  return true;
}

void Http2UpstreamStream::onHeadersComplete(bool interim, bool trailers, bool end_stream) {
  if (!events_) return;
  if (trailers) {
    if (!trailers_in_.empty()) events_->onResponseTrailers(trailers_in_);
    if (end_stream) onResponseEnd();
    return;
  }
  if (interim && response_.status == 101) {  // no switching protocols over HTTP/2
    malformed_ = true;
    reset(NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  response_.truncateHeaders(response_fields_);  // what is left of the previous response goes
  response_.version_major = 1;
  response_.version_minor = 1;
  response_.keep_alive = true;
  if (interim) {
    // The exchange's contract for 1xx: a head, then onResponseComplete (which answers false: more follows).
    events_->onResponseHead(response_);
    if (events_) events_->onResponseComplete();
    response_.clearKeepingHeaders();
    response_fields_ = 0;
    return;
  }
  response_started_ = true;
  discard_body_ = events_->onResponseHead(response_) != ResponseBody::AsFramed;
  if (end_stream) onResponseEnd();
}

void Http2UpstreamStream::onData(const uint8_t* data, size_t len) {
  if (!events_ || discard_body_ || !response_started_) {
    connection_->codec().consumeStream(id_, len);
    return;
  }
  events_->onResponseBody(reinterpret_cast<const char*>(data), len);
  // Credit goes back once the exchange has the bytes, unless it asked us to hold the server back.
  if (paused_ && events_) {
    held_credit_ += len;
  } else {
    connection_->codec().consumeStream(id_, len);
  }
}

void Http2UpstreamStream::onResponseEnd() {
  if (!events_ || complete_) return;
  if (!response_started_) {
    malformed_ = true;
    return;  // the close that follows reports it
  }
  complete_ = true;
  events_->onResponseComplete();
}

bool Http2UpstreamStream::onClosed(uint32_t error_code) {
  open_ = false;
  if (!events_ || complete_) return false;
  // REFUSED_STREAM (RST_STREAM, or a GOAWAY below our id): the server did not process it, RFC 9113 8.7.
  if (error_code == NGHTTP2_REFUSED_STREAM && retryable()) return true;
  deliverError(malformed_ ? UpstreamError::MalformedResponse : UpstreamError::ConnectionLost);
  return false;
}

void Http2UpstreamStream::failDetached(UpstreamError error) {
  connection_ = nullptr;
  open_ = false;
  if (!bound_) {
    if (pool_) pool_->recycle(*this);
    return;
  }
  deliverError(error);  // the exchange hands us back inside, and we recycle then
}

void Http2UpstreamStream::deliverError(UpstreamError error) {
  if (events_) {
    events_->onUpstreamError(error);
  } else if (bound_ && !head_known_) {
    deferred_error_ = error;  // not started yet: reported once the exchange is listening
  }
}

}  // namespace tether::upstream
