#include "support/h2_client.h"

#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "support/socket_io.h"
#include "support/test_upstream.h"

namespace tether::testing {
namespace {

nghttp2_nv field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::string frameHeader(size_t length, uint8_t type, uint8_t flags, int32_t stream_id) {
  std::string out(9, '\0');
  out[0] = static_cast<char>((length >> 16) & 0xff);
  out[1] = static_cast<char>((length >> 8) & 0xff);
  out[2] = static_cast<char>(length & 0xff);
  out[3] = static_cast<char>(type);
  out[4] = static_cast<char>(flags);
  for (int i = 0; i < 4; ++i) out[5 + i] = static_cast<char>((static_cast<uint32_t>(stream_id) >> (24 - 8 * i)) & 0xff);
  return out;
}

void putLiteral(std::string& block, uint8_t name_index, std::string_view value) {
  block.push_back(static_cast<char>(name_index));    // literal without indexing, indexed name (RFC 7541 6.2.2)
  block.push_back(static_cast<char>(value.size()));  // < 127 bytes, no Huffman
  block.append(value);
}

uint32_t readU32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

}  // namespace

H2Client::H2Client() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &H2Client::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &H2Client::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &H2Client::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &H2Client::onStreamClose);
  nghttp2_session* raw = nullptr;
  nghttp2_session_client_new(&raw, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  session_.reset(raw);
}

H2Client::~H2Client() { disconnect(); }

bool H2Client::connect(uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = connectLoopback(port, deadlineAfter(timeout));
  if (fd_ < 0) return false;
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                             {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  return nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 2) == 0;
}

int32_t H2Client::request(std::string_view method, std::string_view path, std::string body, const HeaderList& extra,
                          std::string_view authority) {
  std::vector<nghttp2_nv> nv{field(":method", method), field(":scheme", "http"), field(":path", path),
                             field(":authority", authority)};
  for (const auto& [name, value] : extra) nv.push_back(field(name, value));
  nghttp2_data_provider provider{};
  provider.read_callback = &H2Client::readBody;
  const bool with_body = !body.empty();
  const int32_t id =
      nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(), with_body ? &provider : nullptr, nullptr);
  if (id > 0) streams_[id].request_body = std::move(body);
  return id;
}

int32_t H2Client::requestWithTrailers(std::string_view method, std::string_view path, std::string body,
                                      const HeaderList& extra, HeaderList trailers) {
  const int32_t id = request(method, path, std::move(body), extra);
  if (id > 0) streams_[id].request_trailers = std::move(trailers);
  return id;
}

int32_t H2Client::requestGenerated(std::string_view method, std::string_view path, uint64_t upload_bytes,
                                   bool discard_body) {
  std::vector<nghttp2_nv> nv{field(":method", method), field(":scheme", "http"), field(":path", path),
                             field(":authority", "test")};
  nghttp2_data_provider provider{};
  provider.read_callback = &H2Client::readBody;
  const int32_t id = nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(),
                                            upload_bytes > 0 ? &provider : nullptr, nullptr);
  if (id > 0) {
    streams_[id].upload_bytes = upload_bytes;
    streams_[id].discard_body = discard_body;
  }
  return id;
}

void H2Client::reset(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void H2Client::goaway(uint32_t error_code) {
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, 0, error_code, nullptr, 0);
}

bool H2Client::pump(std::chrono::milliseconds wait) {
  if (fd_ < 0) return false;
  // Frames are gathered into one write: nghttp2 hands out a DATA frame's 9-byte header separately, and small
  // writes would meet Nagle and delayed ACKs.
  std::string output;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n > 0) output.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (n <= 0 || output.size() >= (1u << 20)) {
      if (!output.empty() && writeAll(fd_, output, -1, deadlineAfter(std::chrono::seconds(10))) != IoResult::kOk) {
        ended_ = true;
        return false;
      }
      output.clear();
      if (n <= 0) break;
    }
  }
  std::string input;
  const IoResult r = readSome(fd_, input, -1, deadlineAfter(wait));
  if (r == IoResult::kTimeout) return true;
  if (!input.empty()) {
    nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  if (r != IoResult::kOk) {
    ended_ = true;
    return false;
  }
  return true;
}

bool H2Client::runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = deadlineAfter(timeout);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (!pump(std::chrono::milliseconds(20))) return done();
  }
  // Whatever the callbacks queued (WINDOW_UPDATE, RST_STREAM) goes out now.
  pump(std::chrono::milliseconds(0));
  return true;
}

bool H2Client::waitClosed(int32_t stream_id, std::chrono::milliseconds timeout) {
  return runUntil([&] { return streams_[stream_id].closed; }, timeout);
}

void H2Client::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

const H2Client::Stream& H2Client::stream(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) throw std::out_of_range("no such stream");
  return it->second;
}

int H2Client::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<H2Client*>(user);
  Stream& s = self->streams_[frame->hd.stream_id];
  std::string n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    const int status = std::stoi(v);
    if (status >= 200) s.status = status;
    return 0;
  }
  if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && s.status >= 200) {
    s.trailers.emplace_back(std::move(n), std::move(v));
  } else if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    s.headers.emplace_back(std::move(n), std::move(v));
  }
  return 0;
}

