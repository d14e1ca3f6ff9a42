// Http1Codec's handlers of llhttp events: collecting the head and the checks llhttp does not make.

#include <algorithm>
#include <charconv>
#include <iterator>

#include "http/authority.h"
#include "http/header_chars.h"
#include "http/http1_codec.h"

namespace tether::http {
namespace {

using Action = Http1CodecCallbacks::HeadAction;

// Return values of on_headers_complete that llhttp understands.
constexpr int kProceed = 0;
constexpr int kSkipBody = 1;
constexpr int kUpgrade = 2;  // no body, then llhttp_execute returns HPE_PAUSED_UPGRADE

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isSchemeChar(char c) { return isAlpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; }

// Content-Length = 1*DIGIT, nothing else: no sign, no list, no hex (RFC 9110 8.6).
bool parseContentLength(std::string_view value, uint64_t& out) {
  if (value.empty()) return false;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  return ec == std::errc() && end == value.data() + value.size();
}

// RFC 9112 3.2: origin-form, absolute-form, or asterisk-form for OPTIONS (CONNECT's authority-form is rejected).
bool isValidTargetForm(std::string_view target, std::string_view method) {
  if (target.front() == '/') return true;
  if (target == "*") return method == "OPTIONS";
  if (!isAlpha(target.front())) return false;
  size_t scheme = 1;
  while (scheme < target.size() && isSchemeChar(target[scheme])) ++scheme;
  return target.substr(scheme).starts_with("://") && target.size() > scheme + 3;
}

// llhttp_should_keep_alive() without its body-until-EOF part, which the codec decides itself (it knows about HEAD).
bool persistentConnection(const llhttp_t& p) {
  if (p.http_major == 1 && p.http_minor == 1) return (p.flags & F_CONNECTION_CLOSE) == 0;
  return (p.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

bool supportedVersion(const llhttp_t& p) { return p.http_major == 1 && p.http_minor <= 1; }

}  // namespace

int Http1Codec::onMessageBegin() {
  sent_minor_ = '\0';
  head_.clear();
  trailers_.clear();
  framing_ = {};
  field_state_ = FieldState::Idle;
  in_message_ = true;
  upgrading_ = false;
  cb_->onMessageBegin();
  return 0;
}

int Http1Codec::onMethodComplete() {
  // llhttp accepts only the methods it knows, so the method is a token; two of them tether does not proxy.
  if (head_.method == "CONNECT") return fail(ParseErrorKind::Malformed, "CONNECT is not supported");
  if (head_.method == "PRI") return fail(ParseErrorKind::Malformed, "HTTP/2 connection preface on HTTP/1.1");
  if (!isToken(head_.method)) return fail(ParseErrorKind::Malformed, "invalid method");
  return 0;
}

int Http1Codec::onUrlComplete() {
  // llhttp lets HT (and, loosely, other bytes) into the target; the line check catches extra SPs.
  if (!isTargetText(head_.target)) return fail(ParseErrorKind::Malformed, "invalid character in request target");
  if (!isValidTargetForm(head_.target, head_.method)) return fail(ParseErrorKind::Malformed, "invalid request target");
  // The authority of an absolute-form target is what the request is routed and forwarded by (header_rules.h).
  if (!isValidHost(targetAuthority(head_.target))) return fail(ParseErrorKind::Malformed, "invalid request target");
  return 0;
}

int Http1Codec::onVersionComplete() {
  // llhttp accepts 0.9 and 2.0 as well: well-formed, not HTTP/1 (505).
  if (supportedVersion(parser_)) return 0;
  return fail(kind_ == Kind::Request ? ParseErrorKind::UnsupportedVersion : ParseErrorKind::Malformed,
              "unsupported HTTP version");
}

int Http1Codec::onStatusComplete() {
  // Loose llhttp lets CTLs into the reason phrase.
  return isFieldValue(head_.reason) ? 0 : fail(ParseErrorKind::Malformed, "invalid character in reason phrase");
}

// A field's name and value may each arrive in several spans (split across feed() calls): the states tell a new field
// from the continuation of the current one. An empty name produces no span, only the *_complete event.
int Http1Codec::onHeaderField(const char* at, size_t len) {
  if (field_state_ != FieldState::Name) {
    fieldOwner().addHeader();
    field_state_ = FieldState::Name;
  }
  fields().back().name.append(at, len);
  return 0;
}

int Http1Codec::onHeaderFieldComplete() {
  if (field_state_ != FieldState::Name) fieldOwner().addHeader();
  field_state_ = FieldState::Value;
  return 0;
}

int Http1Codec::onHeaderValue(const char* at, size_t len) {
  if (field_state_ != FieldState::Value) return fail(ParseErrorKind::Malformed, "header value without a name");
  fields().back().value.append(at, len);
  return 0;
}

int Http1Codec::onHeaderValueComplete() {
  if (field_state_ != FieldState::Value) return fail(ParseErrorKind::Malformed, "header value without a name");
  field_state_ = FieldState::Idle;
  Header& field = fields().back();
  // llhttp drops leading OWS but keeps trailing OWS, which is not part of the value (RFC 9110 5.5).
  while (!field.value.empty() && isOws(field.value.back())) field.value.pop_back();
  if (!field.name.empty() && isOws(field.name.back())) {
    return fail(ParseErrorKind::Malformed, "whitespace between header name and colon");
  }
  if (!isToken(field.name)) return fail(ParseErrorKind::Malformed, "invalid header name");
  if (!isFieldValue(field.value)) return fail(ParseErrorKind::Malformed, "invalid character in header value");
  return phase_ == Phase::Trailers ? 0 : noteFramingField(field);
}

int Http1Codec::noteFramingField(const Header& field) {
  const std::string_view name = field.name;
  if (equalsIgnoreCase(name, "content-length")) {
    // Repeated even with the same value: a proxy must not pick one reading of a list (RFC 9110 8.6 allows merging;
    // tether is stricter).
    if (++framing_.content_length_count > 1) return fail(ParseErrorKind::Smuggling, "repeated Content-Length");
    uint64_t length = 0;
    if (!parseContentLength(field.value, length)) return fail(ParseErrorKind::Smuggling, "invalid Content-Length");
    head_.content_length = length;
  } else if (equalsIgnoreCase(name, "transfer-encoding")) {
    return noteTransferEncoding(field.value);
  } else if (kind_ == Kind::Request && equalsIgnoreCase(name, "host")) {
    ++framing_.host_count;
    if (!isValidHost(field.value)) return fail(ParseErrorKind::Malformed, "invalid Host header");
  } else if (kind_ == Kind::Request && equalsIgnoreCase(name, "te")) {
    bool chunked = false;
    forEachListElement(field.value, [&](std::string_view coding) {
      chunked = chunked || equalsIgnoreCase(coding.substr(0, coding.find(';')), "chunked");
    });
    // RFC 9112 7.4: a client MUST NOT send "chunked" in TE (it is always acceptable).
    if (chunked) return fail(ParseErrorKind::Malformed, "chunked in TE");
  } else if (kind_ == Kind::Request && equalsIgnoreCase(name, "expect")) {
    if (equalsIgnoreCase(field.value, "100-continue")) head_.expect_continue = true;
  }
  return 0;
}

int Http1Codec::noteTransferEncoding(std::string_view value) {
  ++framing_.transfer_encoding_count;
  framing_.chunked_last = false;  // an empty value ends in no coding at all
  forEachListElement(value, [this](std::string_view coding) {
    const bool chunked = equalsIgnoreCase(coding, "chunked");
    if (chunked) ++framing_.chunked_count;
    if (!chunked) framing_.other_coding = true;
    framing_.chunked_last = chunked;
  });
  return 0;
}

int Http1Codec::onHeadersComplete() {
  if (phase_ != Phase::Head || !scanner_.done()) {
    return fail(ParseErrorKind::Malformed, "message head ended where its lines did not");
  }
  if (const int rc = checkStartLine()) return rc;
  if (const int rc = checkFraming()) return rc;
  fillHead();
  phase_ = Phase::Body;
  return headAction();
}

// The raw start line must equal the canonical line rebuilt from llhttp's pieces. This rejects what loose llhttp
// tolerates there: repeated SPs, a protocol other than "HTTP/" (llhttp also takes RTSP/ and ICE/), a missing version.
int Http1Codec::checkStartLine() {
  if (!supportedVersion(parser_)) return fail(ParseErrorKind::Malformed, "unsupported HTTP version");
  const std::string_view line = scanner_.startLine();
  const char version[] = {'H', 'T',
                          'T', 'P',
                          '/', static_cast<char>('0' + parser_.http_major),
                          '.', static_cast<char>('0' + parser_.http_minor)};
  std::string_view v(version, sizeof(version));
  char sent[sizeof(version)];
  if (sent_minor_ != '\0') {  // parsed as 1.1, sent as 1.<sent_minor_>
    std::copy(std::begin(version), std::end(version), sent);
    sent[sizeof(sent) - 1] = sent_minor_;
    v = std::string_view(sent, sizeof(sent));
  }
  if (kind_ == Kind::Request) {
    const size_t m = head_.method.size();
    const size_t t = head_.target.size();
    const bool canonical = line.size() == m + 1 + t + 1 + v.size() && line.substr(0, m) == head_.method &&
                           line[m] == ' ' && line.substr(m + 1, t) == head_.target && line[m + 1 + t] == ' ' &&
                           line.substr(m + t + 2) == v;
    return canonical ? 0 : fail(ParseErrorKind::Malformed, "malformed request line");
  }
  const int status = parser_.status_code;
  if (status < 100 || status > 599) return fail(ParseErrorKind::Malformed, "invalid status code");
  const char code[] = {' ', static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                       static_cast<char>('0' + status % 10)};
  const size_t prefix = v.size() + sizeof(code);
  const bool canonical = line.size() >= prefix && line.substr(0, v.size()) == v &&
                         line.substr(v.size(), sizeof(code)) == std::string_view(code, sizeof(code)) &&
                         (line.size() == prefix || (line[prefix] == ' ' && line.substr(prefix + 1) == head_.reason));
  if (!canonical) return fail(ParseErrorKind::Malformed, "malformed status line");
  return isFieldValue(head_.reason) ? 0 : fail(ParseErrorKind::Malformed, "invalid character in reason phrase");
}

int Http1Codec::checkFraming() {
  const Framing& f = framing_;
  if (kind_ == Kind::Request && parser_.http_minor == 1 && f.host_count == 0) {
    return fail(ParseErrorKind::Malformed, "missing Host header");
  }
  if (f.host_count > 1) return fail(ParseErrorKind::Malformed, "multiple Host headers");
  if (f.transfer_encoding_count > 0) {
    if (f.content_length_count > 0) return fail(ParseErrorKind::Smuggling, "both Content-Length and Transfer-Encoding");
    if (parser_.http_minor == 0) return fail(ParseErrorKind::Smuggling, "Transfer-Encoding in an HTTP/1.0 message");
    if (!f.chunked_last) return fail(ParseErrorKind::Smuggling, "final transfer coding is not chunked");
    if (f.chunked_count > 1) return fail(ParseErrorKind::Smuggling, "chunked applied more than once");
    // RFC 9112 6.1: a coding the server does not understand is 501 (as nginx answers).
    if (f.other_coding) {
      return fail(kind_ == Kind::Request ? ParseErrorKind::NotImplemented : ParseErrorKind::Malformed,
                  "unsupported transfer coding");
    }
  }
  // Defence in depth: llhttp's own reading of the framing headers must agree with ours.
  const bool llhttp_chunked = (parser_.flags & F_CHUNKED) != 0;
  const bool llhttp_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  if (llhttp_chunked != (f.transfer_encoding_count > 0) || llhttp_length != (f.content_length_count > 0)) {
    return fail(ParseErrorKind::Smuggling, "ambiguous message framing");
  }
  return 0;
}

void Http1Codec::fillHead() {
  head_.version_major = parser_.http_major;
  head_.version_minor = parser_.http_minor;
  head_.status = kind_ == Kind::Response ? parser_.status_code : 0;
  head_.chunked = framing_.transfer_encoding_count > 0;  // checkFraming(): then it is exactly "chunked"
  // A 101 switches protocols whatever its headers say (llhttp only flags it with Connection + Upgrade).
  head_.upgrade = parser_.upgrade != 0 || head_.status == 101;
  const int s = head_.status;
  const bool no_body = kind_ == Kind::Response && (s < 200 || s == 204 || s == 304 || head_request_);
  const bool until_eof = kind_ == Kind::Response && !no_body && !head_.chunked && !head_.content_length;
  head_.keep_alive = persistentConnection(parser_) && !until_eof;
  keep_alive_ = head_.keep_alive;
}

int Http1Codec::headAction() {
  // Decided before the callback: it may edit the head.
  const bool upgrade = head_.upgrade;
  const int s = head_.status;
  const bool no_body = kind_ == Kind::Response && (s < 200 || s == 204 || s == 304 || head_request_);
  const Action action = cb_->onHead(head_);
  // A 101 always switches protocols; a request's upgrade is refused by a callback that clears head.upgrade.
  if (action == Action::Upgrade || (kind_ == Kind::Request ? head_.upgrade : upgrade)) {
    upgrading_ = true;
    return kUpgrade;
  }
  // Refused: llhttp must read the body and the next request as HTTP/1.1, not stop for a tunnel.
  if (upgrade) parser_.upgrade = 0;
  // NoBody is honoured for responses only: skipping a request body would read it as the next request.
  if (no_body || (kind_ == Kind::Response && action == Action::NoBody)) return kSkipBody;
  return kProceed;
}

int Http1Codec::onBody(const char* at, size_t len) {
  cb_->onBody(at, len);
  return 0;
}

int Http1Codec::onChunkHeader() {
  if (parser_.content_length != 0) return 0;
  // The last chunk: trailer lines follow. Stop so that feed() turns the line checks back on at this exact byte.
  phase_ = Phase::Trailers;
  scanner_.reset(HeadScanner::Mode::Trailers);
  return HPE_PAUSED;
}

int Http1Codec::onChunkExtensionNameComplete() {
  const size_t length = chunk_extension_name_;
  chunk_extension_name_ = 0;
  return length > 0 ? 0 : fail(ParseErrorKind::Malformed, "empty chunk extension name");
}

int Http1Codec::onMessageComplete() {
  if (phase_ == Phase::Trailers && !scanner_.done()) {
    return fail(ParseErrorKind::Malformed, "trailer section ended where its lines did not");
  }
  // State first: the callbacks below may re-arm the codec (expectResponseTo) or ask inMessage().
  in_message_ = false;
  phase_ = Phase::Head;
  scanner_.reset(HeadScanner::Mode::Head);
  if (kind_ == Kind::Response && parser_.status_code >= 200) head_request_ = false;
  if (upgrading_) return 0;  // llhttp stops with HPE_PAUSED_UPGRADE: the message ended with its head
  closed_ = !keep_alive_;
  if (!trailers_.headers.empty()) cb_->onTrailers(trailers_.headers);
  in_complete_callback_ = true;
  resumed_in_callback_ = false;
  const bool pause = cb_->onMessageComplete();
  in_complete_callback_ = false;
  pause_requested_ = pause && !resumed_in_callback_;
  return HPE_PAUSED;  // always: feed() regains control at every message end to restart the head checks
}

}  // namespace tether::http
