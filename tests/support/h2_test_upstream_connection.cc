#include "support/h2_test_upstream_connection.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <limits>
#include <stdexcept>
#include <vector>

#include "support/test_upstream.h"

namespace tether::testing {
namespace {

constexpr size_t kMaxBuffered = 256 * 1024;  // serialized bytes held before writing, per connection

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Name, value, name, value...; names lower-cased, as HTTP/2 requires.
std::vector<std::string> flatten(const HeaderList& fields) {
  std::vector<std::string> flat;
  for (const auto& [name, value] : fields) {
    flat.push_back(lower(name));
    flat.push_back(value);
  }
  return flat;
}

// Points into `flat`, which must outlive the result (nghttp2 copies on submit).
std::vector<nghttp2_nv> toNv(const std::vector<std::string>& flat) {
  std::vector<nghttp2_nv> nv;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i].data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i + 1].data())), flat[i].size(), flat[i + 1].size(),
                  NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

uint64_t bodySize(const H2TestUpstream::Reply& reply) {
  return reply.stream_bytes > 0 ? reply.stream_bytes : reply.body.size();
}

bool needsBodyProvider(const H2TestUpstream::Reply& reply) {
  return bodySize(reply) > 0 || !reply.trailers.empty() || reply.hold == H2TestUpstream::Reply::Hold::kAfterHeaders;
}

}  // namespace

nghttp2_session_callbacks* H2TestUpstream::Connection::makeCallbacks() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Connection::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Connection::onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Connection::onDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Connection::onFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Connection::onFrameSend);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Connection::onStreamClose);
  return cbs;
}

H2TestUpstream::Connection::Connection(H2TestUpstream& owner, int fd, int id) : owner_(owner), fd_(fd), id_(id) {
  nghttp2_session_callbacks* cbs = makeCallbacks();
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // nghttp2's own Rapid Reset bucket would answer first with GOAWAY(INTERNAL_ERROR); Options::max_client_resets
  // is the limit under test.
  constexpr uint64_t kUnlimited = std::numeric_limits<uint32_t>::max();
  nghttp2_option_set_stream_reset_rate_limit(option, kUnlimited, kUnlimited);
  nghttp2_session* raw = nullptr;
  const int rv = nghttp2_session_server_new2(&raw, cbs, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    ::close(fd_);
    throw std::runtime_error("H2TestUpstream: nghttp2_session_server_new2 failed");
  }
  session_.reset(raw);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, owner_.options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(owner_.options_.initial_window_size)}};
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 2);
}

H2TestUpstream::Connection::~Connection() {
  session_.reset();  // before the fd: nghttp2 calls back nothing on delete, but keep the order obvious
  ::close(fd_);
}

bool H2TestUpstream::Connection::onReadable() {
  uint8_t buf[16 * 1024];
  while (true) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (nghttp2_session_mem_recv(session_.get(), buf, static_cast<size_t>(n)) < 0) return false;
  }
}

bool H2TestUpstream::Connection::flush() {
  while (true) {
    while (out_.size() < kMaxBuffered) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
      if (n < 0) return false;
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (out_.empty()) return true;
    const ssize_t n = ::write(fd_, out_.data(), out_.size());
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    out_.erase(0, static_cast<size_t>(n));
    if (!out_.empty()) return true;  // the socket is full: wait for POLLOUT
  }
}

bool H2TestUpstream::Connection::finished() const {
  return out_.empty() && !nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get());
}

void H2TestUpstream::Connection::service(TimePoint now) {
  for (auto& [id, stream] : streams_) {
    releaseIfAsked(id, stream);
    if (stream.deferred && !stream.held && now >= stream.next_send) {
      stream.deferred = false;
      nghttp2_session_resume_data(session_.get(), id);
    }
  }
}

std::optional<H2TestUpstream::Connection::TimePoint> H2TestUpstream::Connection::nextTimer() const {
  std::optional<TimePoint> next;
  for (const auto& [id, stream] : streams_) {
    if (stream.deferred && !stream.held && (!next || stream.next_send < *next)) next = stream.next_send;
  }
  return next;
}

