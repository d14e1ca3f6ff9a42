#include "http/grpc.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>

#include "http/header_chars.h"

namespace tether::http::grpc {
namespace {

using std::chrono::nanoseconds;

constexpr size_t kMaxTimeoutDigits = 8;  // PROTOCOL-HTTP2.md: TimeoutValue -> {positive integer as ASCII, at most 8}
constexpr int64_t kMaxTimeoutValue = 99'999'999;

struct Unit {
  char symbol;
  int64_t nanos;
};
// Finest first: formatTimeout takes the first one whose value fits in 8 digits.
constexpr std::array<Unit, 6> kUnits = {
    {{'n', 1}, {'u', 1'000}, {'m', 1'000'000}, {'S', 1'000'000'000}, {'M', 60'000'000'000}, {'H', 3'600'000'000'000}}};

}  // namespace

bool isGrpcContentType(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (content_type.size() < kGrpc.size() || !equalsIgnoreCase(content_type.substr(0, kGrpc.size()), kGrpc)) {
    return false;
  }
  if (content_type.size() == kGrpc.size()) return true;
  const char next = content_type[kGrpc.size()];
  return next == '+' || next == ';';
}

std::optional<nanoseconds> parseTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > kMaxTimeoutDigits + 1) return std::nullopt;
  const std::string_view digits = value.substr(0, value.size() - 1);
  int64_t amount = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;  // from_chars would accept nothing else either, but no sign here
    amount = amount * 10 + (c - '0');
  }
  for (const Unit& unit : kUnits) {
    if (unit.symbol != value.back()) continue;
    if (amount > kMaxTimeout.count() / unit.nanos) return kMaxTimeout;  // 99999999H would overflow int64 ns
    return nanoseconds(amount * unit.nanos);
  }
  return std::nullopt;
}

std::string formatTimeout(nanoseconds remaining) {
  const int64_t nanos = std::max<int64_t>(0, remaining.count());
  for (const Unit& unit : kUnits) {
    const int64_t amount = nanos / unit.nanos;
    if (amount <= kMaxTimeoutValue) return std::to_string(amount) + unit.symbol;
  }
  return std::to_string(kMaxTimeoutValue) + 'H';  // not reached: int64 nanoseconds are below 2562048 hours
}

std::string percentEncodeMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e && c != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::optional<int> parseStatus(std::string_view value) {
  int status = 0;
  if (value.empty() || value.size() > 3) return std::nullopt;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), status);
  if (ec != std::errc() || end != value.data() + value.size() || status < 0) return std::nullopt;
  return status;
}

}  // namespace tether::http::grpc
