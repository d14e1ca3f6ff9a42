// libFuzzer target: the gRPC field parsers on a client's header value (grpc-timeout, grpc-status, the content type)
// and the formatter on what the parser accepted: what tether writes upstream must parse again, never to more time.
#include <cstdlib>
#include <string_view>

#include "http/grpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether::http::grpc;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  (void)isGrpcContentType(value);
  (void)parseStatus(value);
  if (percentEncodeMessage(value).size() < value.size()) std::abort();
  const auto timeout = parseTimeout(value);
  if (!timeout) return 0;
  if (timeout->count() < 0) std::abort();
  const auto again = parseTimeout(formatTimeout(*timeout));
  if (!again || *again > *timeout) std::abort();
  return 0;
}