void H2TestUpstream::Connection::releaseIfAsked(int32_t stream_id, StreamState& stream) {
  if (!stream.held || !owner_.released(id_, stream_id, stream.hold_epoch)) return;
  stream.held = false;
  if (!stream.submitted) {
    submitResponse(stream_id, stream);
  } else if (stream.deferred) {
    stream.deferred = false;
    nghttp2_session_resume_data(session_.get(), stream_id);
  }
}

int H2TestUpstream::Connection::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Connection*>(user);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    StreamState& stream = self->streams_[frame->hd.stream_id];
    stream.request.connection = self->id_;
    stream.request.stream_id = frame->hd.stream_id;
  }
  return 0;
}

int H2TestUpstream::Connection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Connection*>(user);
  const auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end() || frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2Request& request = it->second.request;
  std::string n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    request.trailers.emplace_back(std::move(n), std::move(v));
  } else if (n == ":method") {
    request.method = std::move(v);
  } else if (n == ":scheme") {
    request.scheme = std::move(v);
  } else if (n == ":authority") {
    request.authority = std::move(v);
  } else if (n == ":path") {
    request.path = std::move(v);
  } else {
    request.headers.emplace_back(std::move(n), std::move(v));
  }
  return 0;
}

int H2TestUpstream::Connection::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                                            size_t len, void* user) {
  auto* self = static_cast<Connection*>(user);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  H2Request& request = it->second.request;
  const std::string_view chunk(reinterpret_cast<const char*>(data), len);
  request.body_bytes += len;
  const size_t room = H2Request::kMaxKeptBody - std::min(H2Request::kMaxKeptBody, request.body.size());
  request.body.append(chunk.substr(0, room));
  self->owner_.recordBody(self->id_, stream_id, chunk);
  return 0;
}

int H2TestUpstream::Connection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Connection*>(user);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: self->onHeadersReceived(*frame); break;
    case NGHTTP2_DATA:
      if (end_stream) self->requestComplete(frame->hd.stream_id);
      break;
    case NGHTTP2_RST_STREAM: self->onResetReceived(*frame); break;
    case NGHTTP2_GOAWAY:
      self->owner_.recordGoawayReceived(self->id_, frame->goaway.last_stream_id, frame->goaway.error_code);
      break;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) self->owner_.recordPing(self->id_);
      break;
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
        std::vector<std::pair<int32_t, uint32_t>> entries;
        for (size_t i = 0; i < frame->settings.niv; ++i) {
          entries.emplace_back(frame->settings.iv[i].settings_id, frame->settings.iv[i].value);
        }
        self->owner_.recordSettings(self->id_, std::move(entries));
      }
      break;
    default: break;
  }
  return 0;
}

void H2TestUpstream::Connection::onHeadersReceived(const nghttp2_frame& frame) {
  const auto it = streams_.find(frame.hd.stream_id);
  if (it == streams_.end()) return;
  if (frame.headers.cat == NGHTTP2_HCAT_REQUEST) owner_.recordStreamOpened(it->second.request);
  if ((frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) requestComplete(frame.hd.stream_id);
}

// Counts the reset against the Rapid Reset limit (Options::max_client_resets) before recording it.
void H2TestUpstream::Connection::onResetReceived(const nghttp2_frame& frame) {
  owner_.recordResetReceived(id_, frame.hd.stream_id, frame.rst_stream.error_code);
  const Options& options = owner_.options_;
  if (options.max_client_resets <= 0 || calm_sent_) return;
  const TimePoint now = std::chrono::steady_clock::now();
  reset_times_.push_back(now);
  if (options.reset_window.count() > 0) {
    while (!reset_times_.empty() && reset_times_.front() + options.reset_window < now) reset_times_.pop_front();
  }
  if (static_cast<int>(reset_times_.size()) > options.max_client_resets) {
    calm_sent_ = true;
    nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

int H2TestUpstream::Connection::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Connection*>(user);
  const int32_t id = frame->hd.stream_id;
  switch (frame->hd.type) {
    case NGHTTP2_RST_STREAM: self->owner_.recordResetSent(self->id_, id, frame->rst_stream.error_code); break;
    case NGHTTP2_GOAWAY: self->owner_.recordGoawaySent(self->id_, frame->goaway.error_code); break;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
      if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) self->owner_.recordResponseComplete(self->id_, id);
      break;
    default: break;
  }
  return 0;
}

int H2TestUpstream::Connection::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* self = static_cast<Connection*>(user);
  self->streams_.erase(stream_id);
  self->owner_.recordStreamClosed(self->id_, stream_id, error_code);
  return 0;
}

