#include "json_checker.h"

namespace tether::log::testing {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool JsonChecker::isObjectLine(std::string_view line, std::string* error) {
  if (line.size() < 2 || line.back() != '\n') {
    if (error) *error = "line does not end with a newline";
    return false;
  }
  JsonChecker checker(line.substr(0, line.size() - 1));
  checker.skipSpace();
  const bool ok = checker.peek() == '{' && checker.object(0) && (checker.skipSpace(), checker.atEnd());
  if (!ok && error) *error = "invalid JSON near byte " + std::to_string(checker.pos_);
  return ok;
}

bool JsonChecker::value(int depth) {
  if (depth > 64) return false;
  skipSpace();
  switch (peek()) {
    case '{': return object(depth + 1);
    case '[': return array(depth + 1);
    case '"': return string();
    case 't': return literal("true");
    case 'f': return literal("false");
    case 'n': return literal("null");
    default: return number();
  }
}

bool JsonChecker::object(int depth) {
  if (!consume('{')) return false;
  skipSpace();
  if (consume('}')) return true;
  do {
    skipSpace();
    if (peek() != '"' || !string()) return false;
    skipSpace();
    if (!consume(':') || !value(depth)) return false;
    skipSpace();
  } while (consume(','));
  return consume('}');
}

bool JsonChecker::array(int depth) {
  if (!consume('[')) return false;
  skipSpace();
  if (consume(']')) return true;
  do {
    if (!value(depth)) return false;
    skipSpace();
  } while (consume(','));
  return consume(']');
}

bool JsonChecker::string() {
  if (!consume('"')) return false;
  while (!atEnd()) {
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c < 0x20) return false;  // raw control characters are not allowed in JSON strings
    if (c >= 0x80) {
      if (!utf8Sequence()) return false;
      continue;
    }
    ++pos_;
    if (c != '\\') continue;
    const char escape = peek();
    ++pos_;
    if (escape == 'u') {
      for (int i = 0; i < 4; ++i, ++pos_) {
        if (!isHex(peek())) return false;
      }
    } else if (std::string_view("\"\\/bfnrt").find(escape) == std::string_view::npos) {
      return false;
    }
  }
  return false;
}

bool JsonChecker::utf8Sequence() {
  const auto byte = [this](size_t i) {
    return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0;
  };
  const unsigned lead = byte(0);
  unsigned codepoint = 0;
  size_t length = 0;
  if (lead >= 0xC0 && lead < 0xE0) {
    length = 2;
    codepoint = lead & 0x1F;
  } else if (lead >= 0xE0 && lead < 0xF0) {
    length = 3;
    codepoint = lead & 0x0F;
  } else if (lead >= 0xF0 && lead < 0xF8) {
    length = 4;
    codepoint = lead & 0x07;
  } else
    return false;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return false;
    codepoint = (codepoint << 6) | (byte(i) & 0x3F);
  }
  static constexpr unsigned kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (codepoint < kMinimum[length] || codepoint > 0x10FFFF) return false;  // overlong or too large
  if (codepoint >= 0xD800 && codepoint <= 0xDFFF) return false;            // surrogate
  pos_ += length;
  return true;
}

bool JsonChecker::number() {
  consume('-');
  if (consume('0')) {
    // no leading zeros
  } else if (isDigit(peek()) && peek() != '0') {
    while (isDigit(peek())) ++pos_;
  } else {
    return false;
  }
  if (consume('.')) {
    if (!isDigit(peek())) return false;
    while (isDigit(peek())) ++pos_;
  }
  if (peek() == 'e' || peek() == 'E') {
    ++pos_;
    if (!consume('+')) consume('-');
    if (!isDigit(peek())) return false;
    while (isDigit(peek())) ++pos_;
  }
  return true;
}

bool JsonChecker::literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

void JsonChecker::skipSpace() {
  while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++pos_;
}

bool JsonChecker::consume(char c) {
  if (peek() != c) return false;
  ++pos_;
  return true;
}

}  // namespace tether::log::testing
