// The HTTP/2 server codec's GOAWAYs at the frame level: a bad client preface (after ALPN h2) and HEADERS on a
// stream id lower than one already opened get GOAWAY(PROTOCOL_ERROR), and the graceful shutdown is a notice (2^31-1)
// plus a PING, then, once the PING is acknowledged, a final GOAWAY with the last stream id processed.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http2/server_codec.h"
#include "util/libevent.h"

namespace tether::http2 {
namespace {

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
};

uint32_t u32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}

std::vector<Frame> frames(const std::string& bytes) {
  std::vector<Frame> out;
  for (size_t at = 0; bytes.size() - at >= 9;) {
    const size_t length = (static_cast<uint8_t>(bytes[at]) << 16) | (static_cast<uint8_t>(bytes[at + 1]) << 8) |
                          static_cast<uint8_t>(bytes[at + 2]);
    out.push_back({static_cast<uint8_t>(bytes[at + 3]), static_cast<uint8_t>(bytes[at + 4]),
                   u32(bytes, at + 5) & 0x7fffffffu, bytes.substr(at + 9, length)});
    at += 9 + length;
  }
  return out;
}

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f{static_cast<char>(payload.size() >> 16),
                static_cast<char>(payload.size() >> 8),
                static_cast<char>(payload.size()),
                static_cast<char>(type),
                static_cast<char>(flags),
                static_cast<char>(stream >> 24),
                static_cast<char>(stream >> 16),
                static_cast<char>(stream >> 8),
                static_cast<char>(stream)};
  return f + payload;
}

class Callbacks : public ServerCodecCallbacks {
 public:
  void onStreamBegin(int32_t) override {}
  bool onHeader(int32_t, std::string_view, std::string_view) override { return true; }
  void onHeadersComplete(int32_t, bool, bool) override {}
  void onData(int32_t, const uint8_t*, size_t) override {}
  void onRequestEnd(int32_t) override {}
  void onStreamReset(int32_t, uint32_t) override {}
  void onStreamClose(int32_t, uint32_t) override {}
  void onGoaway(uint32_t) override {}
  void onPingAck() override { ++ping_acks; }
  size_t readResponseBody(int32_t, uint8_t*, size_t, bool* end, bool*) override {
    *end = true;
    return 0;
  }
  int ping_acks = 0;
};

std::string sendAll(ServerCodec& codec) {
  util::EvBufferPtr out(evbuffer_new());
  EXPECT_TRUE(codec.send(out.get(), SIZE_MAX));
  std::string bytes(evbuffer_get_length(out.get()), '\0');
  evbuffer_remove(out.get(), bytes.data(), bytes.size());
  return bytes;
}

bool receive(ServerCodec& codec, const std::string& bytes) {
  return codec.receive(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(ServerCodecGoaway, InvalidPrefaceGetsGoawayProtocolError) {
  Callbacks callbacks;
  ServerCodec codec(callbacks, ServerSettings{});
  ASSERT_TRUE(codec.start());
  EXPECT_FALSE(receive(codec, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  const auto sent = frames(sendAll(codec));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().type, NGHTTP2_GOAWAY);
  EXPECT_EQ(u32(sent.back().payload, 4), static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

// HEADERS (END_STREAM | END_HEADERS) with ":method GET", ":scheme http", ":path /", ":authority a" from HPACK's
// static table (indexed 2, 6, 4; literal authority without indexing).
std::string getHeaders(uint32_t stream) {
  const std::string block = std::string("\x82\x86\x84\x01\x01", 5) + "a";
  return frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, stream, block);
}

TEST(ServerCodecGoaway, HeadersOnALowerStreamIdIsConnectionErrorProtocolError) {
  Callbacks callbacks;
  ServerCodec codec(callbacks, ServerSettings{});
  ASSERT_TRUE(codec.start());
  ASSERT_TRUE(receive(codec, std::string(kClientPreface) + frame(NGHTTP2_SETTINGS, 0, 0, "") + getHeaders(5)));
  EXPECT_FALSE(receive(codec, getHeaders(3)));
  const auto sent = frames(sendAll(codec));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().type, NGHTTP2_GOAWAY);
  EXPECT_EQ(u32(sent.back().payload, 4), static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

TEST(ServerCodecGoaway, ShutdownNoticeThenFinalGoawayAfterThePingAck) {
  Callbacks callbacks;
  ServerCodec codec(callbacks, ServerSettings{});
  ASSERT_TRUE(codec.start());
  ASSERT_TRUE(receive(codec, std::string(kClientPreface) + frame(NGHTTP2_SETTINGS, 0, 0, "")));
  sendAll(codec);  // SETTINGS, SETTINGS ACK

  ASSERT_TRUE(codec.submitShutdownNotice());
  const auto notice = frames(sendAll(codec));
  ASSERT_EQ(notice.size(), 2u);  // nghttp2 sends the PING first
  const Frame& goaway = notice[0].type == NGHTTP2_GOAWAY ? notice[0] : notice[1];
  const Frame& ping = notice[0].type == NGHTTP2_PING ? notice[0] : notice[1];
  ASSERT_EQ(goaway.type, NGHTTP2_GOAWAY);
  EXPECT_EQ(u32(goaway.payload, 0), 0x7fffffffu);
  EXPECT_EQ(u32(goaway.payload, 4), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  ASSERT_EQ(ping.type, NGHTTP2_PING);
  EXPECT_TRUE(codec.wantsRead());  // streams may still come: the client has not seen the notice yet

  ASSERT_TRUE(receive(codec, frame(NGHTTP2_PING, NGHTTP2_FLAG_ACK, 0, ping.payload)));
  EXPECT_EQ(callbacks.ping_acks, 1);
  ASSERT_TRUE(codec.submitFinalGoaway());
  const auto final_goaway = frames(sendAll(codec));
  ASSERT_EQ(final_goaway.size(), 1u);
  EXPECT_EQ(final_goaway[0].type, NGHTTP2_GOAWAY);
  EXPECT_EQ(u32(final_goaway[0].payload, 0), 0u);  // no stream was opened
  EXPECT_FALSE(codec.wantsRead());
  EXPECT_FALSE(codec.wantsWrite());
}

}  // namespace
}  // namespace tether::http2
