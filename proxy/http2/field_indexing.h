// Which fields tether sends as HPACK "never indexed" literals (RFC 7541 6.2.3).
#pragma once

#include <nghttp2/nghttp2.h>

#include <string_view>

namespace tether::http2 {

// Fields whose value is new on every request (x-request-id, traceparent). Indexing them gains nothing (the value
// never repeats) and costs a lot: each one is inserted into the HPACK dynamic table, evicting entries that do
// repeat, and nghttp2's deflater chains all entries of one name in one hash bucket, so each further request walked
// every earlier x-request-id in the table (two memcmp each: ~100 memcmp per header block, 20% of tether's
// instructions per h2c request). So they go out as never-indexed literals.
//
// Except the first of each name on a connection: it is indexed, which puts the *name* into the peer's table once.
// nghttp2 looks a never-indexed field's name up in the dynamic table too, so every later one refers to the name by
// index instead of Huffman-coding its 12 characters again (~360 instructions per header block; one table entry,
// no churn). One per HPACK encoder, i.e. per codec. `name` is lowercase, as HTTP/2 field names are by then.
class FieldIndexing {
 public:
  uint8_t flags(std::string_view name) {
    if (name.size() == 12 && name == "x-request-id") return neverIndexedAfterFirst(request_id_named_);
    if (name.size() == 11 && name == "traceparent") return neverIndexedAfterFirst(traceparent_named_);
    return NGHTTP2_NV_FLAG_NONE;
  }

 private:
  static uint8_t neverIndexedAfterFirst(bool& named) {
    if (named) return NGHTTP2_NV_FLAG_NO_INDEX;
    named = true;
    return NGHTTP2_NV_FLAG_NONE;
  }

  bool request_id_named_ = false;
  bool traceparent_named_ = false;
};

}  // namespace tether::http2
