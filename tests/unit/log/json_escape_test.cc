#include "log/json_escape.h"

#include <gtest/gtest.h>

#include <random>
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

TEST(JsonEscape, NewlinesAndTabs) { EXPECT_EQ(escaped("a\nb\r\nc\td"), R"(a\nb\r\nc\td)"); }

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
  EXPECT_EQ(escaped("\x80"), R"(\ufffd)");  // lone continuation byte
  EXPECT_EQ(escaped("a\xff"
                    "b"),
            R"(a\ufffdb)");                                               // never valid in UTF-8
  EXPECT_EQ(escaped("\xc0\xaf"), R"(\ufffd\ufffd)");                      // overlong '/'
  EXPECT_EQ(escaped("\xe0\x80\xaf"), R"(\ufffd\ufffd\ufffd)");            // overlong 3-byte form
  EXPECT_EQ(escaped("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");            // UTF-16 surrogate D800
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), R"(\ufffd\ufffd\ufffd\ufffd)");  // above U+10FFFF
  EXPECT_EQ(escaped("\xf5\x80"), R"(\ufffd\ufffd)");
}

TEST(JsonEscape, TruncatedSequenceIsOneReplacement) {
  // A valid prefix cut short is one maximal subpart: one U+FFFD, and the next byte is kept.
  EXPECT_EQ(escaped("\xe2\x82"), R"(\ufffd)");
  EXPECT_EQ(escaped("\xe2\x82"
                    "A"),
            R"(\ufffdA)");
  EXPECT_EQ(escaped("\xf0\x9f\x98"
                    "\""),
            R"(\ufffd\")");
  EXPECT_EQ(escaped("\xc3"), R"(\ufffd)");
}

TEST(JsonEscape, MixedContent) { EXPECT_EQ(escaped("\xc3\xa9\"\n\x80z"), "\xc3\xa9\\\"\\n\\ufffdz"); }

// The escaping as it was before plain runs were skipped 8 bytes at a time: byte by byte, with the same rules.
std::string referenceEscaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else {
      // Table 3-7: the lead byte gives the number of trailing bytes and the range of the first one.
      size_t trailing = 0;
      unsigned char lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF)
        trailing = 1;
      else if (c >= 0xE0 && c <= 0xEF)
        trailing = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      else if (c >= 0xF0 && c <= 0xF4)
        trailing = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      size_t k = 1;
      if (trailing == 0) {
        out += "\\ufffd";
      } else {
        while (k <= trailing && i + k < n && s[i + k] >= lo && s[i + k] <= hi) {
          lo = 0x80;
          hi = 0xBF;
          ++k;
        }
        if (k > trailing)
          out.append(text.substr(i, k));
        else
          out += "\\ufffd";
      }
      i += k;
    }
  }
  return out;
}

TEST(JsonEscape, LongPlainStringsAreCopied) {
  for (size_t n = 0; n <= 80; ++n) {
    std::string text;
    for (size_t i = 0; i < n; ++i) text.push_back(static_cast<char>(0x20 + (i * 7) % 0x60));  // 0x20..0x7f
    // '"' and '\\' are among them; replace them so that the whole string is plain.
    for (char& c : text) {
      if (c == '"' || c == '\\') c = '#';
    }
    EXPECT_EQ(escaped(text), text) << n;
  }
  const std::string all_plain = [] {
    std::string t;
    for (int c = 0x20; c < 0x80; ++c) {
      if (c != '"' && c != '\\') t.push_back(static_cast<char>(c));
    }
    return t;
  }();
  EXPECT_EQ(escaped(all_plain), all_plain);
}

