// The W3C traceparent parser: the valid shapes (version 00, a later version with and without more fields, optional
// whitespace) and every invalid one the spec and its test suite (w3c/trace-context test/test.py) name, plus how a
// request's fields are searched (one field, case-insensitive name, duplicates invalid).
#include "http/trace_context.h"

#include <gtest/gtest.h>

#include <string>

namespace tether::http {
namespace {

constexpr const char* kTraceId = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kParentId = "b7ad6b7169203331";
const std::string kValid = std::string("00-") + kTraceId + "-" + kParentId + "-01";

std::string traceIdOf(const TraceContext& context) {
  char text[32];
  context.writeTraceId(text);
  return std::string(text, sizeof(text));
}

std::string parentIdOf(const TraceContext& context) {
  char text[16];
  context.writeParentId(text);
  return std::string(text, sizeof(text));
}

// `kValid` with the characters from `at` replaced by `with`.
std::string validWith(size_t at, std::string_view with) {
  std::string value = kValid;
  value.replace(at, with.size(), with);
  return value;
}

TEST(TraceparentTest, Version00GivesItsIdsBack) {
  const auto context = parseTraceparent(kValid);
  ASSERT_TRUE(context);
  EXPECT_EQ(traceIdOf(*context), kTraceId);
  EXPECT_EQ(parentIdOf(*context), kParentId);
  EXPECT_EQ(context->trace_id[0], 0x0a);
  EXPECT_EQ(context->parent_id[7], 0x31);
}

TEST(TraceparentTest, AnyFlagsAreValid) {
  for (const char* flags : {"00", "01", "02", "ff", "a9"}) {
    EXPECT_TRUE(parseTraceparent(validWith(53, flags))) << flags;
  }
}

TEST(TraceparentTest, OptionalWhitespaceAroundTheValueIsIgnored) {
  EXPECT_TRUE(parseTraceparent(" " + kValid));
  EXPECT_TRUE(parseTraceparent(kValid + " \t"));
  EXPECT_TRUE(parseTraceparent("\t" + kValid + "\t"));
  EXPECT_FALSE(parseTraceparent(validWith(35, " ")));  // inside the value it is a wrong character
}

TEST(TraceparentTest, ALaterVersionIsReadLeniently) {
  // Spec 4.3: parse the four fields of version 00; what follows, if anything, starts with '-'.
  const auto exact = parseTraceparent(validWith(0, "cc"));
  ASSERT_TRUE(exact);
  EXPECT_EQ(traceIdOf(*exact), kTraceId);
  EXPECT_EQ(parentIdOf(*exact), kParentId);
  const auto longer = parseTraceparent(validWith(0, "01") + "-what-the-future-brings");
  ASSERT_TRUE(longer);
  EXPECT_EQ(parentIdOf(*longer), kParentId);
  EXPECT_TRUE(parseTraceparent(validWith(0, "fe") + "-"));
  EXPECT_FALSE(parseTraceparent(validWith(0, "cc") + ".x"));  // not a '-' after the flags
  EXPECT_FALSE(parseTraceparent(validWith(0, "cc") + "0"));   // the flags run on: 3 characters
}

TEST(TraceparentTest, VersionFfIsInvalid) { EXPECT_FALSE(parseTraceparent(validWith(0, "ff"))); }

TEST(TraceparentTest, Version00WithMoreIsInvalid) {
  EXPECT_FALSE(parseTraceparent(kValid + "-"));
  EXPECT_FALSE(parseTraceparent(kValid + "-01"));
  EXPECT_FALSE(parseTraceparent(kValid + "0"));
}

TEST(TraceparentTest, UppercaseHexIsInvalid) {
  EXPECT_FALSE(parseTraceparent(validWith(3, "0AF7")));   // trace id
  EXPECT_FALSE(parseTraceparent(validWith(36, "B7AD")));  // parent id
  EXPECT_FALSE(parseTraceparent(validWith(53, "0A")));    // flags
  EXPECT_FALSE(parseTraceparent(validWith(0, "0A")));     // version
}

TEST(TraceparentTest, AllZeroIdsAreInvalid) {
  EXPECT_FALSE(parseTraceparent(validWith(3, std::string(32, '0'))));
  EXPECT_FALSE(parseTraceparent(validWith(36, std::string(16, '0'))));
  EXPECT_FALSE(parseTraceparent(validWith(0, "cc").replace(3, 32, std::string(32, '0'))));
  EXPECT_TRUE(parseTraceparent(validWith(3, std::string(31, '0') + "1")));  // one bit is enough
}

TEST(TraceparentTest, WrongLengthsAreInvalid) {
  EXPECT_FALSE(parseTraceparent(""));
  EXPECT_FALSE(parseTraceparent("00"));
  EXPECT_FALSE(parseTraceparent(kValid.substr(0, 54)));                                      // flags cut short
  EXPECT_FALSE(parseTraceparent(std::string("00-") + kTraceId + "0-" + kParentId + "-01"));  // 33-hex trace id
  EXPECT_FALSE(parseTraceparent(std::string("00-") + "0af7651916cd43dd8448eb211c80319-" + kParentId + "-01"));
  EXPECT_FALSE(parseTraceparent(std::string("00-") + kTraceId + "-" + kParentId + "0-1"));  // 17-hex parent id
  EXPECT_FALSE(parseTraceparent(std::string("0-") + kTraceId + "-" + kParentId + "-01x"));  // 1-hex version
}

TEST(TraceparentTest, WrongCharactersAreInvalid) {
  const std::string wrong[] = {"g", "z", "-", ".", "\x80", std::string(1, '\0')};
  for (size_t at : {0u, 1u, 3u, 20u, 34u, 36u, 51u, 53u, 54u}) {
    for (const std::string& c : wrong) {
      EXPECT_FALSE(parseTraceparent(validWith(at, c))) << at << " " << validWith(at, c);
    }
  }
}

TEST(TraceparentTest, WrongSeparatorsAreInvalid) {
  for (size_t at : {2u, 35u, 52u}) {
    for (const char* c : {"_", "0", " ", "."}) {
      EXPECT_FALSE(parseTraceparent(validWith(at, c))) << at << " '" << c << "'";
    }
  }
}

HeaderList fields(std::initializer_list<std::pair<const char*, std::string>> list) {
  HeaderList headers;
  for (const auto& [name, value] : list) headers.push_back(Header{name, value});
  return headers;
}

TEST(FindTraceContextTest, TheOneFieldIsParsedWhateverItsNameCase) {
  EXPECT_TRUE(findTraceContext(fields({{"host", "a"}, {"traceparent", kValid}, {"tracestate", "k=v"}})));
  EXPECT_TRUE(findTraceContext(fields({{"TraceParent", kValid}})));
  EXPECT_TRUE(findTraceContext(fields({{"TRACEPARENT", kValid}})));
}

TEST(FindTraceContextTest, NoneOrAnInvalidOneIsNone) {
  EXPECT_FALSE(findTraceContext({}));
  EXPECT_FALSE(findTraceContext(fields({{"host", "a"}, {"tracestate", "k=v"}, {"traceparents", kValid}})));
  EXPECT_FALSE(findTraceContext(fields({{"traceparent", validWith(0, "ff")}})));
}

TEST(FindTraceContextTest, TwoFieldsAreInvalidEvenWhenBothAreValidOrEqual) {
  EXPECT_FALSE(findTraceContext(fields({{"traceparent", kValid}, {"traceparent", kValid}})));
  EXPECT_FALSE(findTraceContext(fields({{"traceparent", kValid}, {"Traceparent", validWith(36, "c7")}})));
  EXPECT_FALSE(findTraceContext(fields({{"traceparent", kValid}, {"traceparent", "garbage"}})));
}

}  // namespace
}  // namespace tether::http
