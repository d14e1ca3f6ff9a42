#include "downstream/http2_stream.h"

#include <nghttp2/nghttp2.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "downstream/http2_session.h"
#include "downstream/session_host.h"
#include "http/error_response.h"
#include "http/header_chars.h"

namespace tether {
namespace {

// A paused exchange is told the client caught up when this stream's queued body falls below this.
constexpr size_t kLowWatermark = 64 * 1024;

// Fields HTTP/2 forbids (RFC 9113 8.2.2); the exchange strips most as hop-by-hop, this is the last line. The stream
// writes X-Request-Id and Content-Length itself, once each.
bool isConnectionSpecific(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                                "upgrade",    "te",         "x-request-id",     "content-length"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](std::string_view n) {
    return n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0;
  });
}

// HTTP/2 field names are lowercase; upstream HTTP/1.1 names may not be. `storage` keeps the strings alive.
std::vector<http2::ServerCodec::Field> toFields(const http::HeaderList& headers, std::vector<std::string>& storage) {
  storage.clear();
  storage.reserve(headers.size());
  std::vector<http2::ServerCodec::Field> fields;
  fields.reserve(headers.size() + 1);
  for (const auto& header : headers) {
    if (isConnectionSpecific(header.name)) continue;
    std::string& name = storage.emplace_back(header.name);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    fields.emplace_back(name, header.value);
  }
  return fields;
}

}  // namespace

Http2Stream::Http2Stream(Http2Session& session, int32_t id, http::MessageHead head)
    : session_(session), id_(id), head_(std::move(head)) {
  head_.headers.reserve(12);  // a browser's fields plus the forwarding headers, in one allocation (once per head)
}

Http2Stream::~Http2Stream() = default;

const net::ClientEndpoint& Http2Stream::client() const { return session_.client(); }

std::string_view Http2Stream::protocol() const { return session_.protocol(); }

bool Http2Stream::secure() const { return session_.protocol() == "h2"; }

bool Http2Stream::addHeader(std::string_view name, std::string_view value) {
  header_bytes_ += name.size() + value.size() + 32;  // RFC 9113 6.5.2's accounting
  if (header_bytes_ > session_.settings().max_header_list_size) return false;
  if (head_done_) {
    trailers_in_.push_back({std::string(name), std::string(value)});
    return true;
  }
  if (name == ":method") {
    head_.method.assign(value);
  } else if (name == ":path") {
    head_.target.assign(value);
  } else if (name == ":authority") {
    // :authority is the HTTP/1.1 Host; it wins over a Host field (RFC 9113 8.3.1).
    auto it = std::find_if(head_.headers.begin(), head_.headers.end(), [](const auto& h) { return h.name == "host"; });
    if (it != head_.headers.end()) head_.headers.erase(it);
    head_.appendHeader("host", value);
  } else if (name == "host") {
    if (!head_.find("host")) head_.appendHeader("host", value);
  } else if (name.size() > 0 && name[0] == ':') {
    return true;  // :scheme (and :protocol): nothing to carry to an HTTP/1.1 upstream
  } else if (name == "cookie") {
    if (!cookie_.empty()) cookie_.append("; ");
    cookie_.append(value);
  } else if (name == "content-length") {
    uint64_t length = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec != std::errc() || end != value.data() + value.size()) return false;
    head_.content_length = length;
  } else {
    // nghttp2 already refused any TE but "trailers" (RFC 9113 8.2.2); the exchange forwards that one to HTTP/2
    // upstreams only.
    head_.appendHeader(name, value);
  }
  return true;
}

void Http2Stream::onHeadEnd(bool end_stream) {
  head_done_ = true;
  request_ended_ = end_stream;
  if (!cookie_.empty()) head_.headers.push_back({"cookie", std::move(cookie_)});
  // A body of unknown length goes to the HTTP/1.1 upstream chunked.
  if (!end_stream && !head_.content_length) head_.chunked = true;
  if (end_stream && !head_.content_length && (head_.method == "POST" || head_.method == "PUT")) {
    head_.content_length = 0;
  }
}

