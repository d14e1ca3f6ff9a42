#pragma once

#include <string>

namespace tether::http {

// Why a codec rejected its input. The downstream session answers HeaderTooLarge with 431 and the others with 400;
// the upstream side turns any of them into 502.
enum class ParseErrorKind {
  None,
  Malformed,       // syntax the codec does not accept (bad characters, line endings, versions, ...)
  HeaderTooLarge,  // head or trailer section beyond Limits::max_head_bytes
  Smuggling,       // ambiguous body framing: Content-Length/Transfer-Encoding conflicts or invalid values
};

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::None;
  std::string message;
};

}  // namespace tether::http
