#include "http2/server_codec.h"

#include <algorithm>

namespace tether::http2 {
namespace {

ServerCodecCallbacks& target(void* user) { return *static_cast<ServerCodecCallbacks*>(user); }

// Fills `nv` (a codec-owned vector reused for every submit: no allocation per response once warm).
const std::vector<nghttp2_nv>& toNv(int status, const char* status_text, const std::vector<ServerCodec::Field>& fields,
                                    std::vector<nghttp2_nv>& nv, FieldIndexing& indexing) {
  nv.clear();
  if (status > 0) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(status_text)), 7, 3, NGHTTP2_NV_FLAG_NONE});
  }
  for (const auto& [name, value] : fields) {
    // nghttp2 copies names and values (no NO_COPY flags), so views into the caller's strings are enough.
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                  indexing.flags(name)});
  }
  return nv;
}

void formatStatus(int status, char (&text)[4]) {
  status = std::clamp(status, 100, 999);
  text[0] = static_cast<char>('0' + status / 100);
  text[1] = static_cast<char>('0' + status / 10 % 10);
  text[2] = static_cast<char>('0' + status % 10);
  text[3] = '\0';
}

}  // namespace

PrefaceMatch matchPreface(std::string_view first_bytes) {
  const size_t n = std::min(first_bytes.size(), kClientPreface.size());
  if (first_bytes.substr(0, n) != kClientPreface.substr(0, n)) return PrefaceMatch::NoMatch;
  return n == kClientPreface.size() ? PrefaceMatch::Match : PrefaceMatch::NeedMore;
}

ServerCodec::ServerCodec(ServerCodecCallbacks& callbacks, const ServerSettings& settings)
    : callbacks_(callbacks), settings_(settings) {}

bool ServerCodec::start() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, &ServerCodec::onBeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &ServerCodec::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &ServerCodec::onHeaderField);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &ServerCodec::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &ServerCodec::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &ServerCodec::onStreamClosed);
  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  // Flow-control credit is given back only when the upstream side has taken the bytes: that ties the client's
  // sending rate to upstream backpressure.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_stream_reset_rate_limit(option, settings_.reset_burst, settings_.reset_rate);
  nghttp2_session* raw = nullptr;
  nghttp2_mem mem = memory_.mem();  // copied by nghttp2
  const int rv = nghttp2_session_server_new3(&raw, cbs, &callbacks_, option, &mem);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return false;
  session_.reset(raw);
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  return nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, entries, std::size(entries)) == 0;
}

bool ServerCodec::receive(const uint8_t* data, size_t len) {
  const ssize_t rv = nghttp2_session_mem_recv(session_.get(), data, len);
  if (rv >= 0) return true;
  // A bad preface, flood or protocol error: nghttp2 has queued GOAWAY where it could; a bad preface gets
  // GOAWAY(PROTOCOL_ERROR) too (RFC 9113 3.4), after the server SETTINGS.
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_PROTOCOL_ERROR);
  return false;
}

bool ServerCodec::send(evbuffer* out, size_t limit) {
  while (evbuffer_get_length(out) < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) return false;
    if (n == 0) break;
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  return true;
}

bool ServerCodec::sendControl(evbuffer* out) {
  // The outbound queue size counts frames other than DATA, which nghttp2 serializes before any DATA; bounded by
  // the count at the start, so DATA never keeps this loop going.
  for (size_t left = nghttp2_session_get_outbound_queue_size(session_.get());
       left > 0 && nghttp2_session_get_outbound_queue_size(session_.get()) > 0; --left) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) return false;
    if (n == 0) break;
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  return true;
}

bool ServerCodec::wantsRead() const { return nghttp2_session_want_read(session_.get()) != 0; }
bool ServerCodec::wantsWrite() const { return nghttp2_session_want_write(session_.get()) != 0; }

bool ServerCodec::submitResponse(int32_t stream_id, int status, const std::vector<Field>& fields, bool with_body) {
  char status_text[4];
  formatStatus(status, status_text);
  const auto& nv = toNv(status, status_text, fields, nv_, indexing_);
  nghttp2_data_provider provider{};
  provider.read_callback = &ServerCodec::readBody;
  return nghttp2_submit_response(session_.get(), stream_id, nv.data(), nv.size(), with_body ? &provider : nullptr) == 0;
}

