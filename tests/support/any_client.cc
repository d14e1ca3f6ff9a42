#include "support/any_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <vector>

namespace tether::testing {
namespace {

nghttp2_nv field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

const char* name(ClientProtocol protocol) {
  switch (protocol) {
    case ClientProtocol::kH1: return "H1";
    case ClientProtocol::kH2c: return "H2c";
    case ClientProtocol::kH1Tls: return "H1Tls";
    case ClientProtocol::kH2Tls: return "H2Tls";
  }
  return "?";
}

bool isH2(ClientProtocol protocol) { return protocol == ClientProtocol::kH2c || protocol == ClientProtocol::kH2Tls; }
bool isTls(ClientProtocol protocol) { return protocol == ClientProtocol::kH1Tls || protocol == ClientProtocol::kH2Tls; }

std::string logProtocol(ClientProtocol protocol) {
  switch (protocol) {
    case ClientProtocol::kH1:
    case ClientProtocol::kH1Tls: return "http/1.1";
    case ClientProtocol::kH2c: return "h2c";
    case ClientProtocol::kH2Tls: return "h2";
  }
  return "?";
}

const char* name(Leave how) {
  switch (how) {
    case Leave::kFin: return "Fin";
    case Leave::kRst: return "Rst";
    case Leave::kStreamReset: return "StreamReset";
    case Leave::kCloseNotify: return "CloseNotify";
  }
  return "?";
}

std::string cancelReason(Leave how) {
  switch (how) {
    case Leave::kFin: return "client_closed";
    case Leave::kRst: return "client_reset";
    case Leave::kStreamReset: return "stream_reset";
    case Leave::kCloseNotify: return "client_closed";
  }
  return "?";
}

AnyClient::AnyClient(ClientProtocol protocol) : protocol_(protocol) {
  if (isTls(protocol)) tls_ = std::make_unique<TlsClient>();
  if (isH2(protocol)) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &AnyClient::onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &AnyClient::onDataChunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &AnyClient::onFrameRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &AnyClient::onStreamClose);
    nghttp2_session* raw = nullptr;
    nghttp2_session_client_new(&raw, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    session_.reset(raw);
  }
}

AnyClient::~AnyClient() = default;

bool AnyClient::connect(uint16_t port, std::chrono::milliseconds timeout) {
  if (tls_) {
    if (!tls_->connect(port, isH2(protocol_) ? "h2" : "http/1.1", timeout)) return false;
    if (tls_->alpn() != (isH2(protocol_) ? "h2" : "http/1.1")) return false;
  } else if (!raw_.connect(port, timeout)) {
    return false;
  }
  if (!session_) return true;
  // The preface goes out at once, as any h2 client sends it right after connecting (or the handshake).
  if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, nullptr, 0) != 0) return false;
  return flushH2();
}

bool AnyClient::sendBytes(std::string_view bytes) { return tls_ ? tls_->send(bytes) : raw_.send(bytes); }

bool AnyClient::flushH2() {
  std::string output;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n <= 0) break;
    output.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return output.empty() || sendBytes(output);
}

bool AnyClient::sendHead(std::string_view method, std::string_view path, const HeaderList& headers,
                         std::optional<uint64_t> content_length, bool end, std::string_view body) {
  response_ = Response{};
  decoder_.reset();
  if (!session_) {
    std::string head = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n";
    for (const auto& [n, v] : headers) head += n + ": " + v + "\r\n";
    if (content_length) head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
    return sendBytes(head + "\r\n" + std::string(body));
  }
  std::vector<std::string> names;  // lowercased; kept alive until submitted
  names.reserve(headers.size());
  for (const auto& [n, v] : headers) names.push_back(lowercase(n));
  const std::string length = content_length ? std::to_string(*content_length) : "";
  std::vector<nghttp2_nv> nv{field(":method", method), field(":scheme", isTls(protocol_) ? "https" : "http"),
                             field(":path", path), field(":authority", "test")};
  for (size_t i = 0; i < headers.size(); ++i) nv.push_back(field(names[i], headers[i].second));
  if (content_length) nv.push_back(field("content-length", length));
  upload_.assign(body);
  upload_end_ = end;
  nghttp2_data_provider provider{};
  provider.read_callback = &AnyClient::readBody;
  const bool with_body = !end || !body.empty();
  stream_id_ =
      nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(), with_body ? &provider : nullptr, this);
  return stream_id_ > 0 && flushH2();
}

bool AnyClient::sendBody(std::string_view bytes, bool end) {
  if (!session_) return sendBytes(bytes);
  upload_.append(bytes);
  upload_end_ = end;
  nghttp2_session_resume_data(session_.get(), stream_id_);
  return flushH2();
}

bool AnyClient::request(std::string_view method, std::string_view path, const HeaderList& headers,
                        std::string_view body) {
  if (body.empty()) return sendHead(method, path, headers);
  return sendHead(method, path, headers, body.size(), true, body);
}

