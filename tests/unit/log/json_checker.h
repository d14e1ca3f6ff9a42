#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tether::log::testing {

// A strict RFC 8259 validator, written independently of the code under test: strings must be valid UTF-8
// with no raw control characters, numbers follow the JSON grammar, no trailing commas.
class JsonChecker {
 public:
  // True if `line` is exactly one JSON object followed by a single '\n'. On failure `error` says where.
  static bool isObjectLine(std::string_view line, std::string* error = nullptr);

 private:
  explicit JsonChecker(std::string_view text) : text_(text) {}

  bool value(int depth);
  bool object(int depth);
  bool array(int depth);
  bool string();
  bool number();
  bool literal(std::string_view word);
  bool utf8Sequence();
  void skipSpace();
  bool consume(char c);
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace tether::log::testing
