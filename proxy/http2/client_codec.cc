#include "http2/client_codec.h"

#include <algorithm>
#include <iterator>

namespace tether::http2 {
namespace {

ClientCodec& codec(void* user) { return *static_cast<ClientCodec*>(user); }

// Fills `nv` (a codec-owned vector reused for every submit: no allocation per request once warm). Without
// `no_copy` nghttp2 copies names and values, so views into the caller's strings are enough.
const std::vector<nghttp2_nv>& toNv(const std::vector<ClientCodec::Field>& fields, std::vector<nghttp2_nv>& nv,
                                    FieldIndexing& indexing, bool no_copy = false) {
  const uint8_t copy_flags = no_copy ? NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE : 0;
  nv.clear();
  for (const auto& [name, value] : fields) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                  static_cast<uint8_t>(indexing.flags(name) | copy_flags)});
  }
  return nv;
}

// RFC 9113 6.5.2: a field's share of the header list size is its name and value plus 32 octets of overhead.
constexpr size_t kFieldOverhead = 32;
// What nghttp2 assumes until the server's SETTINGS arrive (RFC 9113 5.1.2 recommends no fewer than 100).
constexpr uint32_t kUnknownMaxConcurrentStreams = 100;

}  // namespace

ClientCodec::ClientCodec(ClientCodecCallbacks& callbacks, const ClientSettings& settings)
    : callbacks_(callbacks), settings_(settings) {}

bool ClientCodec::start() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &ClientCodec::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &ClientCodec::onHeaderField);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &ClientCodec::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &ClientCodec::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &ClientCodec::onStreamClosed);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &ClientCodec::onFrameSend);
  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  // Flow-control credit is given back only when the client side has taken the bytes: a client that does not
  // read stops the upstream instead of filling tether's memory.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session* raw = nullptr;
  nghttp2_mem mem = memory_.mem();  // copied by nghttp2
  const int rv = nghttp2_session_client_new3(&raw, cbs, this, option, &mem);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return false;
  session_.reset(raw);
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, entries, std::size(entries)) != 0) return false;
  // The connection window is no SETTINGS parameter: nghttp2 sends the WINDOW_UPDATE that widens it.
  return nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(settings_.connection_window_size)) == 0;
}

bool ClientCodec::receive(const uint8_t* data, size_t len) {
  const ssize_t rv = nghttp2_session_mem_recv(session_.get(), data, len);
  if (rv >= 0) return true;
  // A flood or protocol error: nghttp2 has queued GOAWAY where it could; make sure one goes out.
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_PROTOCOL_ERROR);
  return false;
}

bool ClientCodec::send(evbuffer* out, size_t limit) {
  reportUnsentResets();
  while (evbuffer_get_length(out) < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) return false;
    if (n == 0) break;
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  return true;
}

bool ClientCodec::wantsRead() const { return nghttp2_session_want_read(session_.get()) != 0; }
bool ClientCodec::wantsWrite() const {
  return !unsent_resets_.empty() || nghttp2_session_want_write(session_.get()) != 0;
}

int32_t ClientCodec::submitRequest(const std::vector<Field>& fields, bool with_body, FieldLifetime lifetime) {
  const auto& nv = toNv(fields, nv_, indexing_, lifetime == FieldLifetime::Kept);
  nghttp2_data_provider provider{};
  provider.read_callback = &ClientCodec::readBody;
  const int32_t id =
      nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(), with_body ? &provider : nullptr, nullptr);
  if (id > 0) open_.push_back(id);
  return id;
}

bool ClientCodec::submitTrailers(int32_t stream_id, const std::vector<Field>& fields) {
  const auto& nv = toNv(fields, nv_, indexing_);
  return nghttp2_submit_trailer(session_.get(), stream_id, nv.data(), nv.size()) == 0;
}

void ClientCodec::resumeData(int32_t stream_id) { nghttp2_session_resume_data(session_.get(), stream_id); }

void ClientCodec::resetStream(int32_t stream_id, uint32_t error_code) {
  nghttp2_session* session = session_.get();
  if (nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, error_code) != 0) return;
  // nghttp2 opens a request's stream only when its HEADERS goes out: one of ours without a stream is queued.
  const bool queued = std::find(open_.begin(), open_.end(), stream_id) != open_.end() &&
                      nghttp2_session_find_stream(session, stream_id) == nullptr;
  if (queued) unsent_resets_.push_back({stream_id, error_code});
}

