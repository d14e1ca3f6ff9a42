#include "http/head_scanner.h"

#include <algorithm>

namespace tether::http {

void HeadScanner::reset(Mode mode) {
  mode_ = mode;
  done_ = false;
  pending_cr_ = false;
  line_length_ = 0;
  lines_ = 0;
  bytes_ = 0;
  start_line_.clear();
  error_kind_ = ParseErrorKind::None;
  error_message_ = "";
}

HeadScanner::Result HeadScanner::fail(ParseErrorKind kind, const char* message) {
  error_kind_ = kind;
  error_message_ = message;
  return Result::Error;
}

// A CRLF was just consumed.
HeadScanner::Result HeadScanner::endLine() {
  if (line_length_ > 0) {
    ++lines_;
    line_length_ = 0;
    return Result::NeedMore;
  }
  if (mode_ == Mode::Head && lines_ == 0) return Result::NeedMore;  // empty line before the start line
  done_ = true;
  return Result::Done;
}

// A run of bytes that are neither CR nor LF.
void HeadScanner::takeText(const char* data, size_t len) {
  if (mode_ == Mode::Head && lines_ == 0) start_line_.append(data, len);
  line_length_ += len;
}

HeadScanner::Result HeadScanner::scan(const char* data, size_t len, size_t limit, size_t& used) {
  used = 0;
  if (done_) return Result::Done;
  const size_t room = limit > bytes_ ? limit - bytes_ : 0;
  const size_t n = std::min(len, room);
  size_t i = 0;
  while (i < n) {
    const char c = data[i];
    if (pending_cr_) {
      if (c != '\n') return fail(ParseErrorKind::Malformed, "bare CR in message head");
      pending_cr_ = false;
      ++i;
      if (endLine() == Result::Done) break;
      continue;
    }
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
      continue;
    }
    if (c == '\n') return fail(ParseErrorKind::Malformed, "line ending without CR in message head");
    if (line_length_ == 0 && (c == ' ' || c == '\t') && (lines_ > 0 || mode_ == Mode::Trailers)) {
      return fail(ParseErrorKind::Malformed, "obsolete line folding in message head");
    }
    size_t end = i + 1;
    while (end < n && data[end] != '\r' && data[end] != '\n') ++end;
    takeText(data + i, end - i);
    i = end;
  }
  used = i;
  bytes_ += i;
  if (done_) return Result::Done;
  if (n < len) {
    return fail(ParseErrorKind::HeaderTooLarge,
                mode_ == Mode::Head ? "message head too large" : "trailer section too large");
  }
  return Result::NeedMore;
}

}  // namespace tether::http
