#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "codec_recorder.h"

namespace tether::http::testing {
namespace {

using Status = Http1Codec::Status;
using Action = Http1CodecCallbacks::HeadAction;

class RequestCodecTest : public ::testing::Test {
 protected:
  size_t feed(std::string_view data) { return feedAll(codec_, data); }

  CodecRecorder recorder_;
  Http1Codec codec_{Http1Codec::Kind::Request, recorder_, Http1Codec::Limits{}};
};

TEST_F(RequestCodecTest, ParsesGet) {
  const std::string input = "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Tab: a\tb \t\r\n\r\n";
  EXPECT_EQ(feed(input), input.size());
  EXPECT_EQ(codec_.status(), Status::Ok);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  const RecordedMessage& m = recorder_.messages[0];
  EXPECT_EQ(m.head.method, "GET");
  EXPECT_EQ(m.head.target, "/a/b?x=1");
  EXPECT_EQ(m.head.path(), "/a/b");
  EXPECT_EQ(m.head.version_major, 1);
  EXPECT_EQ(m.head.version_minor, 1);
  EXPECT_TRUE(m.head.keep_alive);
  EXPECT_FALSE(m.head.chunked);
  EXPECT_FALSE(m.head.content_length);
  EXPECT_FALSE(m.head.upgrade);
  ASSERT_EQ(m.head.headers.size(), 3u);
  EXPECT_EQ(m.head.headers[2].value, "a\tb");  // trailing OWS trimmed, inner HT kept
  ASSERT_NE(m.head.find("HOST"), nullptr);
  EXPECT_EQ(*m.head.find("host"), "example.com");
  EXPECT_TRUE(m.complete);
  EXPECT_FALSE(codec_.inMessage());
  EXPECT_EQ(recorder_.begins, 1);
}

TEST_F(RequestCodecTest, ParsesPostWithContentLengthIntoTheFedBuffer) {
  const std::string input = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  recorder_.buffer_begin = input.data();
  recorder_.buffer_end = input.data() + input.size();
  EXPECT_EQ(codec_.feed(input.data(), input.size()), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_EQ(recorder_.messages[0].head.content_length, 11u);
  EXPECT_EQ(recorder_.messages[0].body, "hello world");
  EXPECT_TRUE(recorder_.messages[0].complete);
  EXPECT_FALSE(recorder_.body_outside_buffer);
}

TEST_F(RequestCodecTest, ParsesChunkedBodyWithTrailers) {
  const std::string input =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc \r\nX-Other: d\r\n\r\n";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  const RecordedMessage& m = recorder_.messages[0];
  EXPECT_TRUE(m.head.chunked);
  EXPECT_EQ(m.body, "hello world");
  ASSERT_EQ(m.trailers.size(), 2u);
  EXPECT_EQ(m.trailers[0].name, "X-Checksum");
  EXPECT_EQ(m.trailers[0].value, "abc");
  EXPECT_EQ(m.trailers[1].name, "X-Other");
  EXPECT_TRUE(m.complete);
}

TEST_F(RequestCodecTest, ChunkedWithoutTrailersGetsNoTrailerCallback) {
  feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].trailers.empty());
  EXPECT_TRUE(recorder_.messages[0].complete);
}

TEST_F(RequestCodecTest, Http10KeepAliveRules) {
  feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(codec_.status(), Status::Ok);
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(recorder_.messages[0].head.version_minor, 0);
  EXPECT_TRUE(recorder_.messages[0].head.keep_alive);
  EXPECT_FALSE(recorder_.messages[1].head.keep_alive);
}

TEST_F(RequestCodecTest, ConnectionCloseIsNotKeepAlive) {
  feed("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_FALSE(recorder_.messages[0].head.keep_alive);
}

TEST_F(RequestCodecTest, NothingButEmptyLinesAfterTheLastMessage) {
  const std::string last = "POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(feed(last + "\r\n"), last.size() + 2);  // stray CRLF after a body: tolerated
  EXPECT_EQ(codec_.status(), Status::Ok);
  feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(codec_.status(), Status::Error);
  EXPECT_EQ(codec_.error().kind, ParseErrorKind::Malformed);
  EXPECT_EQ(recorder_.messages.size(), 1u);
}

TEST_F(RequestCodecTest, ExpectContinue) {
  feed("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz");
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].head.expect_continue);
  EXPECT_EQ(recorder_.messages[0].body, "z");
}

