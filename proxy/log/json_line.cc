#include "log/json_line.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "log/json_escape.h"

namespace tether::log {
namespace {

// Keys are literals in practice and need no escaping: such a key is copied with the text around it in one append.
// Longer keys, or keys that do need escaping, go through appendJsonEscaped (same output).
constexpr size_t kMaxPlainKey = 48;
constexpr size_t kMaxTail = 24;  // a 64-bit integer has at most 20 digits and a sign; "false"; "null"; '"'

bool isPlainKey(std::string_view key) { return key.size() <= kMaxPlainKey && plainAsciiPrefix(key) == key.size(); }

// Room for ,"<key>": and a tail.
struct KeyScratch {
  char bytes[kMaxPlainKey + 4 + kMaxTail];
};

// Writes ,"<key>": at the start of `scratch` and returns the end.
char* putPlainKey(KeyScratch& scratch, std::string_view key) {
  char* p = scratch.bytes;
  *p++ = ',';
  *p++ = '"';
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  *p++ = '"';
  *p++ = ':';
  return p;
}

}  // namespace

void JsonLine::appendKey(std::string_view key, std::string_view tail) {
  if (isPlainKey(key) && tail.size() <= kMaxTail) {
    KeyScratch scratch;
    char* p = putPlainKey(scratch, key);
    if (!tail.empty()) std::memcpy(p, tail.data(), tail.size());
    p += tail.size();
    buffer_.append(scratch.bytes, static_cast<size_t>(p - scratch.bytes));
    return;
  }
  buffer_.append(",\"");
  appendJsonEscaped(buffer_, key);
  buffer_.append("\":");
  buffer_.append(tail);
}

template <typename Integer>
void JsonLine::appendNumberField(std::string_view key, Integer value) {
  static_assert(std::is_same_v<Integer, int64_t> || std::is_same_v<Integer, uint64_t>);
  if (isPlainKey(key)) {
    KeyScratch scratch;
    char* p = putPlainKey(scratch, key);
    p = std::to_chars(p, p + kMaxTail, value).ptr;
    buffer_.append(scratch.bytes, static_cast<size_t>(p - scratch.bytes));
    return;
  }
  char digits[kMaxTail];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  appendKey(key, std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
}

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
  appendKey(key, "\"");
  appendJsonEscaped(buffer_, value);
  buffer_.push_back('"');
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, const char* value) {
  return value != nullptr ? field(key, std::string_view(value)) : nullField(key);
}

JsonLine& JsonLine::field(std::string_view key, int64_t value) {
  appendNumberField(key, value);
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, uint64_t value) {
  appendNumberField(key, value);
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, double value) {
  if (!std::isfinite(value)) return nullField(key);  // JSON has no NaN or Infinity
  char digits[320];                                  // fixed notation of DBL_MAX has 309 integer digits
  const auto result = std::to_chars(digits, digits + sizeof(digits), value, std::chars_format::fixed, 3);
  if (result.ec != std::errc{}) {
    appendKey(key, "null");
  } else {
    appendKey(key, std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
  }
  return *this;
}

JsonLine& JsonLine::field(std::string_view key, bool value) {
  appendKey(key, value ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::nullField(std::string_view key) {
  appendKey(key, "null");
  return *this;
}

std::string_view JsonLine::finish() {
  buffer_.append("}\n");
  return buffer_;
}

}  // namespace tether::log
