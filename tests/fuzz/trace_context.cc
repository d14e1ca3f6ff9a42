// libFuzzer target: the W3C traceparent parser on a client's header value, and findTraceContext on fields cut from
// the same bytes. What it accepts has non-zero ids that, written back as hex, parse again to the same ids; a
// field list holding one valid traceparent gives its ids, and any other list gives none.
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/trace_context.h"

namespace {

using tether::http::TraceContext;

bool sameIds(const TraceContext& a, const TraceContext& b) {
  return a.trace_id == b.trace_id && a.parent_id == b.parent_id;
}

void checkAccepted(const TraceContext& context) {
  bool any_trace = false;
  for (uint8_t b : context.trace_id) any_trace |= b != 0;
  bool any_parent = false;
  for (uint8_t b : context.parent_id) any_parent |= b != 0;
  if (!any_trace || !any_parent) std::abort();
  char trace_id[32];
  char parent_id[16];
  context.writeTraceId(trace_id);
  context.writeParentId(parent_id);
  const std::string again =
      "00-" + std::string(trace_id, sizeof(trace_id)) + "-" + std::string(parent_id, sizeof(parent_id)) + "-01";
  const auto reparsed = tether::http::parseTraceparent(again);
  if (!reparsed || !sameIds(*reparsed, context)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto context = tether::http::parseTraceparent(value);
  if (context) checkAccepted(*context);

  // The same bytes as a request's fields: lines "name:value"; a traceparent field counts only if it is the one.
  tether::http::HeaderList fields;
  size_t traceparents = 0;
  const tether::http::Header* only = nullptr;
  for (size_t start = 0; start < value.size();) {
    const size_t end = std::min(value.find('\n', start), value.size());
    const std::string_view line = value.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      fields.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
    }
    start = end + 1;
  }
  for (const auto& field : fields) {
    if (field.name.size() == 11 && strncasecmp(field.name.c_str(), "traceparent", 11) == 0) {
      ++traceparents;
      only = &field;
    }
  }
  const auto found = tether::http::findTraceContext(fields);
  const auto expected = traceparents == 1 ? tether::http::parseTraceparent(only->value) : std::nullopt;
  if (found.has_value() != expected.has_value()) std::abort();
  if (found && !sameIds(*found, *expected)) std::abort();
  return 0;
}
