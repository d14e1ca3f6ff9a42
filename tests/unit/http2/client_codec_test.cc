// The HTTP/2 client codec against the real server codec, in memory: each side's frames are piped to the other until
// neither has anything to send. No sockets, no timers.
#include "http2/client_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http2/server_codec.h"
#include "util/libevent.h"

namespace tether::http2 {
namespace {

using Fields = std::map<std::string, std::string>;
using FieldList = std::vector<std::pair<std::string, std::string>>;

// A body source for either side's data provider: what is there now, whether that is all, trailers after it.
struct BodySource {
  std::string pending;
  bool end = false;
  FieldList trailers;
  int reads = 0;

  size_t read(uint8_t* buf, size_t len, bool* at_end, bool* with_trailers) {
    ++reads;
    const size_t n = std::min(len, pending.size());
    std::copy_n(pending.begin(), n, buf);
    pending.erase(0, n);
    *at_end = end && pending.empty();
    *with_trailers = *at_end && !trailers.empty();
    return n;
  }
};

// The upstream server: ServerCodec, recording requests; the tests submit its responses.
class ServerPeer : public ServerCodecCallbacks {
 public:
  struct Stream {
    Fields fields;  // the block being received
    Fields head;
    bool head_end_stream = false;
    Fields trailers;
    bool trailers_end_stream = false;
    std::string body;
    bool request_end = false;
    std::optional<uint32_t> reset;
    std::optional<uint32_t> closed;
    BodySource response;
  };

  explicit ServerPeer(const ServerSettings& settings = {}) : codec(*this, settings) {}

  void onStreamBegin(int32_t id) override { begun.push_back(id); }
  bool onHeader(int32_t id, std::string_view name, std::string_view value) override {
    streams[id].fields[std::string(name)] = std::string(value);
    return true;
  }
  void onHeadersComplete(int32_t id, bool trailers, bool end_stream) override {
    Stream& s = streams[id];
    (trailers ? s.trailers : s.head) = std::exchange(s.fields, {});
    (trailers ? s.trailers_end_stream : s.head_end_stream) = end_stream;
  }
  void onData(int32_t id, const uint8_t* data, size_t len) override {
    streams[id].body.append(reinterpret_cast<const char*>(data), len);
    codec.consumeStream(id, len);
    codec.consumeConnection(len);
  }
  void onRequestEnd(int32_t id) override { streams[id].request_end = true; }
  void onStreamReset(int32_t id, uint32_t code) override { streams[id].reset = code; }
  void onStreamClose(int32_t id, uint32_t code) override { streams[id].closed = code; }
  void onGoaway(uint32_t) override {}
  size_t readResponseBody(int32_t id, uint8_t* buf, size_t len, bool* end, bool* trailers) override {
    BodySource& source = streams[id].response;
    const size_t n = source.read(buf, len, end, trailers);
    if (*trailers) {
      EXPECT_TRUE(codec.submitTrailers(id, fieldsOf(source.trailers)));
    }
    return n;
  }

  // A response head; the body (if any) comes from streams[id].response.
  void respond(int32_t id, int status, const FieldList& fields, bool with_body) {
    ASSERT_TRUE(codec.submitResponse(id, status, fieldsOf(fields), with_body));
  }
  std::vector<ServerCodec::Field>& fieldsOf(const FieldList& fields) {
    auto& out = codec.fieldScratch();
    out.clear();
    for (const auto& [name, value] : fields) out.emplace_back(name, value);
    return out;
  }

  ServerCodec codec;
  std::vector<int32_t> begun;
  std::map<int32_t, Stream> streams;
};

// tether's side: ClientCodec, recording responses.
class ClientPeer : public ClientCodecCallbacks {
 public:
  struct Head {
    bool interim = false;
    bool trailers = false;
    bool end_stream = false;
    Fields fields;
  };
  struct Stream {
    Fields fields;  // the block being received
    std::vector<Head> heads;
    std::string body;
    bool response_end = false;
    std::optional<uint32_t> reset;
    std::optional<uint32_t> closed;
    int closes = 0;
    BodySource request;
  };