void ClientCodec::consumeStream(int32_t stream_id, size_t len) {
  if (len > 0) nghttp2_session_consume_stream(session_.get(), stream_id, len);
}

void ClientCodec::consumeConnection(size_t len) {
  if (len > 0) nghttp2_session_consume_connection(session_.get(), len);
}

bool ClientCodec::submitPing() { return nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr) == 0; }

void ClientCodec::terminate(uint32_t error_code) { nghttp2_session_terminate_session(session_.get(), error_code); }

bool ClientCodec::submitGoaway() {
  return nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0) == 0;
}

size_t ClientCodec::openStreams() const { return open_.size(); }

uint32_t ClientCodec::maxConcurrentStreams() const {
  if (!session_) return kUnknownMaxConcurrentStreams;
  // nghttp2 assumes 100 itself until the server's SETTINGS arrive, and applies them before onFrameRecv.
  return nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

void ClientCodec::streamClosed(int32_t stream_id, uint32_t error_code) {
  std::erase_if(unsent_resets_, [stream_id](const UnsentReset& r) { return r.stream_id == stream_id; });
  // Not open: a queued request reset earlier, reported by send() already, that nghttp2 has dropped at last.
  if (forget(stream_id)) callbacks_.onStreamClose(stream_id, error_code);
}

void ClientCodec::reportUnsentResets() {
  // One at a time: onStreamClose may reset another queued stream, which appends.
  while (!unsent_resets_.empty()) {
    const UnsentReset reset = unsent_resets_.back();
    unsent_resets_.pop_back();
    if (forget(reset.stream_id)) callbacks_.onStreamClose(reset.stream_id, reset.error_code);
  }
}

bool ClientCodec::forget(int32_t stream_id) {
  const auto it = std::find(open_.begin(), open_.end(), stream_id);
  if (it == open_.end()) return false;
  *it = open_.back();
  open_.pop_back();
  return true;
}

int ClientCodec::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto& self = codec(user);
  self.block_ = Block::Trailers;  // until a ":status" says otherwise
  self.block_size_ = 0;
  return 0;
}

int ClientCodec::onHeaderField(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                               const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto& self = codec(user);
  // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on what it receives.
  self.block_size_ += namelen + valuelen + kFieldOverhead;
  if (self.block_size_ > self.settings_.max_header_list_size) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") self.block_ = v.starts_with('1') ? Block::Interim : Block::Final;
  // TEMPORAL_CALLBACK_FAILURE resets only this stream.
  return self.callbacks_.onHeader(frame->hd.stream_id, n, v) ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int ClientCodec::onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto& self = codec(user);
  auto& cb = self.callbacks_;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  const bool ack = (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      cb.onHeadersComplete(frame->hd.stream_id, self.block_ == Block::Interim, self.block_ == Block::Trailers,
                           end_stream);
      break;
    case NGHTTP2_DATA:
      if (end_stream) cb.onResponseEnd(frame->hd.stream_id);
      break;
    case NGHTTP2_RST_STREAM: cb.onStreamReset(frame->hd.stream_id, frame->rst_stream.error_code); break;
    case NGHTTP2_GOAWAY: cb.onGoaway(frame->goaway.last_stream_id, frame->goaway.error_code); break;
    case NGHTTP2_SETTINGS:
      if (!ack) {
        cb.onRemoteSettings(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
      }
      break;
    case NGHTTP2_PING:
      if (ack) cb.onPingAck();
      break;
    default: break;
  }
  return 0;
}

int ClientCodec::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                             void* user) {
  codec(user).callbacks_.onData(stream_id, data, len);
  return 0;
}

// Also for a request whose HEADERS never left (refused after GOAWAY, reset while queued): nghttp2 opens the
// stream before deciding to drop the HEADERS, and closes it then (REFUSED_STREAM, or the reset's code).
int ClientCodec::onStreamClosed(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  codec(user).streamClosed(stream_id, error_code);
  return 0;
}

int ClientCodec::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    codec(user).callbacks_.onResetSent(frame->hd.stream_id, frame->rst_stream.error_code);
  }
  return 0;
}

ssize_t ClientCodec::readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                              nghttp2_data_source*, void* user) {
  bool end = false;
  bool trailers = false;
  const size_t n = codec(user).callbacks_.readRequestBody(stream_id, buf, length, &end, &trailers);
  if (end) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (trailers) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return static_cast<ssize_t>(n);
  }
  return n == 0 ? static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED) : static_cast<ssize_t>(n);
}

}  // namespace tether::http2