void Http2Stream::dispatch() {
  if (dispatched_ || closed_) return;
  dispatched_ = true;
  if (head_.method == "CONNECT" || head_.target.empty()) {
    // An HTTP/2 CONNECT (RFC 9113 8.5) would be a tunnel over a stream: not something an HTTP/1.1 upstream
    // request can carry here.
    sendLocalResponse(501, {}, "CONNECT is not supported over HTTP/2");
    return;
  }
  exchange_ = std::make_unique<Exchange>(session_.worker().exchangeContext(), *this);
  exchange_->onRequestHead(head_);
  if (closed_ || !exchange_) return;
  if (const size_t n = early_body_ ? evbuffer_get_length(early_body_.get()) : 0; n > 0) {
    std::vector<uint8_t> bytes(n);
    evbuffer_remove(early_body_.get(), bytes.data(), n);
    deliverBody(bytes.data(), n);
  }
  early_body_.reset();
  if (request_ended_ && exchange_) exchange_->onRequestComplete(trailers_in_.empty() ? nullptr : &trailers_in_);
}

void Http2Stream::onRequestData(const uint8_t* data, size_t len) {
  if (!dispatched_) {
    // Credit for these bytes is returned on dispatch: an undispatched stream holds at most one window.
    if (!early_body_) early_body_.reset(evbuffer_new());
    evbuffer_add(early_body_.get(), data, len);
    return;
  }
  deliverBody(data, len);
}

void Http2Stream::deliverBody(const uint8_t* data, size_t len) {
  if (exchange_ && !exchange_->finished()) exchange_->onRequestBody(reinterpret_cast<const char*>(data), len);
  if (request_paused_) {
    unconsumed_ += len;
    return;
  }
  session_.codec().consumeStream(id_, len);
  session_.scheduleFlush();
}

void Http2Stream::onRequestEnd() {
  request_ended_ = true;
  if (exchange_ && !exchange_->finished()) {
    exchange_->onRequestComplete(trailers_in_.empty() ? nullptr : &trailers_in_);
  }
}

bool Http2Stream::onClose(Outcome reason, uint32_t h2_error) {
  if (closed_) return false;
  closed_ = true;
  if (!exchange_) return !dispatched_;  // never dispatched: no upstream work was created
  if (exchange_->finished()) return false;
  if (reason == Outcome::StreamReset || h2_error != NGHTTP2_NO_ERROR) {
    exchange_->setDownstreamError(nghttp2_http2_strerror(h2_error));
  }
  if (exchange_->onDownstreamClosed(reason)) {
    session_.worker().detached().adopt(std::move(exchange_));  // the route lets the upstream run on
  }
  return true;
}

size_t Http2Stream::readResponseBody(uint8_t* buf, size_t len, bool* end, bool* trailers) {
  const size_t n = out_.take(reinterpret_cast<char*>(buf), len);
  if (out_.empty() && response_ended_) {
    *end = true;
    if (!trailers_out_.empty()) {
      std::vector<std::string> storage;
      *trailers = session_.codec().submitTrailers(id_, toFields(trailers_out_, storage));
    }
  }
  return n;
}

void Http2Stream::afterFlush() {
  if (exchange_ && !exchange_->finished() && out_.size() < kLowWatermark) {
    exchange_->onDownstreamDrained();
  }
}