int H2Client::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<H2Client*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    self->goaway_ = true;
    self->goaway_code_ = frame->goaway.error_code;
    self->goaway_last_ids_.push_back(frame->goaway.last_stream_id);
  }
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    self->streams_[frame->hd.stream_id].head_ended_stream = true;
  }
  return 0;
}

int H2Client::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
  Stream& s = static_cast<H2Client*>(user)->streams_[stream_id];
  if (s.discard_body) {
    for (size_t i = 0; i < len && s.body_matches_generated; ++i) {
      s.body_matches_generated = static_cast<char>(data[i]) == generatedByte(s.body_bytes + i);
    }
  } else {
    s.body.append(reinterpret_cast<const char*>(data), len);
  }
  s.body_bytes += len;
  return 0;
}

int H2Client::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  Stream& s = static_cast<H2Client*>(user)->streams_[stream_id];
  s.closed = true;
  s.error_code = error_code;
  return 0;
}

ssize_t H2Client::readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user) {
  Stream& s = static_cast<H2Client*>(user)->streams_[stream_id];
  if (s.upload_bytes > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, s.upload_bytes - s.request_offset));
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<uint8_t>(generatedByte(s.request_offset + i));
    s.request_offset += n;
    if (s.request_offset == s.upload_bytes) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  const size_t n = std::min(length, s.request_body.size() - s.request_offset);
  std::memcpy(buf, s.request_body.data() + s.request_offset, n);
  s.request_offset += n;
  if (s.request_offset == s.request_body.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s.request_trailers.empty()) {
      // The trailers' HEADERS frame ends the stream instead of this DATA frame.
      std::vector<nghttp2_nv> nv;
      for (const auto& [name, value] : s.request_trailers) nv.push_back(field(name, value));
      auto* self = static_cast<H2Client*>(user);
      if (nghttp2_submit_trailer(self->session_.get(), stream_id, nv.data(), nv.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
  }
  return static_cast<ssize_t>(n);
}

namespace h2frames {

std::string preface() {
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frameHeader(0, NGHTTP2_SETTINGS, 0, 0);
}

std::string getHeaders(int32_t stream_id, std::string_view path, std::string_view authority) {
  std::string block;
  block.push_back(static_cast<char>(0x82));  // :method GET (static table 2)
  block.push_back(static_cast<char>(0x86));  // :scheme http (static table 6)
  putLiteral(block, 4, path);                // :path
  putLiteral(block, 1, authority);           // :authority
  return frameHeader(block.size(), NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, stream_id) +
         block;
}

std::string rstStream(int32_t stream_id, uint32_t error_code) {
  std::string payload(4, '\0');
  for (int i = 0; i < 4; ++i) payload[i] = static_cast<char>((error_code >> (24 - 8 * i)) & 0xff);
  return frameHeader(4, NGHTTP2_RST_STREAM, 0, stream_id) + payload;
}

std::string headers(int32_t stream_id, const HeaderList& fields, bool end_stream) {
  std::string block;
  for (const auto& [name, value] : fields) {
    block.push_back('\0');  // literal without indexing, new name (RFC 7541 6.2.2)
    block.push_back(static_cast<char>(name.size()));
    block.append(name);
    block.push_back(static_cast<char>(value.size()));
    block.append(value);
  }
  const uint8_t flags = NGHTTP2_FLAG_END_HEADERS | (end_stream ? NGHTTP2_FLAG_END_STREAM : 0);
  return frameHeader(block.size(), NGHTTP2_HEADERS, flags, stream_id) + block;
}

std::string data(int32_t stream_id, std::string_view payload, bool end_stream) {
  return frameHeader(payload.size(), NGHTTP2_DATA, end_stream ? NGHTTP2_FLAG_END_STREAM : 0, stream_id) +
         std::string(payload);
}

std::string windowUpdate(int32_t stream_id, uint32_t increment) {
  std::string payload(4, '\0');
  for (int i = 0; i < 4; ++i) payload[i] = static_cast<char>((increment >> (24 - 8 * i)) & 0xff);
  return frameHeader(4, NGHTTP2_WINDOW_UPDATE, 0, stream_id) + payload;
}

std::optional<uint32_t> findGoaway(std::string_view bytes) {
  size_t at = 0;
  while (bytes.size() - at >= 9) {
    const size_t length = (static_cast<uint8_t>(bytes[at]) << 16) | (static_cast<uint8_t>(bytes[at + 1]) << 8) |
                          static_cast<uint8_t>(bytes[at + 2]);
    const uint8_t type = static_cast<uint8_t>(bytes[at + 3]);
    if (bytes.size() - at - 9 < length) break;
    if (type == NGHTTP2_GOAWAY && length >= 8) return readU32(bytes, at + 9 + 4);
    at += 9 + length;
  }
  return std::nullopt;
}

}  // namespace h2frames
}  // namespace tether::testing
