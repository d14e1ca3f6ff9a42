#include "http/head_scanner.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tether::http {
namespace {

// Index of the first CR or LF in data[from, n), or n. Lines are tens of bytes: 16 bytes at a time where SSE2 is
// available (always on x86-64), otherwise memchr for the CR, then for an LF before it.
size_t findCrOrLf(const char* data, size_t from, size_t n) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (n - from >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + from));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (mask != 0) return from + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    from += 16;
  }
  while (from < n && data[from] != '\r' && data[from] != '\n') ++from;
  return from;
#else
  const char* start = data + from;
  const char* cr = static_cast<const char*>(std::memchr(start, '\r', n - from));
  const char* stop = cr != nullptr ? cr : data + n;
  const char* lf = static_cast<const char*>(std::memchr(start, '\n', static_cast<size_t>(stop - start)));
  return static_cast<size_t>((lf != nullptr ? lf : stop) - data);
#endif
}

}  // namespace

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
    const size_t end = findCrOrLf(data, i + 1, n);
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
