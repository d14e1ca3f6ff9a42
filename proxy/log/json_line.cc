#include "log/json_line.h"

#include <charconv>
#include <cmath>

#include "log/json_escape.h"

namespace tether::log {
namespace {

template <typename Number>
void appendNumber(std::string& out, Number value) {
  char digits[24];  // a 64-bit integer has at most 20 digits and a sign
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

}  // namespace

JsonLine& JsonLine::begin(std::string_view event, std::chrono::system_clock::time_point ts) {
  buffer_.clear();  // keeps the capacity: no allocation once lines stop growing
  buffer_.append("{\"ts\":\"");
  timestamps_.append(buffer_, ts);
  buffer_.append("\",\"event\":\"");
  appendJsonEscaped(buffer_, event);
  buffer_.push_back('"');
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, std::string_view value) {
  appendKey(key);
  buffer_.push_back('"');
  appendJsonEscaped(buffer_, value);
  buffer_.push_back('"');
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, const char* value) {
  return value != nullptr ? field(key, std::string_view(value)) : nullField(key);
}

JsonLine& JsonLine::field(std::string_view key, int64_t value) {
  appendKey(key);
  appendNumber(buffer_, value);
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, uint64_t value) {
  appendKey(key);
  appendNumber(buffer_, value);
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, double value) {
  if (!std::isfinite(value)) return nullField(key);  // JSON has no NaN or Infinity
  appendKey(key);
  char digits[320];  // fixed notation of DBL_MAX has 309 integer digits
  const auto result = std::to_chars(digits, digits + sizeof(digits), value, std::chars_format::fixed, 3);
  if (result.ec != std::errc{}) {
    buffer_.append("null");
  } else {
    buffer_.append(digits, result.ptr);
  }
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, bool value) {
  appendKey(key);
  buffer_.append(value ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::nullField(std::string_view key) {
  appendKey(key);
  buffer_.append("null");
  return *this;
}

std::string_view JsonLine::finish() {
  buffer_.append("}\n");
  return buffer_;
}

void JsonLine::appendKey(std::string_view key) {
  buffer_.append(",\"");
  appendJsonEscaped(buffer_, key);
  buffer_.append("\":");
}

}  // namespace tether::log
