// Which fields tether sends as HPACK "never indexed" literals (RFC 7541 6.2.3).
#pragma once

#include <nghttp2/nghttp2.h>

#include <string_view>

namespace tether::http2 {

// Fields whose value is new on every request. Indexing them gains nothing (the value never repeats) and costs a
// lot: each one is inserted into the HPACK dynamic table, evicting entries that do repeat, and nghttp2's deflater
// chains all entries of one name in one hash bucket, so each further request walked every earlier x-request-id
// in the table (two memcmp each: ~100 memcmp per header block, 20% of tether's instructions per h2c request).
// `name` is lowercase (HTTP/2 field names always are by the time they reach a codec).
inline uint8_t indexingFlags(std::string_view name) {
  return name == "x-request-id" || name == "traceparent" ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
}

}  // namespace tether::http2
