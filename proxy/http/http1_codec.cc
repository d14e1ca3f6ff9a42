#include "http/http1_codec.h"

#include <string>

#include "http/header_chars.h"

namespace tether::http {
namespace {

ParseErrorKind kindOf(llhttp_errno_t err) {
  switch (err) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_INVALID_TRANSFER_ENCODING: return ParseErrorKind::Smuggling;
    default: return ParseErrorKind::Malformed;
  }
}

}  // namespace

// Static trampolines from llhttp's C callbacks to the codec.
struct Http1Codec::Hooks {
  static Http1Codec& self(llhttp_t* p) { return *static_cast<Http1Codec*>(p->data); }

  static int messageBegin(llhttp_t* p) { return self(p).onMessageBegin(); }
  static int method(llhttp_t* p, const char* at, size_t len) {
    self(p).head_.method.append(at, len);
    return 0;
  }
  static int methodComplete(llhttp_t* p) { return self(p).onMethodComplete(); }
  static int url(llhttp_t* p, const char* at, size_t len) {
    self(p).head_.target.append(at, len);
    return 0;
  }
  static int urlComplete(llhttp_t* p) { return self(p).onUrlComplete(); }
  static int status(llhttp_t* p, const char* at, size_t len) {
    self(p).head_.reason.append(at, len);
    return 0;
  }
  static int statusComplete(llhttp_t* p) { return self(p).onStatusComplete(); }
  static int versionComplete(llhttp_t* p) { return self(p).onVersionComplete(); }
  static int headerField(llhttp_t* p, const char* at, size_t len) { return self(p).onHeaderField(at, len); }
  static int headerFieldComplete(llhttp_t* p) { return self(p).onHeaderFieldComplete(); }
  static int headerValue(llhttp_t* p, const char* at, size_t len) { return self(p).onHeaderValue(at, len); }
  static int headerValueComplete(llhttp_t* p) { return self(p).onHeaderValueComplete(); }
  static int headersComplete(llhttp_t* p) { return self(p).onHeadersComplete(); }
  static int body(llhttp_t* p, const char* at, size_t len) { return self(p).onBody(at, len); }
  static int chunkHeader(llhttp_t* p) { return self(p).onChunkHeader(); }
  static int chunkExtensionName(llhttp_t* p, const char*, size_t len) {
    self(p).chunk_extension_name_ += len;
    return 0;
  }
  static int chunkExtensionNameComplete(llhttp_t* p) { return self(p).onChunkExtensionNameComplete(); }
  static int messageComplete(llhttp_t* p) { return self(p).onMessageComplete(); }

  static const llhttp_settings_t kSettings;
};

// Every member spelled out, in declaration order (GCC warns about omitted ones even with designators).
const llhttp_settings_t Http1Codec::Hooks::kSettings = {
    .on_message_begin = &Hooks::messageBegin,
    .on_url = &Hooks::url,
    .on_status = &Hooks::status,
    .on_method = &Hooks::method,
    .on_version = nullptr,  // http_major/http_minor are enough
    .on_header_field = &Hooks::headerField,
    .on_header_value = &Hooks::headerValue,
    .on_chunk_extension_name = &Hooks::chunkExtensionName,  // chunk extensions are dropped: llhttp validates
    .on_chunk_extension_value = nullptr,                    // them, but for an empty name (`5;=x`)
    .on_headers_complete = &Hooks::headersComplete,
    .on_body = &Hooks::body,
    .on_message_complete = &Hooks::messageComplete,
    .on_url_complete = &Hooks::urlComplete,
    .on_status_complete = &Hooks::statusComplete,
    .on_method_complete = &Hooks::methodComplete,
    .on_version_complete = &Hooks::versionComplete,
    .on_header_field_complete = &Hooks::headerFieldComplete,
    .on_header_value_complete = &Hooks::headerValueComplete,
    .on_chunk_extension_name_complete = &Hooks::chunkExtensionNameComplete,
    .on_chunk_extension_value_complete = nullptr,
    .on_chunk_header = &Hooks::chunkHeader,
    .on_chunk_complete = nullptr,
    .on_reset = nullptr,
};