void Http2Stream::sendResponseHead(http::MessageHead& head, bool no_body) {
  if (closed_) return;
  // The head is ours to edit: names are lowercased in place and the fields are views into it (nghttp2 copies them
  // on submit), so a response head costs no allocation here.
  auto& fields = session_.codec().fieldScratch();
  fields.clear();
  for (auto& header : head.headers) {
    if (isConnectionSpecific(header.name)) continue;
    for (char& c : header.name) c = http::toLowerAscii(c);  // inline: std::tolower is a libc call per char
    fields.emplace_back(header.name, header.value);
  }
  const std::string_view request_id = exchange_ ? exchange_->responseRequestId() : std::string_view();
  if (!request_id.empty()) fields.emplace_back("x-request-id", request_id);
  char length[24];
  if (head.content_length && !head.chunked) {
    const auto end = std::to_chars(length, length + sizeof(length), *head.content_length).ptr;
    fields.emplace_back("content-length", std::string_view(length, static_cast<size_t>(end - length)));
  }
  response_started_ = true;
  response_ended_ = no_body;
  session_.codec().submitResponse(id_, head.status, fields, !no_body);
  session_.scheduleFlush();
}

void Http2Stream::sendInterimResponse(const http::MessageHead& head) {
  if (closed_) return;
  std::vector<std::string> storage;
  session_.codec().submitInterim(id_, head.status, toFields(head.headers, storage));
  session_.scheduleFlush();
}

void Http2Stream::sendResponseBody(const char* data, size_t len) {
  if (closed_) return;
  out_.append(data, len);
  session_.codec().resumeData(id_);
  session_.scheduleFlush();
}

void Http2Stream::sendResponseEnd(const http::HeaderList* trailers) {
  if (closed_ || response_ended_) return;
  if (trailers) trailers_out_ = *trailers;
  response_ended_ = true;
  session_.codec().resumeData(id_);
  session_.scheduleFlush();
}

void Http2Stream::sendLocalResponse(int status, std::string_view request_id, std::string_view message) {
  if (closed_ || response_started_) return;
  // The HTTP/1.1 writer defines the JSON error body; take the body from its output rather than duplicate it.
  util::EvBufferPtr wire(evbuffer_new());
  http::writeErrorResponse(wire.get(), status, request_id, message, false);
  const evbuffer_ptr end = evbuffer_search(wire.get(), "\r\n\r\n", 4, nullptr);
  if (end.pos >= 0) evbuffer_drain(wire.get(), static_cast<size_t>(end.pos) + 4);
  const std::string length = std::to_string(evbuffer_get_length(wire.get()));
  std::vector<http2::ServerCodec::Field> fields{{"content-type", "application/json"}, {"content-length", length}};
  if (!request_id.empty()) fields.emplace_back("x-request-id", request_id);
  if (const size_t body = evbuffer_get_length(wire.get()); body > 0) {
    out_.append(reinterpret_cast<const char*>(evbuffer_pullup(wire.get(), -1)), body);
  }
  response_started_ = true;
  response_ended_ = true;
  session_.codec().submitResponse(id_, status, fields, true);
  session_.scheduleFlush();
}

size_t Http2Stream::pendingOutput() const { return out_.size(); }

void Http2Stream::pauseRequestBody() { request_paused_ = true; }

void Http2Stream::resumeRequestBody() {
  if (!request_paused_) return;
  request_paused_ = false;
  session_.codec().consumeStream(id_, unconsumed_);
  unconsumed_ = 0;
  session_.scheduleFlush();
}

// HTTP/2 has no Upgrade (RFC 9113 8.6): a 101 cannot reach here through the exchange; refuse it anyway.
void Http2Stream::startTunnel() { abort(); }

void Http2Stream::tunnelToClient(evbuffer* data) { evbuffer_drain(data, evbuffer_get_length(data)); }

void Http2Stream::abort() {
  if (closed_) return;
  reset_by_tether_ = true;
  session_.codec().resetStream(id_, NGHTTP2_INTERNAL_ERROR);
  session_.scheduleFlush();
}

void Http2Stream::onExchangeComplete() {
  exchange_done_ = true;
  // A request body still arriving after the answer is read and dropped; its credit is returned as it comes.
  if (request_paused_) resumeRequestBody();
}

}  // namespace tether
