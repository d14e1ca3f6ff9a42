#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/), as a proxy that joins no trace sees it: tether forwards
// `traceparent` and `tracestate` unchanged (they are ordinary end-to-end fields) and only reads the ids of a valid
// `traceparent`, so its request events can be found next to the application's own trace. Kept as 24 binary bytes:
// the exchange holding them is size-bound (exchange.cc).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/message_head.h"

namespace tether::http {

struct TraceContext {
  std::array<uint8_t, 16> trace_id;  // never all zero
  std::array<uint8_t, 8> parent_id;  // the caller's span id; never all zero

  // Lowercase hex, as on the wire; no terminating NUL.
  void writeTraceId(char out[32]) const;
  void writeParentId(char out[16]) const;
};

// One `traceparent` value, W3C Trace Context Level 1, section 3.2 and its versioning rules (4.3). Version 00 is
// exactly "00-<32 hex>-<16 hex>-<2 hex>" (55 characters); a higher version has at least those four fields, and
// anything after them must start with '-'; version ff is invalid. Hex is lowercase only, the trace id and the
// parent id are not all zeros, and optional whitespace (space, tab) around the value is ignored. nullopt: invalid.
std::optional<TraceContext> parseTraceparent(std::string_view value);

// The request's trace context: its one `traceparent` field (name case-insensitive), parsed. nullopt when it has
// none, more than one (the spec's "duplicated" case: the caller's trace is ambiguous), or an invalid one. One scan of
// the fields; a value is parsed only when the field is there.
std::optional<TraceContext> findTraceContext(const HeaderList& fields);

}  // namespace tether::http
