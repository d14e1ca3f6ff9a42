#include "http/head_scanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tether::http {
namespace {

using Mode = HeadScanner::Mode;
using Result = HeadScanner::Result;

// The scanner as it was before its text runs were found with memchr: one byte at a time. HeadScanner must make the
// same decisions (result, bytes used, start line, error) on every input, however the input is split.
class ReferenceScanner {
 public:
  void reset(Mode mode) {
    *this = ReferenceScanner();
    mode_ = mode;
  }

  Result scan(const char* data, size_t len, size_t limit, size_t& used) {
    used = 0;
    if (done_) return Result::Done;
    const size_t room = limit > bytes_ ? limit - bytes_ : 0;
    const size_t n = std::min(len, room);
    size_t i = 0;
    while (i < n) {
      const char c = data[i];
      if (pending_cr_) {
        if (c != '\n') return fail(ParseErrorKind::Malformed, "bare CR in message head");
        pending_cr_ = false;
        ++i;
        if (endLine() == Result::Done) break;
        continue;
      }
      if (c == '\r') {
        pending_cr_ = true;
        ++i;
        continue;
      }
      if (c == '\n') return fail(ParseErrorKind::Malformed, "line ending without CR in message head");
      if (line_length_ == 0 && (c == ' ' || c == '\t') && (lines_ > 0 || mode_ == Mode::Trailers)) {
        return fail(ParseErrorKind::Malformed, "obsolete line folding in message head");
      }
      if (mode_ == Mode::Head && lines_ == 0) start_line_.push_back(c);
      ++line_length_;
      ++i;
    }
    used = i;
    bytes_ += i;
    if (done_) return Result::Done;
    if (n < len) {
      return fail(ParseErrorKind::HeaderTooLarge,
                  mode_ == Mode::Head ? "message head too large" : "trailer section too large");
    }
    return Result::NeedMore;
  }

  bool done_ = false;
  std::string start_line_;
  ParseErrorKind error_kind_ = ParseErrorKind::None;
  std::string error_message_;

 private:
  Result fail(ParseErrorKind kind, const char* message) {
    error_kind_ = kind;
    error_message_ = message;
    return Result::Error;
  }
  Result endLine() {
    if (line_length_ > 0) {
      ++lines_;
      line_length_ = 0;
      return Result::NeedMore;
    }
    if (mode_ == Mode::Head && lines_ == 0) return Result::NeedMore;
    done_ = true;
    return Result::Done;
  }

  Mode mode_ = Mode::Head;
  bool pending_cr_ = false;
  size_t line_length_ = 0;
  size_t lines_ = 0;
  size_t bytes_ = 0;
};

struct Outcome {
  std::vector<std::pair<Result, size_t>> steps;  // per piece: result and bytes used
  bool done = false;
  std::string start_line;
  ParseErrorKind error_kind = ParseErrorKind::None;
  std::string error_message;

  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o) {
  std::string s;
  for (const auto& [result, used] : o.steps) {
    s += std::to_string(static_cast<int>(result)) + "/" + std::to_string(used) + " ";
  }
  return s + "done=" + std::to_string(o.done) + " start=[" + o.start_line +
         "] error=" + std::to_string(static_cast<int>(o.error_kind)) + " " + o.error_message;
}

// Feeds `input` in pieces ending at `cuts` the way the codec does: a piece's unused bytes are offered again.
template <typename Scanner>
Outcome run(Scanner& scanner, Mode mode, std::string_view input, const std::vector<size_t>& cuts, size_t limit) {
  scanner.reset(mode);
  Outcome o;
  size_t pos = 0;
  for (size_t cut : cuts) {
    cut = std::max(cut, pos);
    size_t used = 0;
    const Result result = scanner.scan(input.data() + pos, cut - pos, limit, used);
    o.steps.emplace_back(result, used);
    pos += used;
    if (result != Result::NeedMore) break;
  }
  if constexpr (std::is_same_v<Scanner, HeadScanner>) {
    o.done = scanner.done();
    o.start_line = std::string(scanner.startLine());
    o.error_kind = scanner.errorKind();
    o.error_message = scanner.errorMessage();
  } else {
    o.done = scanner.done_;
    o.start_line = scanner.start_line_;
    o.error_kind = scanner.error_kind_;
    o.error_message = scanner.error_message_;
  }
  return o;
}

Outcome scanAll(Mode mode, std::string_view input, size_t limit = 1 << 20) {
  HeadScanner scanner;
  return run(scanner, mode, input, {input.size()}, limit);
}

void expectSameAsReference(Mode mode, std::string_view input, const std::vector<size_t>& cuts, size_t limit) {
  HeadScanner scanner;
  ReferenceScanner reference;
  const Outcome got = run(scanner, mode, input, cuts, limit);
  const Outcome want = run(reference, mode, input, cuts, limit);
  EXPECT_EQ(got, want) << "input: " << testing::PrintToString(std::string(input)) << "\n got: " << describe(got)
                       << "\nwant: " << describe(want);
}

constexpr std::string_view kHead =
    "GET /static/js/app.3f9c2b71.js?v=1 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "\r\n";

TEST(HeadScanner, FindsTheEndOfAHead) {
  const std::string input = std::string(kHead) + "BODY\r\n";
  const Outcome o = scanAll(Mode::Head, input);
  ASSERT_EQ(o.steps.size(), 1u);
  EXPECT_EQ(o.steps[0], std::make_pair(Result::Done, kHead.size()));
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.start_line, "GET /static/js/app.3f9c2b71.js?v=1 HTTP/1.1");
}

