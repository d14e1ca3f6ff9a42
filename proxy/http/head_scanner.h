#pragma once

// Line-level checks on a head or trailer section, run over the bytes before llhttp parses them.
//
// Debian builds llhttp 8.1 without LLHTTP_STRICT_MODE, and that loose mode accepts an LF-only end of the start line
// and of the final empty line, a bare CR inside a reason phrase, and obs-fold continuation lines. This scanner only
// looks at line structure, never at fields (llhttp does the parsing):
//   - every line ends in CRLF: a bare CR or an LF without CR is rejected anywhere in the section;
//   - a line starting with SP/HT after the start line is obs-fold: rejected;
//   - empty lines before a start line are skipped (RFC 9112 2.2), and count against the limit;
//   - it finds the exact end of the section, so the codec hands llhttp one section at a time, and counts the
//     section's bytes against the limit without buffering anything but the start line.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/parse_error.h"

namespace tether::http {

class HeadScanner {
 public:
  enum class Mode { Head, Trailers };
  enum class Result { NeedMore, Done, Error };

  void reset(Mode mode);
  // Scans from `data`; stops right after the CRLF of the section's final empty line. `used` receives the number of
  // bytes accepted. Error when the line structure is invalid or the section would exceed `limit` bytes.
  Result scan(const char* data, size_t len, size_t limit, size_t& used);

  bool done() const { return done_; }
  // The head's start line without its CRLF, complete once the scanner has passed it.
  std::string_view startLine() const { return start_line_; }
  // The start line's CRLF has been scanned (Head mode).
  bool startLineComplete() const { return lines_ > 0 || done_; }
  ParseErrorKind errorKind() const { return error_kind_; }
  const char* errorMessage() const { return error_message_; }

 private:
  Result fail(ParseErrorKind kind, const char* message);
  Result endLine();
  void takeText(const char* data, size_t len);

  Mode mode_ = Mode::Head;
  bool done_ = false;
  bool pending_cr_ = false;  // the last byte was a CR: the next must be LF
  size_t line_length_ = 0;   // bytes of the current line before its CR
  size_t lines_ = 0;         // non-empty lines completed in this section
  size_t bytes_ = 0;         // bytes of this section so far
  std::string start_line_;
  ParseErrorKind error_kind_ = ParseErrorKind::None;
  const char* error_message_ = "";
};

}  // namespace tether::http