  explicit ClientPeer(const ClientSettings& settings = {}) : codec(*this, settings) {}

  bool onHeader(int32_t id, std::string_view name, std::string_view value) override {
    streams[id].fields[std::string(name)] = std::string(value);
    return true;
  }
  void onHeadersComplete(int32_t id, bool interim, bool trailers, bool end_stream) override {
    Stream& s = streams[id];
    s.heads.push_back({interim, trailers, end_stream, std::exchange(s.fields, {})});
  }
  void onData(int32_t id, const uint8_t* data, size_t len) override {
    streams[id].body.append(reinterpret_cast<const char*>(data), len);
    if (auto_consume) {
      codec.consumeStream(id, len);
      codec.consumeConnection(len);
    }
  }
  void onResponseEnd(int32_t id) override { streams[id].response_end = true; }
  void onStreamReset(int32_t id, uint32_t code) override { streams[id].reset = code; }
  void onStreamClose(int32_t id, uint32_t code) override {
    streams[id].closed = code;
    ++streams[id].closes;
  }
  void onGoaway(int32_t last_stream_id, uint32_t code) override { goaways.emplace_back(last_stream_id, code); }
  void onRemoteSettings(uint32_t max_concurrent_streams) override { settings.push_back(max_concurrent_streams); }
  void onPingAck() override { ++ping_acks; }
  void onResetSent(int32_t id, uint32_t code) override { resets_sent.emplace_back(id, code); }
  size_t readRequestBody(int32_t id, uint8_t* buf, size_t len, bool* end, bool* trailers) override {
    BodySource& source = streams[id].request;
    const size_t n = source.read(buf, len, end, trailers);
    if (*trailers) {
      auto& fields = codec.fieldScratch();
      fields.clear();
      for (const auto& [name, value] : source.trailers) fields.emplace_back(name, value);
      EXPECT_TRUE(codec.submitTrailers(id, fields));
    }
    return n;
  }

  int32_t request(const char* method, const char* path, bool with_body) {
    auto& fields = codec.fieldScratch();
    fields.clear();
    fields.emplace_back(":method", method);
    fields.emplace_back(":scheme", "http");
    fields.emplace_back(":authority", "upstream.test");
    fields.emplace_back(":path", path);
    fields.emplace_back("user-agent", "tether-test");
    return codec.submitRequest(fields, with_body);
  }
  int32_t get(const char* path) { return request("GET", path, false); }

  ClientCodec codec;
  bool auto_consume = true;
  std::map<int32_t, Stream> streams;
  std::vector<std::pair<int32_t, uint32_t>> goaways;
  std::vector<uint32_t> settings;
  int ping_acks = 0;
  std::vector<std::pair<int32_t, uint32_t>> resets_sent;  // onResetSent: RST_STREAM frames that went out
};

// One HTTP/2 frame as parsed from the wire (the client preface stripped).
struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream = 0;
  std::string payload;
};

uint32_t u32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}

std::vector<Frame> frames(std::string bytes) {
  if (bytes.starts_with(kClientPreface)) bytes.erase(0, kClientPreface.size());
  std::vector<Frame> out;
  for (size_t at = 0; bytes.size() - at >= 9;) {
    const size_t length = (static_cast<size_t>(static_cast<uint8_t>(bytes[at])) << 16) |
                          (static_cast<size_t>(static_cast<uint8_t>(bytes[at + 1])) << 8) |
                          static_cast<uint8_t>(bytes[at + 2]);
    out.push_back({static_cast<uint8_t>(bytes[at + 3]), static_cast<uint8_t>(bytes[at + 4]),
                   static_cast<int32_t>(u32(bytes, at + 5) & 0x7fffffffu), bytes.substr(at + 9, length)});
    at += 9 + length;
  }
  return out;
}

