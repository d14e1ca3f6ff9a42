// libFuzzer target: the HTTP/2 server session fed a client's frames. The client preface is prepended (the input is
// what follows it), the rest goes to http2::ServerCodec in reads cut as the first input byte says, and the
// callbacks act as Http2Session does: streams are tracked, request body credit is given back, each complete request
// is answered (a body, an interim 103 first, trailers, or a reset, as the stream id and a control byte say), and
// frames are serialised after every read as the session flushes them. With the first byte's top bit set, the input
// is frame records instead of raw bytes (framesFrom).
#include <event2/buffer.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "http2/server_codec.h"
#include "util/libevent.h"

namespace tether::fuzz {
namespace {

using http2::ServerCodec;

struct Stream {
  std::string body_left;  // response body still to send
  bool trailers = false;
  size_t header_bytes = 0;
};

class Session : public http2::ServerCodecCallbacks {
 public:
  explicit Session(uint8_t control) : control_(control), codec_(*this, settingsFrom(control)) {}

  ServerCodec& codec() { return codec_; }

  void onStreamBegin(int32_t id) override { streams_[id]; }
  bool onHeader(int32_t id, std::string_view name, std::string_view value) override {
    auto it = streams_.find(id);
    if (it == streams_.end()) return true;
    it->second.header_bytes += name.size() + value.size();
    return name != "x-fuzz-reject";  // the session refuses some fields (connection-specific ones)
  }
  void onHeadersComplete(int32_t id, bool trailers, bool end_stream) override {
    if (end_stream) respond(id);
  }
  void onData(int32_t id, const uint8_t*, size_t len) override {
    codec_.consumeConnection(len);
    codec_.consumeStream(id, len);
  }
  void onRequestEnd(int32_t id) override { respond(id); }
  void onStreamReset(int32_t id, uint32_t) override {}
  void onStreamClose(int32_t id, uint32_t) override { streams_.erase(id); }
  void onGoaway(uint32_t) override {}
  size_t readResponseBody(int32_t id, uint8_t* buf, size_t len, bool* end, bool* trailers) override {
    auto it = streams_.find(id);
    if (it == streams_.end()) {
      *end = true;
      return 0;
    }
    const size_t n = std::min(len, it->second.body_left.size());
    std::copy_n(it->second.body_left.data(), n, buf);
    it->second.body_left.erase(0, n);
    *end = it->second.body_left.empty();
    *trailers = *end && it->second.trailers;
    return n;
  }

 private:
  static http2::ServerSettings settingsFrom(uint8_t control) {
    http2::ServerSettings settings;
    settings.max_concurrent_streams = 1 + control % 16;
    settings.initial_window_size = control % 2 == 0 ? 65535 : 16;  // a tiny window exercises deferred DATA
    settings.max_header_list_size = 4096;
    return settings;
  }

  void respond(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    const int how = (id / 2 + control_) % 5;
    if (how == 0) return codec_.resetStream(id, 8);  // CANCEL, as when the upstream fails
    if (how == 1) codec_.submitInterim(id, 103, {{"link", "</a.css>; rel=preload"}});
    it->second.body_left.assign(static_cast<size_t>(id % 300), 'b');
    it->second.trailers = how == 2;
    codec_.submitResponse(id, 200, {{"content-type", "text/plain"}, {"x-request-id", "fuzz"}}, how != 3);
    if (it->second.trailers) codec_.submitTrailers(id, {{"grpc-status", "0"}});
  }

  uint8_t control_;
  std::map<int32_t, Stream> streams_;
  ServerCodec codec_;
};

// Framed mode: the input is records (type, flags, stream id byte, 16-bit length, payload) turned into well-formed
// frame headers, so that mutations change frame contents and order rather than mostly breaking the framing
// (nghttp2 is not instrumented, so coverage cannot teach the fuzzer the frame layout).
std::string framesFrom(const uint8_t* data, size_t size) {
  std::string wire;
  size_t pos = 0;
  while (pos + 5 <= size) {
    const uint8_t type = data[pos] % 10;  // DATA..CONTINUATION
    const uint8_t flags = data[pos + 1];
    const uint8_t stream = data[pos + 2];
    const size_t len = std::min<size_t>((size_t{data[pos + 3]} << 8) | data[pos + 4], size - pos - 5);
    const char header[9] = {static_cast<char>(len >> 16),
                            static_cast<char>(len >> 8),
                            static_cast<char>(len),
                            static_cast<char>(type),
                            static_cast<char>(flags),
                            0,
                            0,
                            0,
                            static_cast<char>(stream)};
    wire.append(header, sizeof(header));
    wire.append(reinterpret_cast<const char*>(data) + pos + 5, len);
    pos += 5 + len;
  }
  return wire;
}

// One connection: the preface, then the client's bytes cut into reads, with the server's frames flushed after each.
int runSession(const uint8_t* data, size_t size) {
  FuzzInput input(data, size);
  const size_t step = FuzzInput::stepFrom(input.take());
  Session session(input.take());
  ServerCodec& codec = session.codec();
  if (!codec.start()) return 0;
  util::EvBufferPtr out(evbuffer_new());
  const auto preface = http2::kClientPreface;
  if (!codec.receive(reinterpret_cast<const uint8_t*>(preface.data()), preface.size())) std::abort();
  const uint8_t* chunk = nullptr;
  size_t len = 0;
  while (input.next(step, &chunk, &len)) {
    const bool ok = codec.receive(chunk, len);
    if (!codec.send(out.get(), 64 * 1024)) break;
    evbuffer_drain(out.get(), evbuffer_get_length(out.get()));
    if (!ok) break;
  }
  return 0;
}

}  // namespace
}  // namespace tether::fuzz

// The first byte's top bit chooses the framed mode; its other bits, how reads are cut.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || (data[0] & 0x80) == 0) return tether::fuzz::runSession(data, size);
  std::string input(reinterpret_cast<const char*>(data), std::min<size_t>(size, 2));
  input += tether::fuzz::framesFrom(data + input.size(), size - input.size());
  return tether::fuzz::runSession(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}
