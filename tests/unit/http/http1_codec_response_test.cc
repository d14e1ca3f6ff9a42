#include <gtest/gtest.h>

#include <string>

#include "codec_recorder.h"

namespace tether::http::testing {
namespace {

using Status = Http1Codec::Status;
using Action = Http1CodecCallbacks::HeadAction;

class ResponseCodecTest : public ::testing::Test {
 protected:
  size_t feed(std::string_view data) { return feedAll(codec_, data); }

  CodecRecorder recorder_;
  Http1Codec codec_{Http1Codec::Kind::Response, recorder_, Http1Codec::Limits{}};
};

TEST_F(ResponseCodecTest, ParsesResponseWithContentLength) {
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  const RecordedMessage& m = recorder_.messages[0];
  EXPECT_EQ(m.head.status, 200);
  EXPECT_EQ(m.head.reason, "OK");
  EXPECT_TRUE(m.head.method.empty());
  EXPECT_EQ(m.head.content_length, 5u);
  EXPECT_TRUE(m.head.keep_alive);
  EXPECT_EQ(m.body, "hello");
  EXPECT_TRUE(m.complete);
}

TEST_F(ResponseCodecTest, InterimResponsesThenFinal) {
  const std::string input =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 3u);
  EXPECT_EQ(recorder_.messages[0].head.status, 100);
  EXPECT_TRUE(recorder_.messages[0].complete);
  EXPECT_EQ(recorder_.messages[1].head.status, 103);
  EXPECT_EQ(*recorder_.messages[1].head.find("link"), "</style.css>; rel=preload");
  EXPECT_TRUE(recorder_.messages[1].body.empty());
  EXPECT_EQ(recorder_.messages[2].head.status, 200);
  EXPECT_EQ(recorder_.messages[2].body, "ok");
}

TEST_F(ResponseCodecTest, InterimResponseWithLengthHasNoBody) {
  feed("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(recorder_.messages[1].head.status, 204);
}

TEST_F(ResponseCodecTest, NoContentAndNotModifiedHaveNoBody) {
  const std::string input =
      "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 3u);
  EXPECT_TRUE(recorder_.messages[0].body.empty());
  EXPECT_TRUE(recorder_.messages[0].complete);
  EXPECT_TRUE(recorder_.messages[0].head.keep_alive);
  EXPECT_TRUE(recorder_.messages[1].body.empty());
  EXPECT_EQ(recorder_.messages[2].body, "x");
}

TEST_F(ResponseCodecTest, ResponseToHeadHasNoBody) {
  codec_.expectResponseTo("HEAD");
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_EQ(recorder_.messages[0].head.content_length, 5u);  // kept: the client's HEAD answer carries it
  EXPECT_TRUE(recorder_.messages[0].body.empty());
  EXPECT_TRUE(recorder_.messages[0].complete);
  EXPECT_EQ(recorder_.messages[1].body, "x");  // the expectation lasts for one final response
}

TEST_F(ResponseCodecTest, ResponseToHeadWithoutLengthIsKeepAlive) {
  codec_.expectResponseTo("HEAD");
  feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 2u);
  EXPECT_TRUE(recorder_.messages[1].head.keep_alive);
  EXPECT_TRUE(recorder_.messages[1].complete);
  EXPECT_FALSE(codec_.inMessage());
}

TEST_F(ResponseCodecTest, CallbackNoBodySkipsTheBody) {
  recorder_.head_action = Action::NoBody;
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].complete);
}

TEST_F(ResponseCodecTest, ReadUntilEof) {
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body";
  EXPECT_EQ(feed(input), input.size());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_FALSE(recorder_.messages[0].head.keep_alive);
  EXPECT_FALSE(recorder_.messages[0].complete);
  EXPECT_TRUE(codec_.inMessage());
  feed(" and more");
  EXPECT_TRUE(codec_.finishOnEof());
  EXPECT_TRUE(recorder_.messages[0].complete);
  EXPECT_EQ(recorder_.messages[0].body, "some body and more");
  EXPECT_FALSE(codec_.inMessage());
}

TEST_F(ResponseCodecTest, ReadUntilEofWithEmptyBody) {
  feed("HTTP/1.0 200 OK\r\n\r\n");
  EXPECT_TRUE(codec_.finishOnEof());
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].complete);
}

TEST_F(ResponseCodecTest, TruncatedContentLengthBody) {
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  EXPECT_FALSE(codec_.finishOnEof());
  EXPECT_EQ(codec_.status(), Status::Error);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_FALSE(recorder_.messages[0].complete);
}

TEST_F(ResponseCodecTest, TruncatedChunkedBody) {
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  EXPECT_FALSE(codec_.finishOnEof());
}

TEST_F(ResponseCodecTest, TruncatedHead) {
  feed("HTTP/1.1 200 OK\r\nContent-Le");
  EXPECT_FALSE(codec_.finishOnEof());
}

TEST_F(ResponseCodecTest, EofBetweenMessagesIsClean) {
  EXPECT_TRUE(codec_.finishOnEof());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(codec_.finishOnEof());
  EXPECT_EQ(codec_.status(), Status::Ok);
}

TEST_F(ResponseCodecTest, ChunkedResponseWithTrailers) {
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n");
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].head.chunked);
  EXPECT_EQ(recorder_.messages[0].body, "abc");
  ASSERT_EQ(recorder_.messages[0].trailers.size(), 1u);
  EXPECT_EQ(recorder_.messages[0].trailers[0].value, "42");
}

