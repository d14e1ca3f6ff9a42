#include "http/message_writer.h"

#include <gtest/gtest.h>

#include <string>

#include "codec_recorder.h"
#include "util/libevent.h"

namespace tether::http {
namespace {

using testing::CodecRecorder;
using testing::feedAll;
using testing::RecordedMessage;

class MessageWriterTest : public ::testing::Test {
 protected:
  std::string drain() {
    std::string out(evbuffer_get_length(buf_.get()), '\0');
    evbuffer_remove(buf_.get(), out.data(), out.size());
    return out;
  }

  util::EvBufferPtr buf_{evbuffer_new()};
};

MessageHead requestHead() {
  MessageHead h;
  h.method = "POST";
  h.target = "/items?id=7";
  h.version_minor = 0;  // always written as HTTP/1.1
  h.headers = {{"Host", "example.com"}, {"Content-Length", "99"}, {"X-A", "1"}, {"transfer-encoding", "gzip"}};
  h.content_length = 5;
  return h;
}

TEST_F(MessageWriterTest, RequestHeadFramings) {
  const MessageHead h = requestHead();
  writeRequestHead(buf_.get(), h, BodyFraming::ContentLength);
  EXPECT_EQ(drain(), "POST /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n");
  writeRequestHead(buf_.get(), h, BodyFraming::Chunked);
  EXPECT_EQ(drain(), "POST /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  writeRequestHead(buf_.get(), h, BodyFraming::None);
  EXPECT_EQ(drain(), "POST /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n\r\n");
}

TEST_F(MessageWriterTest, ResponseHead) {
  MessageHead h;
  h.status = 404;
  h.reason = "Nope";
  h.headers = {{"Server", "x"}};
  writeResponseHead(buf_.get(), h, BodyFraming::UntilClose);
  EXPECT_EQ(drain(), "HTTP/1.1 404 Nope\r\nServer: x\r\n\r\n");
  h.reason.clear();
  writeResponseHead(buf_.get(), h, BodyFraming::ContentLength);  // no content_length: 0
  EXPECT_EQ(drain(), "HTTP/1.1 404 Not Found\r\nServer: x\r\nContent-Length: 0\r\n\r\n");
  h.status = 100;
  h.headers.clear();
  writeResponseHead(buf_.get(), h, BodyFraming::None);
  EXPECT_EQ(drain(), "HTTP/1.1 100 Continue\r\n\r\n");
}

// Found by fuzz_http1_response: a status without a known reason phrase and none sent passed a null pointer to
// memcpy (UBSan aborts in the asan preset).
TEST_F(MessageWriterTest, UnknownStatusWithoutReasonPhrase) {
  MessageHead h;
  h.status = 211;
  writeResponseHead(buf_.get(), h, BodyFraming::None);
  EXPECT_EQ(drain(), "HTTP/1.1 211 \r\n\r\n");
}

TEST_F(MessageWriterTest, Chunks) {
  writeChunk(buf_.get(), "", 0);
  EXPECT_EQ(drain(), "");
  const std::string big(300, 'z');
  writeChunk(buf_.get(), "hello", 5);
  writeChunk(buf_.get(), big.data(), big.size());
  EXPECT_EQ(drain(), "5\r\nhello\r\n12c\r\n" + big + "\r\n");
  writeLastChunk(buf_.get(), nullptr);
  EXPECT_EQ(drain(), "0\r\n\r\n");
  const HeaderList trailers = {{"X-Sum", "1"}, {"X-Other", "two"}};
  writeLastChunk(buf_.get(), &trailers);
  EXPECT_EQ(drain(), "0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n");
}

TEST_F(MessageWriterTest, ManyLargeFieldsFitTheReservation) {
  MessageHead h = requestHead();
  std::string expected = "POST /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n";
  for (int i = 0; i < 200; ++i) {
    h.headers.push_back({"X-Field-" + std::to_string(i), std::string(100, 'v')});
    expected += h.headers.back().name + ": " + h.headers.back().value + "\r\n";
  }
  writeRequestHead(buf_.get(), h, BodyFraming::ContentLength);
  EXPECT_EQ(drain(), expected + "Content-Length: 5\r\n\r\n");
}

// Write a request with a chunked body and trailers, parse it back: same head, body and trailers.
TEST_F(MessageWriterTest, ChunkedRequestRoundTrip) {
  MessageHead h = requestHead();
  writeRequestHead(buf_.get(), h, BodyFraming::Chunked);
  writeChunk(buf_.get(), "hello ", 6);
  writeChunk(buf_.get(), "world", 5);
  const HeaderList trailers = {{"X-Sum", "abc"}};
  writeLastChunk(buf_.get(), &trailers);
  const std::string wire = drain();

  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  EXPECT_EQ(feedAll(codec, wire), wire.size());
  ASSERT_EQ(recorder.messages.size(), 1u);
  const RecordedMessage& m = recorder.messages[0];
  EXPECT_EQ(m.head.method, "POST");
  EXPECT_EQ(m.head.target, "/items?id=7");
  EXPECT_EQ(m.head.version_minor, 1);
  EXPECT_TRUE(m.head.chunked);
  ASSERT_EQ(m.head.headers.size(), 3u);
  EXPECT_EQ(m.head.headers[1].name, "X-A");
  EXPECT_EQ(m.body, "hello world");
  ASSERT_EQ(m.trailers.size(), 1u);
  EXPECT_EQ(m.trailers[0].value, "abc");
}

TEST_F(MessageWriterTest, ResponseRoundTrip) {
  CodecRecorder recorder;
  Http1Codec parser(Http1Codec::Kind::Response, recorder, Http1Codec::Limits{});
  MessageHead h;
  h.status = 201;
  h.headers = {{"Location", "/items/7"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
  h.content_length = 4;
  writeResponseHead(buf_.get(), h, BodyFraming::ContentLength);
  evbuffer_add(buf_.get(), "done", 4);
  const std::string wire = drain();
  EXPECT_EQ(feedAll(parser, wire), wire.size());
  ASSERT_EQ(recorder.messages.size(), 1u);
  const RecordedMessage& m = recorder.messages[0];
  EXPECT_EQ(m.head.status, 201);
  EXPECT_EQ(m.head.reason, "Created");
  EXPECT_EQ(m.head.headers.size(), 4u);
  EXPECT_EQ(m.head.headers[2].value, "b=2");
  EXPECT_EQ(m.body, "done");
}

}  // namespace
}  // namespace tether::http
