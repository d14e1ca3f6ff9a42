#pragma once

// gRPC over HTTP/2 as a proxy sees it (grpc/doc/PROTOCOL-HTTP2.md): which requests are gRPC, the `grpc-timeout`
// deadline (parsed from the client, rewritten for the upstream), and the fields of tether's own gRPC errors.
// No body is ever looked at: tether forwards gRPC messages as they are.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tether::http::grpc {

// gRPC status codes tether sends or logs (grpc/doc/statuscodes.md).
enum class Status : int {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  DeadlineExceeded = 4,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
};

// Content-Type "application/grpc", alone or followed by "+<format>" or ";params" (gRPC-Web's
// "application/grpc-web..." is not: it carries its trailers in the body and runs over HTTP/1.1 too).
bool isGrpcContentType(std::string_view content_type);

// Longer timeouts are cut to this: 99999999H does not fit in int64 nanoseconds, and a deadline a century away is
// no deadline anyway.
inline constexpr std::chrono::nanoseconds kMaxTimeout = std::chrono::hours(24 * 365 * 100);

// `grpc-timeout`: 1 to 8 ASCII digits and a unit (H hours, M minutes, S seconds, m milli, u micro, n nano), at most
// kMaxTimeout. Anything else (empty, 9 digits, a sign, spaces, another unit) is malformed: nullopt.
std::optional<std::chrono::nanoseconds> parseTimeout(std::string_view value);

// The value for `remaining` (clamped at 0) in the finest unit whose value fits in 8 digits, rounded down so the
// upstream never thinks it has more time than tether gives it: "1500000u" for 1.5 s, "90000m" for 90 s.
std::string formatTimeout(std::chrono::nanoseconds remaining);

// `grpc-message` is percent-encoded (PROTOCOL-HTTP2.md "Responses"): bytes outside 0x20..0x7E and '%' become %XX.
std::string percentEncodeMessage(std::string_view message);

// The `grpc-status` field value ("0".."16"); nullopt if it is not a plain decimal number below 1000.
std::optional<int> parseStatus(std::string_view value);

}  // namespace tether::http::grpc
