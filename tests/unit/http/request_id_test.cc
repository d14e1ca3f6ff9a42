#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tether::http {
namespace {

bool isLowerHex(std::string_view s) { return s.find_first_not_of("0123456789abcdef") == std::string_view::npos; }

TEST(RequestIdTest, ThirtyTwoLowercaseHexCharacters) {
  RequestIdGenerator generator;
  char buffer[40];
  std::fill(std::begin(buffer), std::end(buffer), '#');
  generator.next(buffer);
  EXPECT_TRUE(isLowerHex(std::string_view(buffer, 32)));
  EXPECT_EQ(buffer[32], '#');  // exactly 32 bytes written, no terminator
  const RequestId id = generator.next();
  EXPECT_EQ(id.view().size(), 32u);
  EXPECT_TRUE(isLowerHex(id.view()));
}

TEST(RequestIdTest, Unique) {
  RequestIdGenerator generator;
  std::set<std::string> ids;
  for (int i = 0; i < 100000; ++i) ids.insert(std::string(generator.next().view()));
  EXPECT_EQ(ids.size(), 100000u);
}

TEST(RequestIdTest, SeededGeneratorsRepeatAndRandomOnesDiffer) {
  RequestIdGenerator a(42), b(42), c(43);
  const RequestId first = a.next();
  EXPECT_EQ(first.view(), b.next().view());
  EXPECT_NE(first.view(), c.next().view());
  EXPECT_NE(RequestIdGenerator().next().view(), RequestIdGenerator().next().view());
}

TEST(RequestIdTest, AllNibblesAppear) {
  RequestIdGenerator generator(7);
  std::set<char> seen;
  for (int i = 0; i < 100; ++i) {
    const RequestId id = generator.next();
    for (char c : id.view()) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(RequestIdTest, ClientIdsAreKeptOnlyWhenSafeToLogAndEcho) {
  EXPECT_TRUE(isValidRequestId("abc-123_XYZ"));
  EXPECT_TRUE(isValidRequestId(std::string(64, 'a')));
  EXPECT_FALSE(isValidRequestId(""));
  EXPECT_FALSE(isValidRequestId(std::string(65, 'a')));
  EXPECT_FALSE(isValidRequestId("has space"));
  EXPECT_FALSE(isValidRequestId("quote\""));
  EXPECT_FALSE(isValidRequestId("back\\slash"));
  EXPECT_FALSE(isValidRequestId("caf\xc3\xa9"));
}

}  // namespace
}  // namespace tether::http
