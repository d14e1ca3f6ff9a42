#pragma once

#include <array>
#include <chrono>
#include <string>

namespace tether::log {

// Formats RFC 3339 UTC timestamps with milliseconds ("2026-11-23T11:50:49.123Z"), locale-free and without
// gmtime: the calendar part is computed with <chrono> once per second and cached, so most calls only write
// the milliseconds. One instance per thread (it is not synchronized).
class TimestampFormatter {
 public:
  static constexpr size_t kLength = 24;  // "YYYY-MM-DDTHH:MM:SS.mmmZ"

  // Appends the timestamp for `ts`, truncated to milliseconds. Years are clamped to 0000..9999.
  void append(std::string& out, std::chrono::system_clock::time_point ts);

 private:
  void cacheSecond(std::chrono::sys_seconds second);

  std::chrono::sys_seconds cached_second_{};
  bool cache_valid_ = false;
  std::array<char, 19> cached_text_{};  // "YYYY-MM-DDTHH:MM:SS" of cached_second_
};

}  // namespace tether::log
