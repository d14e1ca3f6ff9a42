#include "log/timestamp_formatter.h"

#include <algorithm>

namespace tether::log {
namespace {

// Writes `value` as exactly `width` decimal digits (zero-padded) at `out`.
void putDigits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void TimestampFormatter::append(std::string& out, std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(ts);  // floor, not truncation toward zero: correct before 1970 too
  const auto second = floor<seconds>(ms);
  if (!cache_valid_ || second != cached_second_) cacheSecond(second);

  char text[kLength];
  std::copy(cached_text_.begin(), cached_text_.end(), text);
  text[19] = '.';
  putDigits(text + 20, static_cast<unsigned>((ms - second).count()), 3);
  text[23] = 'Z';
  out.append(text, kLength);
}

void TimestampFormatter::cacheSecond(std::chrono::sys_seconds second) {
  using namespace std::chrono;
  const auto day = floor<days>(second);
  const year_month_day date{day};
  const hh_mm_ss time{second - day};

  char* t = cached_text_.data();
  putDigits(t, static_cast<unsigned>(std::clamp(static_cast<int>(date.year()), 0, 9999)), 4);
  t[4] = '-';
  putDigits(t + 5, static_cast<unsigned>(date.month()), 2);
  t[7] = '-';
  putDigits(t + 8, static_cast<unsigned>(date.day()), 2);
  t[10] = 'T';
  putDigits(t + 11, static_cast<unsigned>(time.hours().count()), 2);
  t[13] = ':';
  putDigits(t + 14, static_cast<unsigned>(time.minutes().count()), 2);
  t[16] = ':';
  putDigits(t + 17, static_cast<unsigned>(time.seconds().count()), 2);
  cached_second_ = second;
  cache_valid_ = true;
}

}  // namespace tether::log
