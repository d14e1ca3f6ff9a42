#include "http/error_response.h"

#include <gtest/gtest.h>

#include <string>

#include "codec_recorder.h"
#include "util/libevent.h"

namespace tether::http {
namespace {

using testing::CodecRecorder;
using testing::feedAll;

struct Parsed {
  std::string wire;
  testing::RecordedMessage message;
};

Parsed writeAndParse(int status, std::string_view id, std::string_view message, bool close) {
  util::EvBufferPtr buf(evbuffer_new());
  writeErrorResponse(buf.get(), status, id, message, close);
  Parsed out;
  out.wire.resize(evbuffer_get_length(buf.get()));
  evbuffer_remove(buf.get(), out.wire.data(), out.wire.size());
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Response, recorder, Http1Codec::Limits{});
  EXPECT_EQ(feedAll(codec, out.wire), out.wire.size()) << codec.error().message;
  EXPECT_EQ(recorder.messages.size(), 1u);
  if (!recorder.messages.empty()) out.message = recorder.messages[0];
  return out;
}

TEST(ErrorResponseTest, BadGateway) {
  const Parsed p = writeAndParse(502, "0123456789abcdef0123456789abcdef", "upstream unavailable", true);
  EXPECT_EQ(p.wire,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: 117\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\nConnection: close\r\n\r\n"
            "{\"error\":\"bad_gateway\",\"status\":502,\"message\":\"upstream unavailable\","
            "\"request_id\":\"0123456789abcdef0123456789abcdef\"}");
  EXPECT_EQ(p.message.head.content_length, p.message.body.size());
  EXPECT_FALSE(p.message.head.keep_alive);
}

TEST(ErrorResponseTest, KeepAliveWithoutConnectionClose) {
  const Parsed p = writeAndParse(404, "id", "no route", false);
  EXPECT_EQ(p.message.head.status, 404);
  EXPECT_EQ(p.message.head.find("connection"), nullptr);
  EXPECT_TRUE(p.message.head.keep_alive);
  EXPECT_EQ(p.message.body, R"({"error":"not_found","status":404,"message":"no route","request_id":"id"})");
}

TEST(ErrorResponseTest, StandardStatuses) {
  const struct {
    int status;
    const char* reason;
    const char* code;
  } cases[] = {{400, "Bad Request", "bad_request"},
               {404, "Not Found", "not_found"},
               {408, "Request Timeout", "request_timeout"},
               {413, "Content Too Large", "content_too_large"},
               {421, "Misdirected Request", "misdirected_request"},
               {431, "Request Header Fields Too Large", "request_header_fields_too_large"},
               {500, "Internal Server Error", "internal_server_error"},
               {502, "Bad Gateway", "bad_gateway"},
               {503, "Service Unavailable", "service_unavailable"},
               {504, "Gateway Timeout", "gateway_timeout"}};
  for (const auto& c : cases) {
    EXPECT_EQ(reasonPhrase(c.status), c.reason);
    const Parsed p = writeAndParse(c.status, "r", "m", true);
    EXPECT_EQ(p.message.head.status, c.status);
    EXPECT_EQ(p.message.head.reason, c.reason);
    EXPECT_EQ(*p.message.head.find("content-type"), "application/json");
    EXPECT_EQ(p.message.body, std::string("{\"error\":\"") + c.code + "\",\"status\":" + std::to_string(c.status) +
                                  ",\"message\":\"m\",\"request_id\":\"r\"}");
  }
}

TEST(ErrorResponseTest, EscapesJson) {
  const Parsed p = writeAndParse(400, "a\"b", "quote\" backslash\\ nl\n cr\r tab\t ctl\x01 del\x7f utf8\xc3\xa9", true);
  EXPECT_EQ(p.message.body,
            "{\"error\":\"bad_request\",\"status\":400,"
            "\"message\":\"quote\\\" backslash\\\\ nl\\n cr\\r tab\\t ctl\\u0001 del\\u007f utf8\\ufffd\\ufffd\","
            "\"request_id\":\"a\\\"b\"}");
  EXPECT_EQ(p.message.head.content_length, p.message.body.size());
}

TEST(ErrorResponseTest, UnsafeRequestIdIsNotEchoedInAHeader) {
  const Parsed p = writeAndParse(400, "x\r\nSet-Cookie: a=b", "m", true);
  EXPECT_EQ(p.message.head.find("x-request-id"), nullptr);
  EXPECT_EQ(p.message.head.find("set-cookie"), nullptr);
  EXPECT_NE(p.message.body.find(R"("request_id":"x\r\nSet-Cookie: a=b")"), std::string::npos);
}

TEST(ErrorResponseTest, EmptyRequestIdAndUnknownStatus) {
  const Parsed p = writeAndParse(599, "", "", false);
  EXPECT_EQ(p.message.head.status, 599);
  EXPECT_EQ(p.message.head.reason, "Error");
  EXPECT_EQ(p.message.head.find("x-request-id"), nullptr);
  EXPECT_EQ(p.message.body, R"({"error":"error","status":599,"message":"","request_id":""})");
}

}  // namespace
}  // namespace tether::http
