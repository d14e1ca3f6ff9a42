#include "http/grpc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "http/header_rules.h"

namespace tether::http::grpc {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST(GrpcTest, ContentTypes) {
  for (const char* type : {"application/grpc", "application/grpc+proto", "application/grpc+json", "Application/GRPC",
                           "application/grpc;charset=utf-8"}) {
    EXPECT_TRUE(isGrpcContentType(type)) << type;
  }
  for (const char* type : {"application/grpc-web", "application/grpc-web+proto", "application/json", "application/grp",
                           "", "text/grpc", " application/grpc"}) {
    EXPECT_FALSE(isGrpcContentType(type)) << type;
  }
}

TEST(GrpcTest, ParsesEveryUnit) {
  EXPECT_EQ(parseTimeout("1H"), nanoseconds(1h));
  EXPECT_EQ(parseTimeout("2M"), nanoseconds(2min));
  EXPECT_EQ(parseTimeout("3S"), nanoseconds(3s));
  EXPECT_EQ(parseTimeout("250m"), nanoseconds(250ms));
  EXPECT_EQ(parseTimeout("1500u"), nanoseconds(1500us));
  EXPECT_EQ(parseTimeout("7n"), nanoseconds(7));
  EXPECT_EQ(parseTimeout("0m"), nanoseconds(0));
  EXPECT_EQ(parseTimeout("00000010S"), nanoseconds(10s));  // 8 digits, leading zeros allowed
  EXPECT_EQ(parseTimeout("99999999H"), kMaxTimeout);       // the largest value is capped, not overflowed
  EXPECT_EQ(parseTimeout("99999999M"), kMaxTimeout);
  EXPECT_EQ(parseTimeout("99999999S"), nanoseconds(99999999s));
}

TEST(GrpcTest, RejectsMalformedTimeouts) {
  for (const char* value :
       {"", "S", "1", "10", "123456789S", "-1S", "+1S", "1 S", " 1S", "1s", "1x", "1.5S", "1SS", "0x10S", "1h"}) {
    EXPECT_FALSE(parseTimeout(value).has_value()) << '"' << value << '"';
  }
}

TEST(GrpcTest, FormatsInTheFinestUnitThatFits) {
  EXPECT_EQ(formatTimeout(nanoseconds(0)), "0n");
  EXPECT_EQ(formatTimeout(nanoseconds(-5)), "0n");  // past the deadline: nothing left
  EXPECT_EQ(formatTimeout(nanoseconds(99'999'999)), "99999999n");
  EXPECT_EQ(formatTimeout(100ms), "100000u");
  EXPECT_EQ(formatTimeout(1500ms), "1500000u");
  EXPECT_EQ(formatTimeout(90s), "90000000u");
  EXPECT_EQ(formatTimeout(100s), "100000m");
  EXPECT_EQ(formatTimeout(24h), "86400000m");
  EXPECT_EQ(formatTimeout(kMaxTimeout), "52560000M");
  EXPECT_EQ(formatTimeout(nanoseconds::max()), "2562047H");
}

TEST(GrpcTest, FormatRoundsDownNeverUp) {
  // The upstream must never believe it has more time than tether gives it.
  EXPECT_EQ(formatTimeout(nanoseconds(123'456'789)), "123456u");
  EXPECT_EQ(formatTimeout(nanoseconds(100'000'000'999)), "100000m");
}

TEST(GrpcTest, FormatThenParseKeepsEightDigitsOfPrecision) {
  for (const nanoseconds value : {nanoseconds(1), nanoseconds(1234), nanoseconds(5s), nanoseconds(59min),
                                  nanoseconds(26h), nanoseconds(300000h), kMaxTimeout}) {
    const auto parsed = parseTimeout(formatTimeout(value));
    ASSERT_TRUE(parsed) << formatTimeout(value);
    EXPECT_LE(*parsed, value);
    // Lost to rounding: less than one part in 10^7 (the value has 8 digits, the first one not 0).
    EXPECT_LE(static_cast<double>((value - *parsed).count()) * 1e7, static_cast<double>(value.count()))
        << formatTimeout(value);
  }
}

TEST(GrpcTest, PercentEncodesMessages) {
  EXPECT_EQ(percentEncodeMessage("upstream unavailable"), "upstream unavailable");
  EXPECT_EQ(percentEncodeMessage("100% done"), "100%25 done");
  EXPECT_EQ(percentEncodeMessage("a\nb\x7f\xc3\xa9"), "a%0Ab%7F%C3%A9");
}

TEST(GrpcTest, ParsesStatus) {
  EXPECT_EQ(parseStatus("0"), 0);
  EXPECT_EQ(parseStatus("14"), 14);
  for (const char* value : {"", "-1", "1x", " 1", "1000", "+2"}) EXPECT_FALSE(parseStatus(value)) << value;
}

TEST(GrpcTest, TeTrailers) {
  EXPECT_TRUE(acceptsTrailers({{"TE", "trailers"}}));
  EXPECT_TRUE(acceptsTrailers({{"te", "gzip;q=0.5, Trailers"}}));
  EXPECT_FALSE(acceptsTrailers({{"te", "gzip"}}));
  EXPECT_FALSE(acceptsTrailers({{"trailer", "trailers"}}));
  EXPECT_FALSE(acceptsTrailers({}));
}

}  // namespace
}  // namespace tether::http::grpc