ssize_t AnyClient::readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source*, void* user) {
  auto* self = static_cast<AnyClient*>(user);
  if (self->upload_.empty() && !self->upload_end_) return NGHTTP2_ERR_DEFERRED;
  const size_t n = std::min(length, self->upload_.size());
  std::memcpy(buf, self->upload_.data(), n);
  self->upload_.erase(0, n);
  if (self->upload_.empty() && self->upload_end_) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

void AnyClient::appendBody(const char* data, size_t len) {
  const size_t keep = std::min(len, kKeepBody - std::min(kKeepBody, response_.body.size()));
  response_.body.append(data, keep);
  response_.body_bytes += len;
}

bool AnyClient::pump(std::chrono::milliseconds wait) {
  if (closed_) return false;
  if (session_ && !flushH2()) {
    closed_ = true;
    return false;
  }
  const std::string bytes = tls_ ? tls_->recvSome(wait) : raw_.recvSome(wait);
  if (bytes.empty()) {
    closed_ = tls_ ? tls_->peerClosed() : raw_.peerClosed();
    if (closed_ && !session_) {
      parseH1();
      if (decoder_ && !response_.complete && decoder_->finishAtEof() == BodyDecoder::Status::kDone) {
        response_.complete = true;
      }
    }
    return !closed_;
  }
  if (session_) {
    nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    flushH2();  // SETTINGS ACK, WINDOW_UPDATE
  } else {
    in_ += bytes;
    parseH1();
  }
  return true;
}

void AnyClient::parseH1() {
  while (!decoder_) {
    const size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return;
    const auto head = parseHead(std::string_view(in_).substr(0, end));
    in_.erase(0, end + 4);
    if (!head) return;
    const std::string& line = head->start_line;  // "HTTP/1.1 200 OK"
    int status = 0;
    if (line.size() >= 12) std::from_chars(line.data() + 9, line.data() + 12, status);
    if (status >= 100 && status < 200) continue;
    response_.status = status;
    response_.headers = head->headers;
    const auto framing = responseFraming(status, head->headers, false);
    decoder_ = std::make_unique<BodyDecoder>(framing.value_or(Framing{BodyFraming::kUntilClose, 0}), kKeepBody);
  }
  if (response_.complete) return;
  const auto status = decoder_->consume(in_);
  response_.body = decoder_->body();
  response_.body_bytes = decoder_->bodyBytes();
  if (status == BodyDecoder::Status::kDone) response_.complete = true;
}

bool AnyClient::readUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (!done()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (!pump(std::min(left, std::chrono::milliseconds(100)))) return done();
  }
  return true;
}

std::optional<AnyClient::Response> AnyClient::readResponse(std::chrono::milliseconds timeout) {
  if (!readUntil([&] { return response_.complete || response_.reset; }, timeout) || !response_.complete) {
    return std::nullopt;
  }
  return response_;
}

bool AnyClient::readResponseStart(uint64_t body_bytes, std::chrono::milliseconds timeout) {
  return readUntil([&] { return response_.status != 0 && response_.body_bytes >= body_bytes; }, timeout);
}

bool AnyClient::waitClosed(std::chrono::milliseconds timeout) {
  return readUntil([&] { return closed_; }, timeout);
}

void AnyClient::leave(Leave how) {
  switch (how) {
    case Leave::kFin:
      // A FIN is a shutdown of the sending side: closing a socket with unread bytes (the server's SETTINGS, TLS
      // session tickets, a response) would send a reset instead.
      tls_ ? tls_->shutdownWrite() : raw_.shutdownWrite();
      break;
    case Leave::kRst: tls_ ? tls_->closeWithRst() : raw_.closeWithRst(); break;
    case Leave::kStreamReset:
      ASSERT_TRUE(session_) << "RST_STREAM needs an HTTP/2 client";
      nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
      EXPECT_TRUE(flushH2()) << "the RST_STREAM was not written";
      break;
    case Leave::kCloseNotify:
      ASSERT_TRUE(tls_) << "close_notify needs a TLS client";
      tls_->sendCloseNotify();
      break;
  }
}

int AnyClient::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                        const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<AnyClient*>(user);
  if (frame->hd.stream_id != self->stream_id_) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int status = 0;
    std::from_chars(v.data(), v.data() + v.size(), status);
    if (status >= 200) self->response_.status = status;
  } else if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    self->response_.headers.emplace_back(n, v);
  }
  return 0;
}

int AnyClient::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<AnyClient*>(user);
  if (stream_id == self->stream_id_) self->appendBody(reinterpret_cast<const char*>(data), len);
  return 0;
}

int AnyClient::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<AnyClient*>(user);
  if (frame->hd.stream_id != self->stream_id_) return 0;
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    self->response_.reset = true;
    self->response_.reset_code = frame->rst_stream.error_code;
  } else if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
             (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && self->response_.status != 0) {
    self->response_.complete = true;
  }
  return 0;
}

int AnyClient::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* self = static_cast<AnyClient*>(user);
  if (stream_id == self->stream_id_ && !self->response_.complete) {
    self->response_.reset = true;
    self->response_.reset_code = error_code;
  }
  return 0;
}

}  // namespace tether::testing
