#include "config/units.h"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace tether::config {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

// Splits "123unit" into its number and unit; false if there are no leading digits or the number overflows.
bool splitNumber(std::string_view text, uint64_t& number, std::string_view& unit, std::string* error) {
  size_t digits = 0;
  while (digits < text.size() && isDigit(text[digits])) ++digits;
  if (digits == 0) return fail(error, "must start with a non-negative integer");
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec == std::errc::result_out_of_range) return fail(error, "number is too large");
  if (ec != std::errc() || end != text.data() + digits) return fail(error, "malformed number");
  unit = text.substr(digits);
  return true;
}

template <size_t N>
std::optional<uint64_t> findUnit(const std::array<std::pair<std::string_view, uint64_t>, N>& units,
                                 std::string_view unit) {
  for (const auto& [name, factor] : units) {
    if (name == unit) return factor;
  }
  return std::nullopt;
}

// Tables read better as rows.
// clang-format off
constexpr std::array<std::pair<std::string_view, uint64_t>, 4> kDurationUnits{{
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}}};

constexpr uint64_t kKi = 1024;
constexpr uint64_t kK = 1000;
constexpr std::array<std::pair<std::string_view, uint64_t>, 10> kSizeUnits{{
    {"", 1}, {"B", 1},
    {"KiB", kKi}, {"MiB", kKi * kKi}, {"GiB", kKi * kKi * kKi}, {"TiB", kKi * kKi * kKi * kKi},
    {"KB", kK}, {"MB", kK * kK}, {"GB", kK * kK * kK}, {"TB", kK * kK * kK * kK}}};
// clang-format on

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string* error) {
  constexpr const char* kExpected = " (expected e.g. 250ms, 30s, 2m, 1h)";
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit, error)) {
    if (error != nullptr) *error = "invalid duration '" + std::string(text) + "': " + *error + kExpected;
    return std::nullopt;
  }
  if (unit.empty() && number != 0) {
    fail(error, "invalid duration '" + std::string(text) + "': missing unit" + kExpected);
    return std::nullopt;
  }
  const uint64_t factor = unit.empty() ? 1 : findUnit(kDurationUnits, unit).value_or(0);
  if (factor == 0) {
    fail(error, "invalid duration '" + std::string(text) + "': unknown unit '" + std::string(unit) + "'" + kExpected);
    return std::nullopt;
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  if (number > kMax / factor) {
    fail(error, "invalid duration '" + std::string(text) + "': too large");
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(number * factor));
}

std::optional<uint64_t> parseSize(std::string_view text, std::string* error) {
  constexpr const char* kExpected = " (expected bytes, or a unit: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, e.g. 64KiB)";
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit, error)) {
    if (error != nullptr) *error = "invalid size '" + std::string(text) + "': " + *error + kExpected;
    return std::nullopt;
  }
  const auto factor = findUnit(kSizeUnits, unit);
  if (!factor) {
    fail(error, "invalid size '" + std::string(text) + "': unknown unit '" + std::string(unit) + "'" + kExpected);
    return std::nullopt;
  }
  if (number > std::numeric_limits<uint64_t>::max() / *factor) {
    fail(error, "invalid size '" + std::string(text) + "': too large");
    return std::nullopt;
  }
  return number * *factor;
}

std::optional<uint64_t> parseUnsigned(std::string_view text, std::string* error) {
  uint64_t number = 0;
  std::string_view rest;
  if (!splitNumber(text, number, rest, error) || !rest.empty()) {
    fail(error, "invalid integer '" + std::string(text) + "' (expected a non-negative whole number)");
    return std::nullopt;
  }
  return number;
}

}  // namespace tether::config