void H2TestUpstream::Connection::requestComplete(int32_t stream_id) {
  const auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  owner_.recordRequest(it->second.request);
  it->second.reply = owner_.handle(it->second.request);
  applyReply(stream_id, it->second);
}

void H2TestUpstream::Connection::applyReply(int32_t stream_id, StreamState& stream) {
  const Reply& reply = stream.reply;
  if (reply.goaway_last_stream_id) {
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, *reply.goaway_last_stream_id, reply.goaway_code, nullptr,
                          0);
    if (stream_id > *reply.goaway_last_stream_id) return;  // nghttp2 closes it once the GOAWAY is sent
  }
  if (reply.reset_code) {
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, *reply.reset_code);
    return;
  }
  if (reply.hold != Reply::Hold::kNone) {
    stream.held = true;
    stream.hold_epoch = owner_.releaseEpoch();
    if (owner_.released(id_, stream_id, stream.hold_epoch)) stream.held = false;
  }
  if (!stream.held || reply.hold == Reply::Hold::kAfterHeaders) submitResponse(stream_id, stream);
}

void H2TestUpstream::Connection::submitResponse(int32_t stream_id, StreamState& stream) {
  stream.submitted = true;
  const Reply& reply = stream.reply;
  HeaderList head{{":status", std::to_string(reply.status)}};
  head.insert(head.end(), reply.headers.begin(), reply.headers.end());
  const std::vector<std::string> flat = flatten(head);
  const std::vector<nghttp2_nv> nv = toNv(flat);
  nghttp2_data_provider provider{};
  provider.read_callback = &Connection::readBody;
  nghttp2_submit_response(session_.get(), stream_id, nv.data(), nv.size(),
                          needsBodyProvider(reply) ? &provider : nullptr);
}

ssize_t H2TestUpstream::Connection::readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                                             uint32_t* flags, nghttp2_data_source*, void* user) {
  auto* self = static_cast<Connection*>(user);
  const auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return self->produceBody(stream_id, it->second, buf, length, flags);
}

// The next DATA payload. Defers (and is resumed by service()) while held at body_before_hold or until a slow
// body's interval has passed; nghttp2 only asks when the flow-control windows allow `length` bytes.
ssize_t H2TestUpstream::Connection::produceBody(int32_t stream_id, StreamState& stream, uint8_t* buf, size_t length,
                                                uint32_t* flags) {
  const Reply& reply = stream.reply;
  const uint64_t total = bodySize(reply);
  const uint64_t limit = stream.held ? std::min(total, reply.body_before_hold) : total;
  const TimePoint now = std::chrono::steady_clock::now();
  if ((stream.held && stream.sent >= limit) || (stream.sent > 0 && now < stream.next_send)) {
    stream.deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  const size_t n =
      static_cast<size_t>(std::min<uint64_t>({length, std::max<size_t>(reply.chunk, 1), limit - stream.sent}));
  for (size_t i = 0; i < n; ++i) {
    buf[i] = static_cast<uint8_t>(reply.stream_bytes > 0 ? generatedByte(stream.sent + i)
                                                         : reply.body[static_cast<size_t>(stream.sent) + i]);
  }
  stream.sent += n;
  stream.next_send = now + reply.interval;
  if (stream.sent < total) return static_cast<ssize_t>(n);
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (!reply.trailers.empty()) {
    const std::vector<std::string> flat = flatten(reply.trailers);
    const std::vector<nghttp2_nv> nv = toNv(flat);
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_submit_trailer(session_.get(), stream_id, nv.data(), nv.size());
  }
  return static_cast<ssize_t>(n);
}

}  // namespace tether::testing
