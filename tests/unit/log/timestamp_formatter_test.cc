#include "log/timestamp_formatter.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <random>
#include <regex>
#include <string>

namespace tether::log {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

system_clock::time_point at(year_month_day date, system_clock::duration time_of_day) {
  return system_clock::time_point(sys_days(date)) + time_of_day;
}

std::string format(TimestampFormatter& formatter, system_clock::time_point ts) {
  std::string out;
  formatter.append(out, ts);
  return out;
}

TEST(TimestampFormatter, KnownTimePoint) {
  TimestampFormatter formatter;
  EXPECT_EQ(format(formatter, at(2026y / 11 / 23, 11h + 50min + 49s + 123ms)), "2026-11-23T11:50:49.123Z");
}

TEST(TimestampFormatter, TruncatesToMilliseconds) {
  TimestampFormatter formatter;
  EXPECT_EQ(format(formatter, at(2026y / 11 / 23, 11h + 50min + 49s + 123999us)), "2026-11-23T11:50:49.123Z");
}

TEST(TimestampFormatter, EpochAndBefore) {
  TimestampFormatter formatter;
  EXPECT_EQ(format(formatter, system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format(formatter, system_clock::time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
}

TEST(TimestampFormatter, CacheFollowsSecondsForwardAndBackward) {
  TimestampFormatter formatter;
  const auto base = at(2024y / 2 / 29, 23h + 59min + 59s);
  EXPECT_EQ(format(formatter, base + 1ms), "2024-02-29T23:59:59.001Z");
  EXPECT_EQ(format(formatter, base + 999ms), "2024-02-29T23:59:59.999Z");  // cached second
  EXPECT_EQ(format(formatter, base + 1s), "2024-03-01T00:00:00.000Z");     // next second, next day
  EXPECT_EQ(format(formatter, base + 5ms), "2024-02-29T23:59:59.005Z");    // clock stepped back
}

TEST(TimestampFormatter, AppendsToExistingText) {
  TimestampFormatter formatter;
  std::string out = "ts=";
  formatter.append(out, at(2000y / 1 / 1, 0s));
  EXPECT_EQ(out, "ts=2000-01-01T00:00:00.000Z");
}

TEST(TimestampFormatter, NowMatchesRfc3339Shape) {
  TimestampFormatter formatter;
  const std::regex shape(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
  EXPECT_TRUE(std::regex_match(format(formatter, system_clock::now()), shape));
}

TEST(TimestampFormatter, AgreesWithGmtime) {
  TimestampFormatter formatter;
  std::mt19937_64 random(42);
  std::uniform_int_distribution<int64_t> random_ms(0, int64_t{4102444800} * 1000);  // 1970..2100
  for (int i = 0; i < 5000; ++i) {
    const int64_t ms = random_ms(random);
    const time_t seconds = static_cast<time_t>(ms / 1000);
    tm parts{};
    gmtime_r(&seconds, &parts);
    char expected[40];
    const size_t length = strftime(expected, sizeof(expected), "%Y-%m-%dT%H:%M:%S", &parts);
    snprintf(expected + length, sizeof(expected) - length, ".%03dZ", static_cast<int>(ms % 1000));
    ASSERT_EQ(format(formatter, system_clock::time_point(milliseconds(ms))), expected) << ms;
  }
}

}  // namespace
}  // namespace tether::log
