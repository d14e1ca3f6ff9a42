#include "http/trace_context.h"

#include <strings.h>

#include <algorithm>

namespace tether::http {
namespace {

constexpr size_t kVersion00Size = 55;  // "00-" + 32 + "-" + 16 + "-" + 2
constexpr size_t kTraceIdAt = 3;
constexpr size_t kParentIdAt = 36;
constexpr size_t kFlagsAt = 53;

// HEXDIGLC: the spec's hex is lowercase only. -1 for anything else.
int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// `text` (2 * out.size() lowercase hex digits) into `out`; false if any is not one.
template <size_t N>
bool readHex(std::string_view text, std::array<uint8_t, N>& out) {
  for (size_t i = 0; i < N; ++i) {
    const int high = hexDigit(text[2 * i]);
    const int low = hexDigit(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

template <size_t N>
bool allZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
void writeHex(const std::array<uint8_t, N>& bytes, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
}

std::string_view trimmed(std::string_view value) {
  const auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!value.empty() && ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && ows(value.back())) value.remove_suffix(1);
  return value;
}

}  // namespace

void TraceContext::writeTraceId(char out[32]) const { writeHex(trace_id, out); }
void TraceContext::writeParentId(char out[16]) const { writeHex(parent_id, out); }

std::optional<TraceContext> parseTraceparent(std::string_view value) {
  value = trimmed(value);
  if (value.size() < kVersion00Size) return std::nullopt;
  std::array<uint8_t, 1> version;
  if (!readHex(value.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  // Version 00 ends after the flags; a later version may append fields, each after a '-' (spec 4.3).
  if (version[0] == 0 ? value.size() != kVersion00Size
                      : value.size() > kVersion00Size && value[kVersion00Size] != '-') {
    return std::nullopt;
  }
  if (value[kTraceIdAt - 1] != '-' || value[kParentIdAt - 1] != '-' || value[kFlagsAt - 1] != '-') return std::nullopt;
  TraceContext context;
  std::array<uint8_t, 1> flags;
  if (!readHex(value.substr(kTraceIdAt, 32), context.trace_id) ||
      !readHex(value.substr(kParentIdAt, 16), context.parent_id) || !readHex(value.substr(kFlagsAt, 2), flags)) {
    return std::nullopt;
  }
  if (allZero(context.trace_id) || allZero(context.parent_id)) return std::nullopt;
  return context;
}

std::optional<TraceContext> findTraceContext(const HeaderList& fields) {
  static constexpr std::string_view kName = "traceparent";
  const Header* found = nullptr;
  for (const Header& field : fields) {
    if (field.name.size() != kName.size() || strncasecmp(field.name.data(), kName.data(), kName.size()) != 0) continue;
    if (found) return std::nullopt;  // duplicated: which trace the request belongs to is unknown
    found = &field;
  }
  if (!found) return std::nullopt;
  return parseTraceparent(found->value);
}

}  // namespace tether::http