TEST_F(RequestCodecTest, AcceptsLeadingEmptyLinesAsteriskAndAbsoluteForm) {
  feed("\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGET http://b.example/p/q?r HTTP/1.1\r\nHost: b.example\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(recorder_.messages[0].head.target, "*");
  EXPECT_EQ(recorder_.messages[1].head.path(), "/p/q");
}

TEST_F(RequestCodecTest, AcceptsObsTextInValuesAndEmptyValues) {
  EXPECT_EQ(codec_.status(), Status::Ok);
  feed("GET / HTTP/1.1\r\nHost: a\r\nX-Name: J\xc3\xbcrgen\r\nX-Empty:\r\nX-Blank:   \r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 1u);
  const HeaderList& fields = recorder_.messages[0].head.headers;
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[1].value, "J\xc3\xbcrgen");
  EXPECT_EQ(fields[2].value, "");
  EXPECT_EQ(fields[3].value, "");
}

TEST_F(RequestCodecTest, NoBodyIsIgnoredForRequests) {
  // Skipping a request body would parse it as the next request.
  recorder_.head_action = Action::NoBody;
  const std::string input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 14\r\n\r\nGET / HTTP/1.1";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_EQ(recorder_.messages[0].body, "GET / HTTP/1.1");
}

// A mix of requests fed whole, then byte by byte, then split in two at every position: same result every time.
const std::string kPipeline =
    "GET /first?q=1 HTTP/1.1\r\nHost: a\r\nX-Long-Header-Name: some value here\r\n\r\n"
    "POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
    "POST /third HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4;name=value\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t1\r\nX-Second: t2\r\n\r\n"
    "GET /fourth HTTP/1.0\r\n\r\n";

std::string parseWith(size_t (*feeder)(Http1Codec&, std::string_view, size_t), size_t arg, size_t* used) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  *used = feeder(codec, kPipeline, arg);
  EXPECT_EQ(codec.status(), Status::Ok) << codec.error().message;
  return describe(recorder.messages);
}

TEST(RequestCodecSplitTest, ByteByByteMatchesWhole) {
  size_t used = 0;
  const std::string whole = parseWith(&feedInPieces, kPipeline.size(), &used);
  EXPECT_EQ(used, kPipeline.size());
  EXPECT_EQ(std::count(whole.begin(), whole.end(), '\n'), 4);
  EXPECT_NE(whole.find("body=abcd0123456789abcdef trailers: [X-Trailer=t1] [X-Second=t2] complete"), std::string::npos)
      << whole;
  EXPECT_EQ(parseWith(&feedInPieces, 1, &used), whole);
  EXPECT_EQ(used, kPipeline.size());
  EXPECT_EQ(parseWith(&feedInPieces, 7, &used), whole);
}

TEST(RequestCodecSplitTest, EverySplitPointMatchesWhole) {
  size_t used = 0;
  const std::string whole = parseWith(&feedInPieces, kPipeline.size(), &used);
  for (size_t split = 1; split < kPipeline.size(); ++split) {
    ASSERT_EQ(parseWith(&feedSplit, split, &used), whole) << "split at " << split;
    ASSERT_EQ(used, kPipeline.size());
  }
}

TEST_F(RequestCodecTest, PipeliningPausesAfterEachMessage) {
  recorder_.pause_after_message = true;
  const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi";
  const std::string input = first + second;
  const size_t used = codec_.feed(input.data(), input.size());
  EXPECT_EQ(used, first.size());
  EXPECT_EQ(codec_.status(), Status::Paused);
  EXPECT_FALSE(codec_.inMessage());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_EQ(codec_.feed(input.data() + used, input.size() - used), 0u);  // paused: consumes nothing

  codec_.resume();
  EXPECT_EQ(codec_.status(), Status::Ok);
  EXPECT_EQ(codec_.feed(input.data() + used, input.size() - used), second.size());
  EXPECT_EQ(codec_.status(), Status::Paused);
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(recorder_.messages[1].head.target, "/2");
  EXPECT_EQ(recorder_.messages[1].body, "hi");
}

TEST_F(RequestCodecTest, ResumeInsideMessageCompleteCancelsThePause) {
  struct Resumer : CodecRecorder {
    bool onMessageComplete() override {
      CodecRecorder::onMessageComplete();
      codec->resume();
      return true;
    }
    Http1Codec* codec = nullptr;
  } resumer;
  Http1Codec codec(Http1Codec::Kind::Request, resumer, Http1Codec::Limits{});
  resumer.codec = &codec;
  const std::string input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(codec.feed(input.data(), input.size()), input.size());
  EXPECT_EQ(codec.status(), Status::Ok);
  EXPECT_EQ(resumer.messages.size(), 2u);
}

