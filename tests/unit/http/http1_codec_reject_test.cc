// Every request the codec must refuse, with the kind the session maps to a status (400, 431, 501 or 505).

#include <gtest/gtest.h>

#include <string>

#include "codec_recorder.h"

namespace tether::http::testing {
namespace {

struct RejectCase {
  const char* name;
  std::string input;
  ParseErrorKind kind;
};

std::string get(std::string_view fields) { return "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n"; }
std::string post(std::string_view fields, std::string_view body) {
  return "POST / HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n" + std::string(body);
}
std::string chunked(std::string_view body) { return post("Transfer-Encoding: chunked\r\n", body); }

constexpr auto kSmuggling = ParseErrorKind::Smuggling;
constexpr auto kMalformed = ParseErrorKind::Malformed;
constexpr auto kNotImplemented = ParseErrorKind::NotImplemented;
constexpr auto kUnsupportedVersion = ParseErrorKind::UnsupportedVersion;

const RejectCase kCases[] = {
    // Body framing.
    {"ContentLengthAndTransferEncoding", post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
     kSmuggling},
    {"TransferEncodingAndContentLength", post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "0\r\n\r\n"),
     kSmuggling},
    {"RepeatedIdenticalContentLength", post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"), kSmuggling},
    {"ConflictingContentLength", post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"), kSmuggling},
    {"ContentLengthList", post("Content-Length: 3, 3\r\n", "abc"), kSmuggling},
    {"ContentLengthPlus", post("Content-Length: +3\r\n", "abc"), kSmuggling},
    {"ContentLengthNegative", post("Content-Length: -1\r\n", ""), kSmuggling},
    {"ContentLengthHex", post("Content-Length: 0x3\r\n", "abc"), kSmuggling},
    {"ContentLengthInnerSpace", post("Content-Length: 1 2\r\n", "abc"), kSmuggling},
    {"ContentLengthEmpty", post("Content-Length: \r\n", ""), kSmuggling},
    {"ContentLengthOverflow", post("Content-Length: 99999999999999999999999\r\n", ""), kSmuggling},
    {"TransferEncodingGzip", post("Transfer-Encoding: gzip\r\n", "abc"), kSmuggling},
    {"TransferEncodingChunkedThenGzip", post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), kSmuggling},
    {"TransferEncodingChunkedTwice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
     kSmuggling},
    {"TransferEncodingXchunked", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), kSmuggling},
    {"TransferEncodingEmpty", post("Transfer-Encoding: \r\n", "0\r\n\r\n"), kSmuggling},
    {"TransferEncodingHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", kSmuggling},
    {"TransferEncodingGzipChunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), kNotImplemented},
    {"TeListsChunked", get("TE: gzip, chunked\r\n"), kMalformed},
    // Field syntax.
    {"ObsFoldSpace", get("X-A: b\r\n c\r\n"), kMalformed},
    {"ObsFoldTab", get("X-A: b\r\n\tc\r\n"), kMalformed},
    {"ObsFoldSmuggledTransferEncoding", post("X-A: b\r\n Transfer-Encoding: chunked\r\n", "0\r\n\r\n"), kMalformed},
    {"FirstFieldIndented", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", kMalformed},
    {"SpaceInName", get("X A: b\r\n"), kMalformed},
    {"AtInName", get("X@A: b\r\n"), kMalformed},
    {"ControlInName",
     get("X\x01"
         "A: b\r\n"),
     kMalformed},
    {"NonAsciiInName", get("X\xc3\xa4: b\r\n"), kMalformed},
    {"EmptyName", get(": b\r\n"), kMalformed},
    {"NoColon", get("XA\r\n"), kMalformed},
    {"SpaceBeforeColon", get("X-A : b\r\n"), kMalformed},
    {"TabBeforeColon", get("X-A\t: b\r\n"), kMalformed},
    {"SpaceBeforeColonTransferEncoding", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"), kMalformed},
    {"ControlInValue", get("X-A: b\x01z\r\n"), kMalformed},
    {"DelInValue", get("X-A: b\x7fz\r\n"), kMalformed},
    {"NulInValue", get(std::string("X-A: b\0z\r\n", 10)), kMalformed},
    {"BareCrInValue", get("X-A: b\rz\r\n"), kMalformed},
    {"BareCrBeforeCrlf", get("X-A: b\r\r\n"), kMalformed},
    {"BareLfInValue", get("X-A: b\nX-B: c\r\n"), kMalformed},
    // Line endings.
    {"LfOnlyEverywhere", "GET / HTTP/1.1\nHost: a\n\n", kMalformed},
    {"LfOnlyRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", kMalformed},
    {"LfOnlyFieldLine", "GET / HTTP/1.1\r\nHost: a\n\r\n", kMalformed},
    {"LfOnlyFinalLine", "GET / HTTP/1.1\r\nHost: a\r\n\n", kMalformed},
    {"CrOnlyRequestLine", "GET / HTTP/1.1\rHost: a\r\n\r\n", kMalformed},
    {"LeadingBareLf", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    // Request line.
    {"MethodWithAt", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"MethodLowercase", "get / HTTP/1.1\r\nHost: a\r\n\r\n", kNotImplemented},
    {"MethodUnknown", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", kNotImplemented},
    {"MethodUnknownLongerThanAKnownOne", "GETX / HTTP/1.1\r\nHost: a\r\n\r\n", kNotImplemented},
    {"UnknownTokenWithoutRequestLine", "HELLO\r\n\r\n", kMalformed},
    {"MethodNotAToken", "\x16\x03\x01 / HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"Connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", kMalformed},
    {"Http2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kMalformed},
    {"TargetWithSpace", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"TwoSpacesAfterMethod", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"TwoSpacesBeforeVersion", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"SpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", kMalformed},
    {"TabInTarget", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"ControlInTarget", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"DelInTarget", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"BareCrInTarget", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"RelativeTarget", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"AsteriskForGet", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"Version20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", kUnsupportedVersion},
    {"Version30", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", kUnsupportedVersion},
    {"Version1Dot10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", kMalformed},
    {"Version11Dot1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", kMalformed},
    {"Version09", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", kUnsupportedVersion},
    {"Version99", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", kUnsupportedVersion},
    {"NoVersion", "GET /\r\n\r\n", kMalformed},
    {"RtspProtocol", "GET / RTSP/1.0\r\nHost: a\r\n\r\n", kMalformed},
    {"LowercaseProtocol", "GET / http/1.1\r\nHost: a\r\n\r\n", kMalformed},
    // Host.
    {"MissingHost", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", kMalformed},
    {"TwoHosts", get("Host: b\r\n"), kMalformed},
    {"TwoHostsHttp10", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", kMalformed},
    {"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", kMalformed},
    {"HostWithSlash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", kMalformed},
    {"HostWithUserinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", kMalformed},
    {"HostWithLetterPort", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", kMalformed},
    {"HostWithPortTooLarge", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", kMalformed},
    {"HostWithTwoPorts", "GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", kMalformed},
    {"HostOnlyPort", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", kMalformed},
    {"HostIpv6Unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", kMalformed},
    {"HostBadPercent", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", kMalformed},
    {"AbsoluteTargetWithUserinfo", "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    {"AbsoluteTargetWithTwoPorts", "GET http://a:1:2/ HTTP/1.1\r\nHost: a\r\n\r\n", kMalformed},
    // Chunked body and trailers (after a valid head).
    {"ChunkSizeWithSpace", chunked("3 \r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkSizeLfOnly", chunked("3\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkDataWithoutCrlf", chunked("3\r\nabcX0\r\n\r\n"), kMalformed},
    {"ChunkDataLfOnly", chunked("3\r\nabc\n0\r\n\r\n"), kMalformed},
    {"ChunkSizeOverflow", chunked("fffffffffffffffff\r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkExtensionControl", chunked("3;a\x01\r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkExtensionBareCr", chunked("3;a\rb\r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkExtensionEmptyName", chunked("3;=x\r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"ChunkExtensionEmptyNameAfterANamedOne", chunked("3;a=b;=x\r\nabc\r\n0\r\n\r\n"), kMalformed},
    {"LastChunkExtensionEmptyName", chunked("0;=x\r\n\r\n"), kMalformed},
    {"LastChunkLfOnly", chunked("0\n\r\n"), kMalformed},
    {"TrailerObsFold", chunked("0\r\nT: v\r\n w\r\n\r\n"), kMalformed},
    {"TrailerLfOnly", chunked("0\r\nT: v\n\r\n"), kMalformed},
    {"TrailerSectionEndLfOnly", chunked("0\r\n\n"), kMalformed},
    {"TrailerSectionEndLfOnlyAfterField", chunked("0\r\nT: v\r\n\n"), kMalformed},
    {"TrailerBadName", chunked("0\r\nT v: w\r\n\r\n"), kMalformed},
    {"TrailerControlInValue", chunked("0\r\nT: v\x01\r\n\r\n"), kMalformed},
};

class RequestRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(RequestRejectTest, RejectedWithKind) {
  const RejectCase& c = GetParam();
  EXPECT_EQ(requestErrorKind(c.input), c.kind);
}

TEST_P(RequestRejectTest, RejectedWithKindWhenFedByteByByte) {
  const RejectCase& c = GetParam();
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  feedInPieces(codec, c.input, 1);
  EXPECT_EQ(codec.status(), Http1Codec::Status::Error);
  EXPECT_EQ(codec.error().kind, c.kind);
  EXPECT_FALSE(codec.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(Requests, RequestRejectTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<RejectCase>& param) { return param.param.name; });

TEST(RequestRejectTest, ErrorIsSticky) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  const std::string bad = "GET / HTTP/1.1\r\nX A: b\r\n\r\n";
  codec.feed(bad.data(), bad.size());
  ASSERT_EQ(codec.status(), Http1Codec::Status::Error);
  const std::string good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(codec.feed(good.data(), good.size()), 0u);
  EXPECT_TRUE(recorder.messages.empty());
}

TEST(RequestRejectTest, NoHeadCallbackForARejectedHead) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  feedAll(codec, post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"));
  EXPECT_TRUE(recorder.messages.empty());
}

TEST(RequestRejectTest, MalformedSecondRequestAfterAGoodOne) {
  CodecRecorder recorder;
  Http1Codec codec(Http1Codec::Kind::Request, recorder, Http1Codec::Limits{});
  feedAll(codec, get("") + "GET / HTTP/1.1\nHost: a\r\n\r\n");
  ASSERT_EQ(recorder.messages.size(), 1u);
  EXPECT_TRUE(recorder.messages[0].complete);
  EXPECT_EQ(codec.error().kind, kMalformed);
}

}  // namespace
}  // namespace tether::http::testing
