#include "log/json_escape.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tether::log {
namespace {

std::string escaped(std::string_view text) {
  std::string out = "prefix:";  // appends, never replaces
  appendJsonEscaped(out, text);
  return out.substr(7);
}

TEST(JsonEscape, PlainAsciiIsCopied) {
  EXPECT_EQ(escaped("GET /index.html?a=1&b=2 HTTP/1.1"), "GET /index.html?a=1&b=2 HTTP/1.1");
  EXPECT_EQ(escaped(""), "");
  EXPECT_EQ(escaped("\x7f"), "\x7f");  // DEL is not a JSON control character
}

TEST(JsonEscape, QuotesAndBackslash) {
  EXPECT_EQ(escaped(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escaped(R"(C:\dir\)"), R"(C:\\dir\\)");
  EXPECT_EQ(escaped(R"("\")"), R"(\"\\\")");
}

TEST(JsonEscape, NewlinesAndTabs) {
  EXPECT_EQ(escaped("a\nb\r\nc\td"), R"(a\nb\r\nc\td)");
}

TEST(JsonEscape, OtherControlCharactersUseUnicodeEscapes) {
  EXPECT_EQ(escaped(std::string_view("\0", 1)), R"(\u0000)");
  EXPECT_EQ(escaped("\x01\x08\x0c\x1b\x1f"), R"(\u0001\u0008\u000c\u001b\u001f)");
  EXPECT_EQ(escaped("x\x1fy"), R"(x\u001fy)");
}

TEST(JsonEscape, ValidUtf8IsCopied) {
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";  // é € 😀 U+10FFFF
  EXPECT_EQ(escaped(text), text);
}

TEST(JsonEscape, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(escaped("\x80"), R"(\ufffd)");              // lone continuation byte
  EXPECT_EQ(escaped("a\xff" "b"), R"(a\ufffdb)");        // never valid in UTF-8
  EXPECT_EQ(escaped("\xc0\xaf"), R"(\ufffd\ufffd)");     // overlong '/'
  EXPECT_EQ(escaped("\xe0\x80\xaf"), R"(\ufffd\ufffd\ufffd)");  // overlong 3-byte form
  EXPECT_EQ(escaped("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");  // UTF-16 surrogate D800
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), R"(\ufffd\ufffd\ufffd\ufffd)");  // above U+10FFFF
  EXPECT_EQ(escaped("\xf5\x80"), R"(\ufffd\ufffd)");
}

TEST(JsonEscape, TruncatedSequenceIsOneReplacement) {
  // A valid prefix cut short is one maximal subpart: one U+FFFD, and the next byte is kept.
  EXPECT_EQ(escaped("\xe2\x82"), R"(\ufffd)");
  EXPECT_EQ(escaped("\xe2\x82" "A"), R"(\ufffdA)");
  EXPECT_EQ(escaped("\xf0\x9f\x98" "\""), R"(\ufffd\")");
  EXPECT_EQ(escaped("\xc3"), R"(\ufffd)");
}

TEST(JsonEscape, MixedContent) {
  EXPECT_EQ(escaped("\xc3\xa9\"\n\x80z"), "\xc3\xa9\\\"\\n\\ufffdz");
}

}  // namespace
}  // namespace tether::log