TEST(JsonEscape, SpecialByteAtEveryPositionOfALongPlainString) {
  const std::string specials[] = {"\"",   "\\",   "\n",   "\r",       "\t",           std::string(1, '\0'), "\x01",
                                  "\x1f", "\x80", "\xff", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",   "\xe2\x82"};
  const std::string expected[] = {
      "\\\"",    "\\\\",    "\\n",     "\\r",      "\\t",          "\\u0000",          "\\u0001",
      "\\u001f", "\\ufffd", "\\ufffd", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\ufffd"};
  for (size_t length : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{16}, size_t{23}, size_t{64}}) {
    const std::string plain = std::string(length, 'p');
    for (size_t at = 0; at <= length; ++at) {
      for (size_t k = 0; k < std::size(specials); ++k) {
        std::string text = plain;
        text.insert(at, specials[k]);
        std::string want = plain;
        want.insert(at, expected[k]);
        EXPECT_EQ(escaped(text), want) << "length " << length << " at " << at << " special " << k;
        // Two of them, the second one word later.
        text.insert(std::min(text.size(), at + 8 + specials[k].size()), specials[k]);
        EXPECT_EQ(escaped(text), referenceEscaped(text)) << "length " << length << " at " << at << " special " << k;
      }
    }
  }
}

TEST(JsonEscape, BytesJustAroundThePlainRange) {
  // 0x1f and 0x20, '!' '"' '#', '[' '\\' ']', 0x7f and 0x80, in every position of a word.
  for (const char c : {'\x1f', '\x20', '!', '"', '#', '[', '\\', ']', '\x7f', '\x80'}) {
    for (size_t at = 0; at < 16; ++at) {
      std::string text(16, 'a');
      text[at] = c;
      EXPECT_EQ(escaped(text), referenceEscaped(text)) << static_cast<int>(c) << " at " << at;
    }
  }
}

TEST(JsonEscape, EveryPairOfBytesAtEveryPositionNearTheEnd) {
  // Whatever precedes a byte (an escaped or invalid one, in the same 8-byte word or not) must not change how it is
  // written; the last bytes of a text are where words overlap.
  for (size_t length : {size_t{2}, size_t{7}, size_t{8}, size_t{9}, size_t{12}, size_t{16}, size_t{17}}) {
    for (size_t at = 0; at + 1 < length; ++at) {
      for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; b += (a < 0x20 || a == '"' || a == '\\' || a >= 0x80) ? 1 : 17) {
          std::string text(length, 'a');
          text[at] = static_cast<char>(a);
          text[at + 1] = static_cast<char>(b);
          ASSERT_EQ(escaped(text), referenceEscaped(text))
              << "length " << length << " at " << at << ": " << a << " " << b;
        }
      }
    }
  }
}

TEST(JsonEscape, AgreesWithTheBytewiseEscapingOnRandomInput) {
  std::mt19937 random(20261123);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<size_t> length(0, 100);
  for (int round = 0; round < 20000; ++round) {
    std::string text(length(random), 'a');
    const int special_percent = percent(random) / 4;  // from all plain to a quarter random bytes
    for (char& c : text) {
      c = percent(random) < special_percent ? static_cast<char>(byte(random))
                                            : static_cast<char>(std::uniform_int_distribution<int>(0x20, 0x7f)(random));
    }
    EXPECT_EQ(escaped(text), referenceEscaped(text)) << testing::PrintToString(text);
    if (HasFailure()) return;
  }
}

TEST(JsonEscape, ReferenceAgreesWithTheDocumentedCases) {  // the reference itself must not be wrong
  EXPECT_EQ(referenceEscaped("\xc3\xa9\"\n\x80z"), "\xc3\xa9\\\"\\n\\ufffdz");
  EXPECT_EQ(referenceEscaped("\xe0\x80\xaf"), R"(\ufffd\ufffd\ufffd)");
  EXPECT_EQ(referenceEscaped("\xf0\x9f\x98"
                             "\""),
            R"(\ufffd\")");
  EXPECT_EQ(referenceEscaped("\xf4\x90\x80\x80"), R"(\ufffd\ufffd\ufffd\ufffd)");
}

}  // namespace
}  // namespace tether::log