std::string takeAll(evbuffer* buf) {
  std::string bytes(evbuffer_get_length(buf), '\0');
  evbuffer_remove(buf, bytes.data(), bytes.size());
  return bytes;
}

// Moves frames both ways until neither side sends anything. `client_wire` collects what the client sent.
void pump(ClientPeer& client, ServerPeer& server, std::string* client_wire = nullptr) {
  util::EvBufferPtr buf(evbuffer_new());
  for (int round = 0; round < 1000; ++round) {
    ASSERT_TRUE(client.codec.send(buf.get(), SIZE_MAX));
    const std::string up = takeAll(buf.get());
    if (client_wire != nullptr) client_wire->append(up);
    ASSERT_TRUE(server.codec.receive(reinterpret_cast<const uint8_t*>(up.data()), up.size()));
    ASSERT_TRUE(server.codec.send(buf.get(), SIZE_MAX));
    const std::string down = takeAll(buf.get());
    ASSERT_TRUE(client.codec.receive(reinterpret_cast<const uint8_t*>(down.data()), down.size()));
    if (up.empty() && down.empty()) return;
  }
  FAIL() << "the codecs never went quiet";
}

struct Connection {
  explicit Connection(const ClientSettings& client_settings = {}, const ServerSettings& server_settings = {})
      : client(client_settings), server(server_settings) {
    EXPECT_TRUE(client.codec.start());
    EXPECT_TRUE(server.codec.start());
  }
  void pump(std::string* client_wire = nullptr) { http2::pump(client, server, client_wire); }
  ClientPeer client;
  ServerPeer server;
};

