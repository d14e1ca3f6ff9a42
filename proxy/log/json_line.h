#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "log/timestamp_formatter.h"

namespace tether::log {

// Builds one JSON Lines record: {"ts":"2026-11-23T11:50:49.123Z","event":"...",<fields>}\n
// The buffer is reused from line to line, so after warm-up building a line does not allocate.
// Keys and string values are escaped (see appendJsonEscaped); keys are expected to be unique per line. A key that needs
// no escaping (all literal keys) is copied together with the text around it in one append.
// Not synchronized: one builder per thread.
class JsonLine {
 public:
  // Starts a new line, discarding any unfinished one.
  JsonLine& begin(std::string_view event, std::chrono::system_clock::time_point ts);

  JsonLine& field(std::string_view key, std::string_view value);
  JsonLine& field(std::string_view key, const char* value);  // without it a literal would pick the bool overload
  JsonLine& field(std::string_view key, int64_t value);
  JsonLine& field(std::string_view key, uint64_t value);
  JsonLine& field(std::string_view key, double value);  // fixed with 3 decimals; NaN and infinities -> null
  JsonLine& field(std::string_view key, bool value);
  JsonLine& nullField(std::string_view key);

  // Other integer types (int, unsigned, ...) would be ambiguous between the 64-bit overloads.
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonLine& field(std::string_view key, T value) {
    if constexpr (std::is_signed_v<T>)
      return field(key, static_cast<int64_t>(value));
    else
      return field(key, static_cast<uint64_t>(value));
  }

  // An empty optional is written as null.
  template <typename T>
  JsonLine& field(std::string_view key, const std::optional<T>& value) {
    return value ? field(key, *value) : nullField(key);
  }

  // Closes the object and appends '\n'. The view is valid until the next begin().
  std::string_view finish();

 private:
  // ,"<key>": then `tail` (written as is).
  void appendKey(std::string_view key, std::string_view tail = {});
  template <typename Integer>
  void appendNumberField(std::string_view key, Integer value);

  std::string buffer_;
  TimestampFormatter timestamps_;
};

}  // namespace tether::log
