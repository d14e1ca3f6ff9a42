#pragma once

#include <cstdint>

namespace tether::http {

// How a serialized message delimits its body.
enum class BodyFraming : uint8_t {  // uint8_t: kept in size-bound objects (Exchange)
  None,                             // no body (and no framing header)
  ContentLength,  // "Content-Length: <head.content_length>" (0 if unset); also for bodiless HEAD/304 answers
  Chunked,        // "Transfer-Encoding: chunked"; the body goes through writeChunk()/writeLastChunk()
  UntilClose,     // no framing header: the body ends when the connection closes
};

}  // namespace tether::http