bool ServerCodec::submitInterim(int32_t stream_id, int status, const std::vector<Field>& fields) {
  char status_text[4];
  formatStatus(status, status_text);
  const auto& nv = toNv(status, status_text, fields, nv_, indexing_);
  return nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream_id, nullptr, nv.data(), nv.size(), nullptr) >=
         0;
}

bool ServerCodec::submitTrailers(int32_t stream_id, const std::vector<Field>& fields) {
  const auto& nv = toNv(0, nullptr, fields, nv_, indexing_);
  return nghttp2_submit_trailer(session_.get(), stream_id, nv.data(), nv.size()) == 0;
}

void ServerCodec::resumeData(int32_t stream_id) { nghttp2_session_resume_data(session_.get(), stream_id); }

void ServerCodec::resetStream(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void ServerCodec::consumeStream(int32_t stream_id, size_t len) {
  if (len > 0) nghttp2_session_consume_stream(session_.get(), stream_id, len);
}

void ServerCodec::consumeConnection(size_t len) {
  if (len > 0) nghttp2_session_consume_connection(session_.get(), len);
}

void ServerCodec::terminate(uint32_t error_code) { nghttp2_session_terminate_session(session_.get(), error_code); }

bool ServerCodec::submitShutdownNotice() {
  return nghttp2_submit_shutdown_notice(session_.get()) == 0 &&
         nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr) == 0;
}

bool ServerCodec::submitFinalGoaway() {
  nghttp2_session* session = session_.get();
  return nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session),
                               NGHTTP2_NO_ERROR, nullptr, 0) == 0;
}

// RFC 9113 5.1.1: HEADERS opening a stream id not above one already opened is a connection error PROTOCOL_ERROR.
// nghttp2 ignores such a frame (it cannot tell a closed stream from a skipped one): fail, and receive() says GOAWAY.
int ServerCodec::onBeginFrame(nghttp2_session* session, const nghttp2_frame_hd* hd, void*) {
  if (hd->type != NGHTTP2_HEADERS || hd->stream_id == 0) return 0;
  if (nghttp2_stream* stream = nghttp2_session_find_stream(session, hd->stream_id)) {
    const nghttp2_stream_proto_state state = nghttp2_stream_get_state(stream);
    if (state != NGHTTP2_STREAM_STATE_IDLE && state != NGHTTP2_STREAM_STATE_CLOSED) return 0;  // trailers
  }
  return hd->stream_id <= nghttp2_session_get_last_proc_stream_id(session) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int ServerCodec::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    target(user).onStreamBegin(frame->hd.stream_id);
  }
  return 0;
}

int ServerCodec::onHeaderField(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                               const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  const bool ok = target(user).onHeader(frame->hd.stream_id, {reinterpret_cast<const char*>(name), namelen},
                                        {reinterpret_cast<const char*>(value), valuelen});
  // TEMPORAL_CALLBACK_FAILURE resets only this stream.
  return ok ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int ServerCodec::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto& cb = target(user);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST || frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
        cb.onHeadersComplete(frame->hd.stream_id, frame->headers.cat == NGHTTP2_HCAT_HEADERS, end_stream);
      }
      break;
    case NGHTTP2_DATA:
      if (end_stream) cb.onRequestEnd(frame->hd.stream_id);
      break;
    case NGHTTP2_RST_STREAM: cb.onStreamReset(frame->hd.stream_id, frame->rst_stream.error_code); break;
    case NGHTTP2_GOAWAY: cb.onGoaway(frame->goaway.error_code); break;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) cb.onPingAck();
      break;
    default: break;
  }
  return 0;
}

int ServerCodec::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                             void* user) {
  target(user).onData(stream_id, data, len);
  return 0;
}

int ServerCodec::onStreamClosed(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  target(user).onStreamClose(stream_id, error_code);
  return 0;
}

ssize_t ServerCodec::readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                              nghttp2_data_source*, void* user) {
  bool end = false;
  bool trailers = false;
  const size_t n = target(user).readResponseBody(stream_id, buf, length, &end, &trailers);
  if (end) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (trailers) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return static_cast<ssize_t>(n);
  }
  return n == 0 ? static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED) : static_cast<ssize_t>(n);
}

}  // namespace tether::http2