TEST_F(RequestCodecTest, InMessageWhileHeadIsIncomplete) {
  EXPECT_FALSE(codec_.inMessage());
  feed("GET / HTTP/1.1\r\nHo");
  EXPECT_TRUE(codec_.inMessage());
  feed("st: a\r\n\r\n");
  EXPECT_FALSE(codec_.inMessage());
}

TEST_F(RequestCodecTest, UpgradeStopsAfterTheHead) {
  const std::string head = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string input = head + "\x81\x05hello";
  EXPECT_EQ(codec_.feed(input.data(), input.size()), head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].head.upgrade);
  EXPECT_FALSE(recorder_.messages[0].complete);  // an upgraded message ends with its head
  EXPECT_FALSE(codec_.inMessage());
  EXPECT_EQ(codec_.feed(input.data() + head.size(), input.size() - head.size()), 0u);
}

TEST_F(RequestCodecTest, UpgradeWithBodyLeavesTheBodyToTheTunnel) {
  const std::string head =
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n";
  const std::string input = head + "abc";
  EXPECT_EQ(codec_.feed(input.data(), input.size()), head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].body.empty());
}

TEST_F(RequestCodecTest, UpgradeHeaderWithoutConnectionUpgradeIsNotAnUpgrade) {
  feed("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(codec_.status(), Status::Ok);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_FALSE(recorder_.messages[0].head.upgrade);
  EXPECT_TRUE(recorder_.messages[0].complete);
}

TEST_F(RequestCodecTest, CallbackCanUpgradeAnyRequest) {
  recorder_.head_action = Action::Upgrade;
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string input = head + "raw";
  EXPECT_EQ(codec_.feed(input.data(), input.size()), head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
}

TEST_F(RequestCodecTest, UpgradeSplitByteByByte) {
  const std::string head = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string input = head + "tunnel";
  size_t used = 0;
  for (size_t i = 0; i < input.size() && codec_.status() == Status::Ok; ++i) used += codec_.feed(&input[i], 1);
  EXPECT_EQ(used, head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
}

TEST_F(RequestCodecTest, HeadReuseKeepsOnlyTheCurrentMessage) {
  feed("GET /1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(codec_.head().target, "/2");
  ASSERT_EQ(codec_.head().headers.size(), 1u);
  EXPECT_EQ(codec_.head().headers[0].value, "b");
}

// Head size: counted across feed() calls, inclusive of the final CRLF; nothing beyond the limit is consumed.
TEST(RequestCodecLimitTest, HeadAtTheLimitIsAccepted) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(requestErrorKind(head, head.size()), ParseErrorKind::None);
  EXPECT_EQ(requestErrorKind(head, head.size() - 1), ParseErrorKind::HeaderTooLarge);
}

TEST(RequestCodecLimitTest, LargeHeadIsRejectedEarlyAcrossFeeds) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{1024});
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\n";
  const std::string field = "X-Filler: " + std::string(50, 'x') + "\r\n";
  size_t fed = codec.feed(start.data(), start.size());
  while (codec.status() == Http1Codec::Status::Ok && fed < 100000) fed += codec.feed(field.data(), field.size());
  EXPECT_EQ(codec.status(), Http1Codec::Status::Error);
  EXPECT_EQ(codec.error().kind, ParseErrorKind::HeaderTooLarge);
  EXPECT_LE(fed, 1024u);
  EXPECT_GT(fed, 1024u - field.size());
  EXPECT_TRUE(recorder.messages.empty());
}

TEST(RequestCodecLimitTest, EndlessEmptyLinesHitTheLimit) {
  std::string crlfs;
  for (int i = 0; i < 100; ++i) crlfs += "\r\n";
  EXPECT_EQ(requestErrorKind(crlfs, 100), ParseErrorKind::HeaderTooLarge);
}

TEST(RequestCodecLimitTest, TrailersAreLimitedToo) {
  const std::string input =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + std::string(200, 'v') + "\r\n\r\n";
  EXPECT_EQ(requestErrorKind(input, 128), ParseErrorKind::HeaderTooLarge);
  EXPECT_EQ(requestErrorKind(input, 256), ParseErrorKind::None);
}

}  // namespace
}  // namespace tether::http::testing