Http1Codec::Http1Codec(Kind kind, Http1CodecCallbacks& cb, Limits limits) : kind_(kind), cb_(&cb), limits_(limits) {
  // No llhttp_set_lenient_* call: every lenient flag stays off.
  llhttp_init(&parser_, kind == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE, &Hooks::kSettings);
  parser_.data = this;
  scanner_.reset(HeadScanner::Mode::Head);
}

void Http1Codec::reset(Http1CodecCallbacks& cb, Limits limits) {
  cb_ = &cb;
  limits_ = limits;
  llhttp_init(&parser_, kind_ == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE, &Hooks::kSettings);
  parser_.data = this;
  scanner_.reset(HeadScanner::Mode::Head);
  error_ = ParseError{};
  framing_ = Framing{};
  status_ = Status::Ok;
  phase_ = Phase::Head;
  field_state_ = FieldState::Idle;
  in_message_ = false;
  head_request_ = false;
  upgrading_ = false;
  keep_alive_ = true;
  closed_ = false;
  sent_minor_ = '\0';
  chunk_extension_name_ = 0;
  unknown_method_ = false;
  pause_requested_ = false;
  in_complete_callback_ = false;
  resumed_in_callback_ = false;
}

size_t Http1Codec::feed(const char* data, size_t len) {
  size_t used = 0;
  while (used < len && status_ == Status::Ok) {
    const size_t n = step(data + used, len - used);
    if (n == 0 && status_ == Status::Ok) fail(ParseErrorKind::Malformed, "parser made no progress");
    used += n;
  }
  return used;
}

// One section at a time: head and trailer bytes pass the line checks first and llhttp gets exactly the bytes up to
// the section end; body bytes go straight to llhttp, which pauses at the last chunk and at the message end.
size_t Http1Codec::step(const char* data, size_t len) {
  if (phase_ == Phase::Body) return execute(data, len);
  if (unknown_method_) return scanUnknownMethod(data, len);
  size_t scanned = 0;
  if (scanner_.scan(data, len, limits_.max_head_bytes, scanned) == HeadScanner::Result::Error) {
    fail(scanner_.errorKind(), scanner_.errorMessage());
    return 0;
  }
  if (closed_ && !scanner_.startLine().empty()) {
    fail(ParseErrorKind::Malformed, "data after the last message of a closing connection");
    return 0;
  }
  const size_t used = execute(data, scanned);
  // A complete section must have moved llhttp on: its idea of where the section ends must match the scanner's.
  if (status_ == Status::Ok && phase_ != Phase::Body && scanner_.done()) {
    fail(ParseErrorKind::Malformed, "message head ended where the parser did not expect it");
  }
  return used;
}

size_t Http1Codec::execute(const char* data, size_t len) {
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (err == HPE_OK) return len;
  const char* pos = llhttp_get_error_pos(&parser_);
  const size_t used = pos && pos >= data && pos <= data + len ? static_cast<size_t>(pos - data) : 0;
  if (err == HPE_INVALID_VERSION && restartAsHttp11()) {
    // llhttp stopped right after the minor digit: go on from there with the restarted parser.
    return used + (used < len ? execute(data + used, len - used) : 0);
  }
  if (err == HPE_PAUSED) {
    llhttp_resume(&parser_);  // the codec's own stop at a section end; the caller sees a pause only if asked
    if (pause_requested_) {
      pause_requested_ = false;
      status_ = Status::Paused;
    }
  } else if (err == HPE_PAUSED_UPGRADE) {
    status_ = Status::Upgraded;
  } else {
    failFromLlhttp(err);
    if (unknown_method_ && status_ == Status::Ok) return len;  // scanned into the start line: judged later
  }
  return used;
}

int Http1Codec::fail(ParseErrorKind kind, const char* message) {
  if (error_.kind == ParseErrorKind::None) {  // the first error is the cause; later ones are consequences
    error_.kind = kind;
    error_.message = message;
  }
  status_ = Status::Error;
  return HPE_USER;
}