TEST_F(ResponseCodecTest, SwitchingProtocolsUpgrades) {
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string input = head + "frames";
  EXPECT_EQ(codec_.feed(input.data(), input.size()), head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_TRUE(recorder_.messages[0].head.upgrade);
  EXPECT_FALSE(recorder_.messages[0].complete);
}

TEST_F(ResponseCodecTest, SwitchingProtocolsWithoutUpgradeHeadersStillUpgrades) {
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
  const std::string input = head + "frames";
  EXPECT_EQ(codec_.feed(input.data(), input.size()), head.size());
  EXPECT_EQ(codec_.status(), Status::Upgraded);
}

TEST_F(ResponseCodecTest, UpgradeHeadersOnA200AreInformational) {
  feed("HTTP/1.1 200 OK\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(codec_.status(), Status::Ok);
  ASSERT_EQ(recorder_.messages.size(), 1u);
  EXPECT_FALSE(recorder_.messages[0].head.upgrade);
}

TEST_F(ResponseCodecTest, StatusLineVariants) {
  feed(
      "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.0 599 Custom  Reason\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(codec_.status(), Status::Ok) << codec_.error().message;
  ASSERT_EQ(recorder_.messages.size(), 3u);
  EXPECT_EQ(recorder_.messages[0].head.reason, "");
  EXPECT_EQ(recorder_.messages[1].head.status, 404);
  EXPECT_EQ(recorder_.messages[2].head.reason, "Custom  Reason");
  EXPECT_FALSE(recorder_.messages[2].head.keep_alive);
}

TEST_F(ResponseCodecTest, PausesAfterFinalResponseOnly) {
  struct InterimAware : CodecRecorder {
    bool onMessageComplete() override {
      CodecRecorder::onMessageComplete();
      return messages.back().head.status >= 200;
    }
  } recorder;
  Http1Codec codec(Http1Codec::Kind::Response, recorder, Http1Codec::Limits{});
  const std::string first = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
  const std::string input = first + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
  EXPECT_EQ(codec.feed(input.data(), input.size()), first.size());
  EXPECT_EQ(codec.status(), Status::Paused);
  codec.expectResponseTo("GET");  // resumes
  EXPECT_EQ(codec.status(), Status::Ok);
  EXPECT_EQ(codec.feed(input.data() + first.size(), input.size() - first.size()), input.size() - first.size());
  EXPECT_EQ(recorder.messages.size(), 3u);
}

// The upstream pool may hand the connection to the next request from inside onMessageComplete.
TEST_F(ResponseCodecTest, ReboundInsideMessageCompleteIsNotPaused) {
  struct Rebinder : CodecRecorder {
    bool onMessageComplete() override {
      CodecRecorder::onMessageComplete();
      if (!codec->inMessage()) codec->expectResponseTo("HEAD");
      return true;
    }
    Http1Codec* codec = nullptr;
  } rebinder;
  Http1Codec codec(Http1Codec::Kind::Response, rebinder, Http1Codec::Limits{});
  rebinder.codec = &codec;
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
  EXPECT_EQ(codec.feed(input.data(), input.size()), input.size());
  ASSERT_EQ(rebinder.messages.size(), 2u);
  EXPECT_TRUE(rebinder.messages[1].complete);  // answered HEAD: no body
}

struct ResponseRejectCase {
  const char* name;
  std::string input;
  ParseErrorKind kind;
};

const ResponseRejectCase kResponseRejects[] = {
    {"TransferEncodingGzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", ParseErrorKind::Smuggling},
    {"TransferEncodingGzipChunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     ParseErrorKind::Malformed},
    {"TransferEncodingHttp10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     ParseErrorKind::Smuggling},
    {"LengthAndChunked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     ParseErrorKind::Smuggling},
    {"RepeatedLength", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
     ParseErrorKind::Smuggling},
    {"BadLength", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok", ParseErrorKind::Smuggling},
    {"ObsFold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", ParseErrorKind::Malformed},
    {"LfOnly", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", ParseErrorKind::Malformed},
    {"LfOnlyStatusLine", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"BareCrInReason", "HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"ControlInReason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"TwoDigitStatus", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"FourDigitStatus", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"StatusBelow100", "HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"StatusAbove599", "HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"TwoSpacesBeforeStatus", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"Version20", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"RtspProtocol", "RTSP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"BadFieldName", "HTTP/1.1 200 OK\r\nX(A): b\r\nContent-Length: 0\r\n\r\n", ParseErrorKind::Malformed},
    {"NulInValue", std::string("HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n", 26), ParseErrorKind::Malformed},
};

class ResponseRejectTest : public ::testing::TestWithParam<ResponseRejectCase> {};

TEST_P(ResponseRejectTest, RejectedWithKind) {
  EXPECT_EQ(responseErrorKind(GetParam().input), GetParam().kind);
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Response, recorder, Http1Codec::Limits{});
  feedInPieces(codec, GetParam().input, 1);
  EXPECT_EQ(codec.error().kind, GetParam().kind);
}

INSTANTIATE_TEST_SUITE_P(Responses, ResponseRejectTest, ::testing::ValuesIn(kResponseRejects),
                         [](const ::testing::TestParamInfo<ResponseRejectCase>& param) { return param.param.name; });

}  // namespace
}  // namespace tether::http::testing
