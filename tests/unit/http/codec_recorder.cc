#include "codec_recorder.h"

#include <algorithm>

namespace tether::http::testing {

Http1CodecCallbacks::HeadAction CodecRecorder::onHead(MessageHead& head) {
  if (refuse_upgrade) head.upgrade = false;
  messages.push_back(RecordedMessage{head, {}, {}, false});
  return head_action;
}

void CodecRecorder::onBody(const char* data, size_t len) {
  if (buffer_begin && (data < buffer_begin || data + len > buffer_end)) body_outside_buffer = true;
  messages.back().body.append(data, len);
}

void CodecRecorder::onTrailers(const HeaderList& trailers) { messages.back().trailers = trailers; }

bool CodecRecorder::onMessageComplete() {
  messages.back().complete = true;
  return pause_after_message;
}

size_t feedInPieces(Http1Codec& codec, std::string_view data, size_t piece) {
  size_t used = 0;
  while (used < data.size()) {
    const size_t n = std::min(piece, data.size() - used);
    used += codec.feed(data.data() + used, n);
    if (codec.status() == Http1Codec::Status::Paused) {
      codec.resume();
      continue;
    }
    if (codec.status() != Http1Codec::Status::Ok) break;
  }
  return used;
}

size_t feedAll(Http1Codec& codec, std::string_view data) { return feedInPieces(codec, data, data.size()); }

size_t feedSplit(Http1Codec& codec, std::string_view data, size_t split) {
  size_t used = feedAll(codec, data.substr(0, split));
  if (used < split) return used;
  return used + feedAll(codec, data.substr(split));
}

namespace {

void describeFields(std::string& out, const HeaderList& fields) {
  for (const Header& field : fields) out += " [" + field.name + "=" + field.value + "]";
}

}  // namespace

std::string describe(const std::vector<RecordedMessage>& messages) {
  std::string out;
  for (const RecordedMessage& m : messages) {
    const MessageHead& h = m.head;
    out += h.method + " " + h.target + " " + std::to_string(h.status) + " " + h.reason + " HTTP/" +
           std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
    out += h.keep_alive ? " keep-alive" : " close";
    if (h.chunked) out += " chunked";
    if (h.content_length) out += " length=" + std::to_string(*h.content_length);
    if (h.upgrade) out += " upgrade";
    if (h.expect_continue) out += " expect-continue";
    describeFields(out, h.headers);
    out += " body=" + m.body;
    if (!m.trailers.empty()) out += " trailers:";
    describeFields(out, m.trailers);
    out += m.complete ? " complete\n" : " incomplete\n";
  }
  return out;
}

ParseErrorKind requestErrorKind(std::string_view data, size_t max_head_bytes) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{max_head_bytes});
  feedAll(codec, data);
  return codec.error().kind;
}

ParseErrorKind responseErrorKind(std::string_view data) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Response, recorder, Http1Codec::Limits{});
  feedAll(codec, data);
  return codec.error().kind;
}

}  // namespace tether::http::testing
