#include "config/units.h"

#include <gtest/gtest.h>

#include <string>

namespace tether::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("0ms"), milliseconds(0));
  EXPECT_EQ(parseDuration("007s"), milliseconds(7'000));
}

TEST(ParseDuration, BareZeroNeedsNoUnit) { EXPECT_EQ(parseDuration("0"), milliseconds(0)); }

TEST(ParseDuration, RejectsMissingOrUnknownUnit) {
  std::string error;
  EXPECT_EQ(parseDuration("5", &error), std::nullopt);
  EXPECT_NE(error.find("missing unit"), std::string::npos) << error;
  EXPECT_EQ(parseDuration("5d", &error), std::nullopt);
  EXPECT_NE(error.find("unknown unit 'd'"), std::string::npos) << error;
  EXPECT_EQ(parseDuration("5 s"), std::nullopt);
  EXPECT_EQ(parseDuration("5S"), std::nullopt);
  EXPECT_EQ(parseDuration("5sec"), std::nullopt);
}

TEST(ParseDuration, RejectsNegativesFractionsAndGarbage) {
  for (const char* text : {"", "-1s", "+1s", "1.5s", "s", "ms", " 1s", "1s ", "abc", "0x10s", "1s2"}) {
    std::string error;
    EXPECT_EQ(parseDuration(text, &error), std::nullopt) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(ParseDuration, RejectsOverflow) {
  std::string error;
  EXPECT_EQ(parseDuration("99999999999999999999ms", &error), std::nullopt);
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(parseDuration("9223372036854775807h", &error), std::nullopt);
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(parseDuration("9223372036854775807ms"), milliseconds(9223372036854775807LL));
}

TEST(ParseSize, AcceptsBytesAndUnits) {
  EXPECT_EQ(parseSize("512"), 512u);
  EXPECT_EQ(parseSize("512B"), 512u);
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("64KiB"), 64u * 1024);
  EXPECT_EQ(parseSize("1MiB"), 1024u * 1024);
  EXPECT_EQ(parseSize("1GiB"), 1024ull * 1024 * 1024);
  EXPECT_EQ(parseSize("2TiB"), 2ull << 40);
  EXPECT_EQ(parseSize("3KB"), 3000u);
  EXPECT_EQ(parseSize("1MB"), 1'000'000u);
  EXPECT_EQ(parseSize("1GB"), 1'000'000'000u);
}

TEST(ParseSize, RejectsBadInput) {
  for (const char* text : {"", "-1", "-1KiB", "1.5MiB", "KiB", "1kib", "1 KiB", "1XB", "1KiBs"}) {
    std::string error;
    EXPECT_EQ(parseSize(text, &error), std::nullopt) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(ParseSize, RejectsOverflow) {
  std::string error;
  EXPECT_EQ(parseSize("18446744073709551616", &error), std::nullopt);
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(parseSize("17179869184GiB", &error), std::nullopt);
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(parseSize("18446744073709551615"), 18446744073709551615ull);
}

TEST(ParseUnsigned, AcceptsOnlyPlainIntegers) {
  EXPECT_EQ(parseUnsigned("0"), 0u);
  EXPECT_EQ(parseUnsigned("1024"), 1024u);
  for (const char* text : {"", "-1", "+1", "1k", "1.0", " 1", "0x1"}) {
    EXPECT_EQ(parseUnsigned(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace tether::config