TEST(ClientCodec, GetThenResponseWithBodyAndTrailers) {
  Connection c;
  const int32_t id = c.client.get("/x");
  ASSERT_EQ(id, 1);
  EXPECT_EQ(c.client.codec.openStreams(), 1u);
  c.pump();
  ASSERT_EQ(c.server.begun, std::vector<int32_t>{id});
  const auto& request = c.server.streams[id];
  EXPECT_EQ(request.head.at(":method"), "GET");
  EXPECT_EQ(request.head.at(":path"), "/x");
  EXPECT_EQ(request.head.at(":authority"), "upstream.test");
  EXPECT_EQ(request.head.at("user-agent"), "tether-test");
  EXPECT_TRUE(request.head_end_stream) << "a GET without body ends the stream with its HEADERS";

  c.server.streams[id].response = {"hello world", true, {{"grpc-status", "0"}}};
  c.server.respond(id, 200, {{"content-type", "text/plain"}}, true);
  c.pump();
  const auto& response = c.client.streams[id];
  ASSERT_EQ(response.heads.size(), 2u);
  EXPECT_FALSE(response.heads[0].interim);
  EXPECT_FALSE(response.heads[0].trailers);
  EXPECT_FALSE(response.heads[0].end_stream);
  EXPECT_EQ(response.heads[0].fields, (Fields{{":status", "200"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(response.body, "hello world");
  EXPECT_FALSE(response.heads[1].interim);
  EXPECT_TRUE(response.heads[1].trailers);
  EXPECT_TRUE(response.heads[1].end_stream);
  EXPECT_EQ(response.heads[1].fields, (Fields{{"grpc-status", "0"}}));
  EXPECT_FALSE(response.response_end) << "END_STREAM came on the trailers, not on DATA";
  EXPECT_EQ(response.closed, NGHTTP2_NO_ERROR);
  EXPECT_EQ(response.closes, 1);
  EXPECT_FALSE(response.reset);
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

TEST(ClientCodec, ResponseBodyWithoutTrailersEndsOnData) {
  Connection c;
  const int32_t id = c.client.get("/");
  c.pump();
  c.server.streams[id].response = {"body", true, {}};
  c.server.respond(id, 404, {}, true);
  c.pump();
  const auto& response = c.client.streams[id];
  ASSERT_EQ(response.heads.size(), 1u);
  EXPECT_EQ(response.heads[0].fields.at(":status"), "404");
  EXPECT_EQ(response.body, "body");
  EXPECT_TRUE(response.response_end);
  EXPECT_EQ(response.closed, NGHTTP2_NO_ERROR);
}

TEST(ClientCodec, PostBodyDeferredThenResumedWithTrailers) {
  Connection c;
  const int32_t id = c.client.request("POST", "/upload", true);
  ASSERT_GT(id, 0);
  c.pump();
  const auto& request = c.server.streams[id];
  EXPECT_EQ(request.head.at(":method"), "POST");
  EXPECT_FALSE(request.head_end_stream);
  EXPECT_EQ(request.body, "");
  EXPECT_GE(c.client.streams[id].request.reads, 1) << "asked for the body, which deferred";

  c.client.streams[id].request.pending = "first,";
  c.client.codec.resumeData(id);
  c.pump();
  EXPECT_EQ(request.body, "first,");
  EXPECT_FALSE(request.request_end);
  EXPECT_TRUE(request.trailers.empty());

  auto& body = c.client.streams[id].request;
  body.pending = "second";
  body.end = true;
  body.trailers = {{"x-checksum", "42"}};
  c.client.codec.resumeData(id);
  c.pump();
  EXPECT_EQ(request.body, "first,second");
  EXPECT_EQ(request.trailers, (Fields{{"x-checksum", "42"}}));
  EXPECT_TRUE(request.trailers_end_stream);
  EXPECT_FALSE(request.request_end) << "END_STREAM came on the trailers, not on DATA";

  c.server.respond(id, 201, {}, false);
  c.pump();
  const auto& response = c.client.streams[id];
  ASSERT_EQ(response.heads.size(), 1u);
  EXPECT_EQ(response.heads[0].fields.at(":status"), "201");
  EXPECT_TRUE(response.heads[0].end_stream);
  EXPECT_EQ(response.closed, NGHTTP2_NO_ERROR);
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

TEST(ClientCodec, InterimHeadsBeforeTheFinalOne) {
  Connection c;
  const int32_t id = c.client.get("/early-hints");
  c.pump();
  ASSERT_TRUE(c.server.codec.submitInterim(id, 103, c.server.fieldsOf({{"link", "</a.css>; rel=preload"}})));
  c.pump();
  // The second 1xx arrives as nghttp2's HCAT_HEADERS, the first as HCAT_RESPONSE: both are interim.
  ASSERT_TRUE(c.server.codec.submitInterim(id, 103, c.server.fieldsOf({{"link", "</b.js>; rel=preload"}})));
  c.server.respond(id, 200, {{"content-length", "0"}}, false);
  c.pump();
  const auto& heads = c.client.streams[id].heads;
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_TRUE(heads[0].interim);
  EXPECT_FALSE(heads[0].trailers);
  EXPECT_FALSE(heads[0].end_stream);
  EXPECT_EQ(heads[0].fields, (Fields{{":status", "103"}, {"link", "</a.css>; rel=preload"}}));
  EXPECT_TRUE(heads[1].interim);
  EXPECT_FALSE(heads[1].trailers);
  EXPECT_EQ(heads[1].fields.at("link"), "</b.js>; rel=preload");
  EXPECT_FALSE(heads[2].interim);
  EXPECT_FALSE(heads[2].trailers);
  EXPECT_TRUE(heads[2].end_stream);
  EXPECT_EQ(heads[2].fields.at(":status"), "200");
  EXPECT_EQ(c.client.streams[id].closed, NGHTTP2_NO_ERROR);
}

TEST(ClientCodec, CancelOneOfSeveralStreamsKeepsTheConnection) {
  Connection c;
  const int32_t a = c.client.get("/a");
  const int32_t b = c.client.get("/b");
  const int32_t d = c.client.get("/d");
  c.pump();
  ASSERT_EQ(c.server.begun, (std::vector<int32_t>{a, b, d}));
  for (int32_t id : {a, b, d}) c.server.respond(id, 200, {}, true);  // bodies deferred: nothing to send yet
  c.pump();
  for (int32_t id : {a, b, d}) ASSERT_EQ(c.client.streams[id].heads.size(), 1u);

  c.client.codec.resetStream(b, NGHTTP2_CANCEL);
  std::string wire;
  c.pump(&wire);
  std::vector<Frame> resets;
  for (Frame& f : frames(wire)) {
    if (f.type == NGHTTP2_RST_STREAM) resets.push_back(f);
  }
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].stream, b);
  EXPECT_EQ(u32(resets[0].payload, 0), static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(c.server.streams[b].reset, NGHTTP2_CANCEL);
  EXPECT_FALSE(c.server.streams[a].reset);
  EXPECT_FALSE(c.server.streams[d].reset);
  EXPECT_EQ(c.client.streams[b].closed, NGHTTP2_CANCEL);
  EXPECT_FALSE(c.client.streams[b].reset) << "onStreamReset is for the server's RST_STREAM";
  const std::vector<std::pair<int32_t, uint32_t>> sent{{b, NGHTTP2_CANCEL}};
  EXPECT_EQ(c.client.resets_sent, sent) << "onResetSent: the frame that went out";
  EXPECT_EQ(c.client.codec.openStreams(), 2u);

  for (int32_t id : {a, d}) {
    c.server.streams[id].response = {"body of " + std::to_string(id), true, {}};
    c.server.codec.resumeData(id);
  }
  c.pump();
  for (int32_t id : {a, d}) {
    EXPECT_EQ(c.client.streams[id].body, "body of " + std::to_string(id));
    EXPECT_TRUE(c.client.streams[id].response_end);
    EXPECT_EQ(c.client.streams[id].closed, NGHTTP2_NO_ERROR);
  }
  EXPECT_EQ(c.client.streams[b].body, "");
  EXPECT_EQ(c.client.streams[b].closes, 1);
  EXPECT_EQ(c.client.codec.openStreams(), 0u);

  const int32_t next = c.client.get("/next");  // the connection is still good
  c.pump();
  c.server.respond(next, 204, {}, false);
  c.pump();
  EXPECT_EQ(c.client.streams[next].closed, NGHTTP2_NO_ERROR);
  ASSERT_EQ(c.client.streams[next].heads.size(), 1u);
  EXPECT_EQ(c.client.streams[next].heads[0].fields.at(":status"), "204");
}

// DATA the server sent before it saw the RST_STREAM reaches a closed stream: nghttp2 drops it and credits the
// connection window itself, else each cancel would shrink the window the other streams share.
TEST(ClientCodec, DataCrossingTheResetKeepsTheConnectionWindow) {
  ClientSettings window;
  window.initial_window_size = 1 << 20;
  window.connection_window_size = 65535;
  Connection c(window);
  const int32_t a = c.client.get("/a");
  const int32_t b = c.client.get("/b");
  c.pump();
  c.server.respond(a, 200, {}, true);
  c.server.streams[b].response = {std::string(60000, 'b'), true, {}};
  c.server.respond(b, 200, {}, true);
  util::EvBufferPtr in_flight(evbuffer_new());
  ASSERT_TRUE(c.server.codec.send(in_flight.get(), SIZE_MAX));  // b's body, not yet read by the client
  c.client.codec.resetStream(b, NGHTTP2_CANCEL);
  c.pump();  // the RST_STREAM reaches the server
  EXPECT_EQ(c.server.streams[b].reset, NGHTTP2_CANCEL);
  const std::string late = takeAll(in_flight.get());
  ASSERT_GT(late.size(), 60000u);
  ASSERT_TRUE(c.client.codec.receive(reinterpret_cast<const uint8_t*>(late.data()), late.size()));
  EXPECT_EQ(c.client.streams[b].body, "") << "nothing for a closed stream";

  c.server.streams[a].response = {std::string(60000, 'a'), true, {}};
  c.server.codec.resumeData(a);
  c.pump();
  EXPECT_EQ(c.client.streams[a].body.size(), 60000u);
  EXPECT_TRUE(c.client.streams[a].response_end);
}

TEST(ClientCodec, CancelOfAQueuedRequestSendsNothingForIt) {
  ServerSettings one_stream;
  one_stream.max_concurrent_streams = 1;
  Connection c({}, one_stream);
  c.pump();  // SETTINGS both ways
  const int32_t a = c.client.get("/a");
  const int32_t b = c.client.get("/b");
  c.pump();
  ASSERT_EQ(c.server.begun, std::vector<int32_t>{a}) << "b waits for a's slot";
  EXPECT_EQ(c.client.codec.openStreams(), 2u);

  c.client.codec.resetStream(b, NGHTTP2_CANCEL);
  EXPECT_TRUE(c.client.codec.wantsWrite()) << "the close is reported from send()";
  EXPECT_FALSE(c.client.streams[b].closed);
  std::string wire;
  c.pump(&wire);
  EXPECT_EQ(c.client.streams[b].closed, NGHTTP2_CANCEL);
  EXPECT_EQ(c.client.streams[b].closes, 1);
  for (const Frame& f : frames(wire)) EXPECT_NE(f.stream, b) << "frame type " << int{f.type};
  EXPECT_TRUE(c.client.resets_sent.empty()) << "no RST_STREAM left, none reported";
  EXPECT_EQ(c.client.codec.openStreams(), 1u);

  c.server.respond(a, 200, {}, false);
  c.pump(&wire);  // a's slot frees: nghttp2 drops b's HEADERS now, silently
  EXPECT_EQ(c.client.streams[a].closed, NGHTTP2_NO_ERROR);
  EXPECT_EQ(c.client.streams[b].closes, 1);
  for (const Frame& f : frames(wire)) EXPECT_NE(f.stream, b) << "frame type " << int{f.type};
  EXPECT_EQ(c.server.begun, std::vector<int32_t>{a});
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

// FieldLifetime::Kept: nghttp2 reads the caller's strings when it serializes the HEADERS, not at submit. A queued
// request reset before that is dropped without its fields being read, so the caller may reuse (here: free) them
// as soon as the close is reported, as Http2UpstreamStream does. Under ASan a read of the freed buffer fails.
TEST(ClientCodec, KeptFieldsAreReadWhenSentAndNeverAfterAQueuedResetCloses) {
  ServerSettings one_stream;
  one_stream.max_concurrent_streams = 1;
  Connection c({}, one_stream);
  c.pump();  // SETTINGS both ways
  const auto submitKept = [&c](const std::string& path) {
    auto& fields = c.client.codec.fieldScratch();
    fields.clear();
    fields.emplace_back(":method", "GET");
    fields.emplace_back(":scheme", "http");
    fields.emplace_back(":authority", "upstream.test");
    fields.emplace_back(":path", path);
    return c.client.codec.submitRequest(fields, false, ClientCodec::FieldLifetime::Kept);
  };
  std::string a_path = "/a-before";
  const int32_t a = submitKept(a_path);
  a_path.replace(0, a_path.size(), "/a-after!");  // same size class: the buffer the codec points at changes
  auto b_path = std::make_unique<std::string>("/b-queued-path-long-enough-for-the-heap");
  const int32_t b = submitKept(*b_path);
  c.pump();
  ASSERT_EQ(c.server.begun, std::vector<int32_t>{a}) << "b waits for a's slot";
  EXPECT_EQ(c.server.streams[a].head[":path"], "/a-after!") << "read when sent";

  c.client.codec.resetStream(b, NGHTTP2_CANCEL);
  c.pump();
  ASSERT_EQ(c.client.streams[b].closed, NGHTTP2_CANCEL);
  b_path.reset();  // reported closed: the caller reuses its buffer

  c.server.respond(a, 200, {}, false);
  c.pump();  // a's slot frees: nghttp2 drops b's HEADERS without reading the freed fields
  EXPECT_EQ(c.client.streams[a].closed, NGHTTP2_NO_ERROR);
  EXPECT_EQ(c.server.begun, std::vector<int32_t>{a});
  const std::string c_path = "/c";
  const int32_t next = submitKept(c_path);  // the connection (and its HPACK state) still serves requests
  c.pump();
  EXPECT_EQ(c.server.streams[next].head[":path"], "/c");
}

// The reset-storm guard's GOAWAY: graceful, from the client side. The open stream finishes; then the codec wants
// neither to read nor to write, which is when the connection closes.
TEST(ClientCodec, GracefulGoawayLetsTheOpenStreamFinish) {
  Connection c;
  const int32_t a = c.client.get("/a");
  c.pump();
  c.server.respond(a, 200, {}, true);  // body deferred
  c.pump();
  ASSERT_TRUE(c.client.codec.submitGoaway());
  std::string wire;
  c.pump(&wire);
  std::vector<Frame> goaways;
  for (Frame& f : frames(wire)) {
    if (f.type == NGHTTP2_GOAWAY) goaways.push_back(f);
  }
  ASSERT_EQ(goaways.size(), 1u);
  EXPECT_EQ(u32(goaways[0].payload, 0), 0u) << "last stream id: the server opens none to us";
  EXPECT_EQ(u32(goaways[0].payload, 4), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(c.client.codec.wantsRead()) << "a stream is still open";

  c.server.streams[a].response = {"rest of a", true, {}};
  c.server.codec.resumeData(a);
  c.pump();
  EXPECT_EQ(c.client.streams[a].body, "rest of a");
  EXPECT_EQ(c.client.streams[a].closed, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(c.client.codec.wantsRead());
  EXPECT_FALSE(c.client.codec.wantsWrite());
}

TEST(ClientCodec, ServerSettingsReachOnRemoteSettings) {
  ServerSettings seven;
  seven.max_concurrent_streams = 7;
  Connection c({}, seven);
  EXPECT_EQ(c.client.codec.maxConcurrentStreams(), 100u) << "until the server's SETTINGS arrive";
  c.pump();
  EXPECT_EQ(c.client.settings, std::vector<uint32_t>{7});
  EXPECT_EQ(c.client.codec.maxConcurrentStreams(), 7u);

  std::vector<int32_t> ids;
  ids.reserve(10);
  for (int i = 0; i < 10; ++i) ids.push_back(c.client.get("/"));
  c.pump();
  EXPECT_EQ(c.server.begun.size(), 7u) << "nghttp2 holds the rest back";
  EXPECT_EQ(c.client.codec.openStreams(), 10u);
  for (int32_t id : ids) {
    if (c.server.streams.count(id) != 0) c.server.respond(id, 200, {}, false);
  }
  c.pump();
  for (int32_t id : ids) {
    if (c.server.streams[id].closed) continue;
    c.server.respond(id, 200, {}, false);  // the three held back have arrived by now
  }
  c.pump();
  EXPECT_EQ(c.server.begun.size(), 10u);
  for (int32_t id : ids) EXPECT_EQ(c.client.streams[id].closed, NGHTTP2_NO_ERROR) << id;
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

TEST(ClientCodec, GoawayReportsTheLastStreamIdAndRefusesTheRest) {
  Connection c;
  const int32_t a = c.client.get("/a");
  c.pump();
  ASSERT_TRUE(c.server.codec.submitFinalGoaway());  // last stream id: a
  const int32_t b = c.client.get("/b");             // crosses the GOAWAY on the wire
  c.pump();
  ASSERT_EQ(c.client.goaways.size(), 1u);
  EXPECT_EQ(c.client.goaways[0], (std::pair<int32_t, uint32_t>{a, NGHTTP2_NO_ERROR}));
  EXPECT_EQ(c.client.streams[b].closed, NGHTTP2_REFUSED_STREAM) << "never processed: safe to retry elsewhere";
  EXPECT_FALSE(c.client.streams[a].closed);

  const int32_t late = c.client.get("/late");  // submitted after the GOAWAY: never sent
  ASSERT_GT(late, 0) << "nghttp2 takes it, and refuses it when it would go out";
  std::string wire;
  c.pump(&wire);
  EXPECT_EQ(c.client.streams[late].closed, NGHTTP2_REFUSED_STREAM);
  EXPECT_EQ(c.client.streams[late].closes, 1);
  for (const Frame& f : frames(wire)) EXPECT_NE(f.stream, late) << "frame type " << int{f.type};
  EXPECT_EQ(c.server.begun, (std::vector<int32_t>{a, b})) << "b arrived before the server sent its GOAWAY";

  c.server.respond(a, 200, {}, false);
  c.pump();
  EXPECT_EQ(c.client.streams[a].closed, NGHTTP2_NO_ERROR) << "streams up to the last id finish";
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

TEST(ClientCodec, StreamWindowHoldsTheServerUntilConsumed) {
  ClientSettings small;
  small.initial_window_size = 1000;
  Connection c(small);
  c.client.auto_consume = false;
  const int32_t id = c.client.get("/big");
  c.pump();
  c.server.streams[id].response = {std::string(5000, 'x'), true, {}};
  c.server.respond(id, 200, {}, true);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 1000u);

  c.client.codec.consumeConnection(1000);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 1000u) << "connection credit alone does not open the stream";

  c.client.codec.consumeStream(id, 1000);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 2000u);

  c.client.auto_consume = true;
  c.client.codec.consumeStream(id, 1000);
  c.client.codec.consumeConnection(1000);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body, std::string(5000, 'x'));
  EXPECT_TRUE(c.client.streams[id].response_end);
}

TEST(ClientCodec, ConnectionWindowHoldsTheServerUntilConsumed) {
  ClientSettings wide_streams;
  wide_streams.initial_window_size = 1 << 20;
  wide_streams.connection_window_size = 65535;  // RFC 9113's initial value: no WINDOW_UPDATE
  Connection c(wide_streams);
  c.client.auto_consume = false;
  const int32_t id = c.client.get("/big");
  c.pump();
  c.server.streams[id].response = {std::string(200000, 'y'), true, {}};
  c.server.respond(id, 200, {}, true);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 65535u);

  c.client.codec.consumeStream(id, 65535);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 65535u) << "stream credit alone does not open the connection";

  c.client.codec.consumeConnection(65535);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 2u * 65535u);
}

TEST(ClientCodec, ConnectionWindowSettingWidensTheWindow) {
  ClientSettings wide;
  wide.initial_window_size = 1 << 20;
  wide.connection_window_size = 1 << 20;
  Connection c(wide);
  c.client.auto_consume = false;
  const int32_t id = c.client.get("/big");
  c.pump();
  c.server.streams[id].response = {std::string(300000, 'z'), true, {}};
  c.server.respond(id, 200, {}, true);
  c.pump();
  EXPECT_EQ(c.client.streams[id].body.size(), 300000u) << "nothing consumed, all within the windows";
  EXPECT_TRUE(c.client.streams[id].response_end);
}

TEST(ClientCodec, OversizedResponseHeadResetsTheStream) {
  ClientSettings tight;
  tight.max_header_list_size = 200;
  Connection c(tight);
  const int32_t id = c.client.get("/");
  c.pump();
  c.server.respond(id, 200, {{"x-big", std::string(300, 'h')}}, false);
  c.pump();
  EXPECT_TRUE(c.client.streams[id].heads.empty());
  EXPECT_EQ(c.client.streams[id].closed, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(c.server.streams[id].reset, NGHTTP2_INTERNAL_ERROR) << "the server was told";
  EXPECT_EQ(c.client.codec.openStreams(), 0u);
}

TEST(ClientCodec, PingAck) {
  Connection c;
  c.pump();
  EXPECT_EQ(c.client.ping_acks, 0);
  ASSERT_TRUE(c.client.codec.submitPing());
  c.pump();
  EXPECT_EQ(c.client.ping_acks, 1);
}

}  // namespace
}  // namespace tether::http2
