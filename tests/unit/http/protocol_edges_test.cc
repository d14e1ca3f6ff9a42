// Protocol edges of issue 11, item 7, at the codec and forwarding-rule level: HTTP/1.2 read as 1.1, Host and
// absolute-form authority syntax, refused upgrades, which authority is forwarded, and trailers that are dropped.
// The rejections themselves (400/501/505 kinds) are cases in http1_codec_reject_test.cc.

#include <gtest/gtest.h>

#include <strings.h>

#include <optional>
#include <string>
#include <string_view>

#include "codec_recorder.h"
#include "http/authority.h"
#include "http/header_rules.h"

namespace tether::http::testing {
namespace {

using Status = Http1Codec::Status;

std::optional<std::string> findHeader(const HeaderList& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) return h.value;
  }
  return std::nullopt;
}

TEST(HigherMinorVersion, Http12IsParsedAsHttp11) {
  for (size_t piece : {size_t{0}, size_t{1}, size_t{3}}) {
    SCOPED_TRACE(piece);
    CodecRecorder recorder;
    Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
    const std::string input =
        "GET /a?b HTTP/1.2\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /next HTTP/1.9\r\nHost: a\r\n\r\n";
    if (piece == 0) {
      feedAll(codec, input);
    } else {
      feedInPieces(codec, input, piece);
    }
    ASSERT_EQ(codec.status(), Status::Ok) << codec.error().message;
    ASSERT_EQ(recorder.messages.size(), 2u);
    const MessageHead& first = recorder.messages[0].head;
    EXPECT_EQ(first.method, "GET");
    EXPECT_EQ(first.target, "/a?b");
    EXPECT_EQ(first.version_minor, 1);
    EXPECT_TRUE(first.keep_alive);
    EXPECT_EQ(recorder.messages[0].body, "hi");
    EXPECT_EQ(recorder.messages[1].head.target, "/next");
    EXPECT_EQ(recorder.messages[1].head.version_minor, 1);
  }
}

TEST(HigherMinorVersion, ResponsesAreNotRewritten) {
  EXPECT_NE(responseErrorKind("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"), ParseErrorKind::None);
}

TEST(HostSyntax, ValidHosts) {
  for (const char* host : {"", "a", "a:80", "a:", "example.com:65535", "127.0.0.1:8080", "[::1]", "[::1]:8080",
                           "[v1.fe]", "xn--bcher-kva.example", "a%20b", "a_b~c!$&'()*+,;="}) {
    EXPECT_TRUE(isValidHost(host)) << host;
  }
}

TEST(HostSyntax, InvalidHosts) {
  for (const char* host : {"a b", "a/b", "u@a", "a:8o", "a:65536", "a:123456", "a:1:2", ":80", "[::1", "[::1]x",
                           "[::g]", "[]", "a%2", "a\"b", "a\\b", "a?b", "a#b"}) {
    EXPECT_FALSE(isValidHost(host)) << host;
  }
}

TEST(HostSyntax, TargetAuthority) {
  EXPECT_EQ(targetAuthority("http://a.example:8080/x?q"), "a.example:8080");
  EXPECT_EQ(targetAuthority("http://a.example?q"), "a.example");
  EXPECT_EQ(targetAuthority("https://a"), "a");
  EXPECT_EQ(targetAuthority("/x"), "");
  EXPECT_EQ(targetAuthority("*"), "");
}

TEST(RefusedUpgrade, BodyAndNextRequestAreParsedAsHttp11) {
  CodecRecorder recorder;
  recorder.refuse_upgrade = true;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  feedAll(codec,
          "POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
          "HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(codec.status(), Status::Ok) << codec.error().message;
  ASSERT_EQ(recorder.messages.size(), 2u);
  EXPECT_EQ(recorder.messages[0].body, "abc");
  EXPECT_TRUE(recorder.messages[0].complete);
  EXPECT_EQ(recorder.messages[1].head.target, "/2");
}

TEST(ForwardingRules, AbsoluteFormAuthorityReplacesHost) {
  MessageHead head;
  head.target = "http://real.example:81/p";
  head.appendHeader("Host", "other.example");
  head.appendHeader("X-A", "1");
  useTargetAuthority(head);
  ASSERT_NE(head.find("host"), nullptr);
  EXPECT_EQ(*head.find("host"), "real.example:81");
  EXPECT_EQ(head.headers.size(), 2u);

  MessageHead origin;
  origin.target = "/p";
  origin.appendHeader("Host", "h");
  useTargetAuthority(origin);
  EXPECT_EQ(*origin.find("host"), "h");
}

TEST(ForwardingRules, H2cIsRemovedFromUpgrade) {
  HeaderList only{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMA"}};
  EXPECT_FALSE(removeUpgradeProtocol(only, "h2c"));
  EXPECT_FALSE(findHeader(only, "upgrade"));
  EXPECT_FALSE(findHeader(only, "http2-settings"));

  HeaderList mixed{{"Connection", "Upgrade"}, {"Upgrade", "H2C, websocket"}};
  EXPECT_TRUE(removeUpgradeProtocol(mixed, "h2c"));
  EXPECT_EQ(findHeader(mixed, "upgrade"), "websocket");
}

TEST(ForwardingRules, A101MustNameARequestedProtocol) {
  const std::string websocket = "websocket";
  const std::string h2c = "h2c";
  const std::string both = "websocket, h2c";
  EXPECT_TRUE(upgradeWasRequested("websocket", &websocket));
  EXPECT_TRUE(upgradeWasRequested("foo, WebSocket", &websocket));
  EXPECT_FALSE(upgradeWasRequested("websocket", &h2c));
  EXPECT_FALSE(upgradeWasRequested("websocket", &both));
  EXPECT_FALSE(upgradeWasRequested("websocket", nullptr));
}

TEST(ForwardingRules, ForbiddenTrailersAreDropped) {
  const HeaderList trailers{{"Host", "evil"},       {"X-Checksum", "abc"},          {"Content-Length", "5"},
                            {"Authorization", "x"}, {"X-Forwarded-For", "1.2.3.4"}, {"Transfer-Encoding", "chunked"}};
  HeaderList scratch;
  const HeaderList* kept = forwardableTrailers(&trailers, scratch);
  ASSERT_NE(kept, nullptr);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].name, "X-Checksum");

  const HeaderList fine{{"X-Checksum", "abc"}};
  EXPECT_EQ(forwardableTrailers(&fine, scratch), &fine);  // nothing to drop: no copy
  const HeaderList only_host{{"host", "evil"}};
  EXPECT_EQ(forwardableTrailers(&only_host, scratch), nullptr);
  EXPECT_EQ(forwardableTrailers(nullptr, scratch), nullptr);
}

}  // namespace
}  // namespace tether::http::testing
