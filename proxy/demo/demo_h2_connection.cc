#include "demo/demo_h2_connection.h"

#include <event2/buffer.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "demo/demo_h2_server.h"
#include "demo/demo_log.h"
#include "demo/slow_request.h"

namespace tether::demo {
namespace {

DemoH2Connection* self(void* user) { return static_cast<DemoH2Connection*>(user); }

}  // namespace

DemoH2Connection::DemoH2Connection(DemoH2Server& server, event_base* base, evutil_socket_t fd,
                                   const DemoOptions& options)
    : server_(server), base_(base), options_(options), bev_(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) {}

DemoH2Connection::~DemoH2Connection() {
  for (auto& [id, stream] : streams_) {
    if (stream->timer != nullptr) {
      logLine(stream->request_id,
              "request aborted after " + std::to_string(elapsedMs(*stream)) + " ms: the connection closed");
      event_free(stream->timer);
    }
  }
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (bev_ != nullptr) bufferevent_free(bev_);
}

bool DemoH2Connection::start() {
  if (bev_ == nullptr) return false;
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &onFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &onStreamClose);
  const int rv = nghttp2_session_server_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return false;
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1) != 0) return false;
  bufferevent_setcb(bev_, &onRead, &onWrite, &onEvent, this);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  flush();
  return true;
}

int DemoH2Connection::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto stream = std::make_unique<Stream>();
  stream->connection = self(user);
  stream->id = frame->hd.stream_id;
  stream->started = std::chrono::steady_clock::now();
  self(user)->streams_[frame->hd.stream_id] = std::move(stream);
  return 0;
}

int DemoH2Connection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                               const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  const auto it = self(user)->streams_.find(frame->hd.stream_id);
  if (it == self(user)->streams_.end()) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") {
    it->second->method = std::move(v);
  } else if (n == ":path") {
    it->second->path = std::move(v);
  } else if (n == "x-request-id") {
    it->second->request_id = std::move(v);
  }
  return 0;
}

int DemoH2Connection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  // The request is complete with END_STREAM, on its HEADERS or on its last DATA frame (a body is ignored).
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  const auto it = self(user)->streams_.find(frame->hd.stream_id);
  if (it != self(user)->streams_.end()) self(user)->dispatch(*it->second);
  return 0;
}

int DemoH2Connection::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto& streams = self(user)->streams_;
  const auto it = streams.find(stream_id);
  if (it == streams.end()) return 0;
  Stream& stream = *it->second;
  if (stream.timer != nullptr) {
    // What the article's handler would see through its CancellationToken: the work stops, the connection stays.
    logLine(stream.request_id, "request aborted after " + std::to_string(self(user)->elapsedMs(stream)) +
                                   " ms: RST_STREAM(" + nghttp2_http2_strerror(error_code) + ") on stream " +
                                   std::to_string(stream_id) + ", connection kept");
    event_free(stream.timer);
  }
  streams.erase(it);
  return 0;
}

ssize_t DemoH2Connection::readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                   nghttp2_data_source* source, void*) {
  auto* stream = static_cast<Stream*>(source->ptr);
  const size_t n = std::min(length, stream->body.size() - stream->body_sent);
  std::copy_n(stream->body.data() + stream->body_sent, n, buf);
  stream->body_sent += n;
  if (stream->body_sent == stream->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

void DemoH2Connection::dispatch(Stream& stream) {
  if (stream.request_id.empty()) stream.request_id = server_.nextRequestId();
  const bool get = stream.method == "GET" || stream.method == "HEAD";
  std::string_view path = std::string_view(stream.path).substr(0, stream.path.find('?'));
  if (path.starts_with("/h2c/")) path.remove_prefix(4);  // config/demo.yaml routes /h2c/ here, unchanged
  if (path == "/slowtest" && get) return startSlow(stream);
  if ((path == "/fast" || path == "/healthz") && get) return answer(stream, 200, "ok\n");
  answer(stream, 404, "not found\n");
}

void DemoH2Connection::startSlow(Stream& stream) {
  logLine(stream.request_id, "Starting to do slow work (h2c stream " + std::to_string(stream.id) + ")");
  // One timer for the whole work: unlike HTTP/1.1, the departure arrives as a frame, so nothing needs polling.
  stream.work = options_.slow_duration;
  if (const size_t at = stream.path.find("ms="); at != std::string::npos) {
    if (const auto ms = parseUnsigned(stream.path.substr(at + 3), 24 * 3600 * 1000)) {
      stream.work = std::chrono::milliseconds(*ms);
    }
  }
  stream.timer = evtimer_new(base_, &onSlowDone, &stream);
  const auto ms = stream.work.count();
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(stream.timer, &tv);
}

void DemoH2Connection::onSlowDone(evutil_socket_t, short, void* arg) {
  auto* stream = static_cast<Stream*>(arg);
  DemoH2Connection& connection = *stream->connection;
  event_free(stream->timer);
  stream->timer = nullptr;
  const std::string message = "Finished slow delay of " + describeSeconds(stream->work) + ".";
  logLine(stream->request_id, message);
  connection.answer(*stream, 200, message);
  connection.flush();
}

void DemoH2Connection::answer(Stream& stream, int status, std::string body) {
  stream.body = std::move(body);
  const std::string status_text = std::to_string(status);
  const std::string length = std::to_string(stream.body.size());
  auto nv = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                      NGHTTP2_NV_FLAG_NONE};
  };
  const nghttp2_nv head[] = {nv(":status", status_text), nv("content-type", "text/plain"), nv("content-length", length),
                             nv("x-request-id", stream.request_id)};
  nghttp2_data_provider provider{};
  provider.source.ptr = &stream;
  provider.read_callback = &readBody;
  nghttp2_submit_response(session_, stream.id, head, sizeof head / sizeof head[0], &provider);
}

void DemoH2Connection::flush() {
  if (closing_) return;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return close();
    if (n == 0) break;
    bufferevent_write(bev_, data, static_cast<size_t>(n));
  }
  const bool done = nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
  if (done && evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
}

void DemoH2Connection::onRead(bufferevent* bev, void* arg) {
  auto* connection = self(arg);
  evbuffer* in = bufferevent_get_input(bev);
  const size_t len = evbuffer_get_length(in);
  const ssize_t n = nghttp2_session_mem_recv(connection->session_, evbuffer_pullup(in, -1), len);
  if (n < 0) return connection->close();
  evbuffer_drain(in, len);
  connection->flush();
}

void DemoH2Connection::onWrite(bufferevent*, void* arg) { self(arg)->flush(); }

void DemoH2Connection::onEvent(bufferevent*, short events, void* arg) {
  if ((events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0) self(arg)->close();
}

void DemoH2Connection::close() {
  closing_ = true;
  server_.closed(this);  // destroys us: the last thing we do
}

int64_t DemoH2Connection::elapsedMs(const Stream& stream) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stream.started)
      .count();
}

}  // namespace tether::demo