TEST(HeadScanner, LeadingEmptyLinesAreSkipped) {
  const std::string input = "\r\n\r\n" + std::string(kHead);
  const Outcome o = scanAll(Mode::Head, input);
  EXPECT_EQ(o.steps.back(), std::make_pair(Result::Done, input.size()));
  EXPECT_EQ(o.start_line, "GET /static/js/app.3f9c2b71.js?v=1 HTTP/1.1");
}

TEST(HeadScanner, RejectsBareCrAndBareLfAnywhereInALongLine) {
  const std::string line(200, 'a');
  for (size_t at : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{15}, size_t{16}, size_t{63}, size_t{199}}) {
    for (const char* bad : {"\r", "\n", "\rx", "\r\r\n"}) {
      std::string input = "GET / HTTP/1.1\r\nX-Long: " + line + "\r\n\r\n";
      input.insert(24 + at, bad);
      const Outcome o = scanAll(Mode::Head, input);
      EXPECT_EQ(o.error_kind, ParseErrorKind::Malformed) << at << " " << testing::PrintToString(std::string(bad));
      expectSameAsReference(Mode::Head, input, {input.size()}, 1 << 20);
    }
  }
}

TEST(HeadScanner, RejectsBareLfBeforeACrLaterInTheLine) {
  const Outcome o = scanAll(Mode::Head, "GET / HTTP/1.1\nHost: a\r\n\r\n");
  EXPECT_EQ(o.error_kind, ParseErrorKind::Malformed);
  EXPECT_EQ(o.error_message, "line ending without CR in message head");
  EXPECT_EQ(o.start_line, "GET / HTTP/1.1");
}

TEST(HeadScanner, RejectsObsFoldAndTooLargeHeads) {
  EXPECT_EQ(scanAll(Mode::Head, "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n").error_message,
            "obsolete line folding in message head");
  EXPECT_EQ(scanAll(Mode::Trailers, "\tA: b\r\n\r\n").error_message, "obsolete line folding in message head");
  const Outcome o = scanAll(Mode::Head, kHead, 40);
  EXPECT_EQ(o.error_kind, ParseErrorKind::HeaderTooLarge);
  EXPECT_EQ(o.start_line, kHead.substr(0, 40));  // the bytes scanned
}

TEST(HeadScanner, EveryWayOfSplittingAHeadGivesTheSameResult) {
  for (size_t cut = 0; cut <= kHead.size(); ++cut) {
    expectSameAsReference(Mode::Head, kHead, {cut, kHead.size()}, 1 << 20);
  }
}

TEST(HeadScanner, AgreesWithTheBytewiseScannerOnRandomInput) {
  std::mt19937 random(20261123);
  // Mostly text with some CR, LF, SP and HT, so that both valid sections and every kind of rejection occur.
  const std::string alphabet = "aaaaaaaaaaaaaaaaaaaaBC:/.-\r\r\r\n\n\n  \t\x80\xff";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<size_t> length(0, 160);
  std::uniform_int_distribution<int> percent(0, 99);
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    const size_t n = length(random);
    while (input.size() < n) {
      const int p = percent(random);
      if (p < 30) {
        input += "\r\n";  // well-formed line ends are the common case
      } else if (p < 40) {
        input += std::string(std::uniform_int_distribution<size_t>(1, 40)(random), 'x');
      } else {
        input.push_back(alphabet[pick(random)]);
      }
    }
    std::vector<size_t> cuts;
    for (int k = std::uniform_int_distribution<int>(0, 3)(random); k > 0; --k) {
      cuts.push_back(std::uniform_int_distribution<size_t>(0, input.size())(random));
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.push_back(input.size());
    const size_t limit = percent(random) < 20 ? std::uniform_int_distribution<size_t>(0, 200)(random) : 1 << 20;
    const Mode mode = percent(random) < 25 ? Mode::Trailers : Mode::Head;
    expectSameAsReference(mode, input, cuts, limit);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace tether::http