void Http1Codec::failFromLlhttp(llhttp_errno_t err) {
  const std::string_view line = scanner_.startLine();
  if (kind_ == Kind::Request && err == HPE_INVALID_METHOD && isToken(line.substr(0, line.find(' ')))) {
    // A method is a token (RFC 9110 9.1) and llhttp knows a fixed list of them: an unknown one is 501 if a request
    // line follows it ("HELLO\r\n" is 400), which judgeUnknownMethod() decides once the line is in.
    unknown_method_ = true;
    judgeUnknownMethod();
    return;
  }
  if (err == HPE_INVALID_VERSION && endsInVersion(line, nullptr)) {
    fail(ParseErrorKind::UnsupportedVersion, "unsupported HTTP version");
    return;
  }
  const char* reason = llhttp_get_error_reason(&parser_);
  fail(kindOf(err), reason && *reason ? reason : llhttp_errno_name(err));
}

void Http1Codec::judgeUnknownMethod() {
  const std::string_view line = scanner_.startLine();
  const size_t space = line.find(' ');
  if (!isToken(line.substr(0, space))) {
    fail(ParseErrorKind::Malformed, "invalid method");
  } else if (space != std::string_view::npos) {
    fail(ParseErrorKind::NotImplemented, "method not implemented");
  } else if (scanner_.startLineComplete()) {
    fail(ParseErrorKind::Malformed, "malformed request line");
  }
}

// After an unknown method, llhttp is out of the game: the scanner takes the bytes until the method's end is known.
size_t Http1Codec::scanUnknownMethod(const char* data, size_t len) {
  size_t scanned = 0;
  if (scanner_.scan(data, len, limits_.max_head_bytes, scanned) == HeadScanner::Result::Error) {
    fail(scanner_.errorKind(), scanner_.errorMessage());
    return 0;
  }
  judgeUnknownMethod();
  return scanned;
}

bool Http1Codec::endsInVersion(std::string_view line, char* minor) {
  constexpr std::string_view kPrefix = " HTTP/";
  if (line.size() < kPrefix.size() + 3) return false;
  const std::string_view v = line.substr(line.size() - 3);
  const bool digits = v[0] >= '0' && v[0] <= '9' && v[1] == '.' && v[2] >= '0' && v[2] <= '9';
  if (!digits || line.substr(line.size() - 3 - kPrefix.size(), kPrefix.size()) != kPrefix) return false;
  if (minor) *minor = v[0] == '1' ? v[2] : '\0';
  return true;
}

// llhttp 8.1 rejects HTTP/1.2 to 1.9, and has no lenient flag for it; RFC 9110 2.5 says to read a higher minor
// version as the highest one implemented. llhttp is restarted on the same start line saying HTTP/1.1 (its method
// and target spans are collected again), and checkStartLine() compares the raw line with the minor sent.
bool Http1Codec::restartAsHttp11() {
  char minor = '\0';
  if (kind_ != Kind::Request || sent_minor_ != '\0' || !endsInVersion(scanner_.startLine(), &minor)) return false;
  if (minor < '2') return false;
  std::string line(scanner_.startLine());
  line.back() = '1';
  llhttp_init(&parser_, HTTP_REQUEST, &Hooks::kSettings);
  parser_.data = this;
  if (llhttp_execute(&parser_, line.data(), line.size()) != HPE_OK || status_ != Status::Ok) return false;
  sent_minor_ = minor;
  return true;
}

void Http1Codec::resume() {
  if (in_complete_callback_) resumed_in_callback_ = true;
  if (status_ == Status::Paused) status_ = Status::Ok;
}

void Http1Codec::expectResponseTo(std::string_view method) {
  head_request_ = method == "HEAD";
  resume();
}

bool Http1Codec::finishOnEof() {
  if (status_ == Status::Error) return false;
  if (status_ == Status::Upgraded || !in_message_) return true;
  if (phase_ == Phase::Body) {
    llhttp_finish(&parser_);  // calls on_message_complete for a read-until-close body, nothing otherwise
    if (!in_message_) {
      if (pause_requested_) {
        pause_requested_ = false;
        status_ = Status::Paused;
      }
      return true;
    }
  }
  fail(ParseErrorKind::Malformed, "connection closed before the message was complete");
  return false;
}

HeaderList& Http1Codec::fields() { return fieldOwner().headers; }

MessageHead& Http1Codec::fieldOwner() { return phase_ == Phase::Trailers ? trailers_ : head_; }

}  // namespace tether::http
