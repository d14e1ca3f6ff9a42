#pragma once

#include <string>

namespace tether::http {

// Why a codec rejected its input. The downstream session answers HeaderTooLarge with 431, UnsupportedVersion with
// 505, NotImplemented with 501 and the others with 400; the upstream side turns any of them into 502.
enum class ParseErrorKind {
  None,
  Malformed,           // syntax the codec does not accept (bad characters, line endings, ...)
  HeaderTooLarge,      // head or trailer section beyond Limits::max_head_bytes
  Smuggling,           // ambiguous body framing: Content-Length/Transfer-Encoding conflicts or invalid values
  UnsupportedVersion,  // a well-formed HTTP version other than 1.x (HTTP/2.0 on an HTTP/1 connection, HTTP/3.0)
  NotImplemented,      // a method llhttp does not know, or a transfer coding other than chunked
};

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::None;
  std::string message;
};

}  // namespace tether::http
