#pragma once

// HTTP/1.1 message codec: bytes in, callbacks out, no I/O. llhttp parses; this class adds the strictness checks llhttp
// (built by Debian in loose mode) lacks, so that what tether forwards has exactly one reading:
//   - head lines end in CRLF (bare CR and LF-only endings rejected), no obs-fold, head size limit (HeadScanner);
//   - the raw start line must equal its canonical form rebuilt from llhttp's pieces (single SPs, "HTTP/" protocol);
//   - HTTP/1.0 and 1.1 (1.2 to 1.9 read as 1.1, other versions UnsupportedVersion); CONNECT and PRI rejected;
//     methods llhttp does not know are NotImplemented; request target without SP/CTL in origin, absolute or
//     asterisk form; Host and an absolute-form target's authority must be valid (isValidHost);
//   - field names are tokens, values contain no CTL but HT (trailing OWS is trimmed from stored values);
//   - framing: one plain-decimal Content-Length at most, never with Transfer-Encoding; Transfer-Encoding must be
//     exactly "chunked" (other codings before it are NotImplemented) and is not allowed in HTTP/1.0; requests need
//     exactly one Host in HTTP/1.1, at most one in 1.0; TE must not list "chunked" (RFC 9112 7.4);
//   - responses: status 100..599; 1xx, 204, 304 and responses to HEAD have no body; a 101 always upgrades;
//   - after a message without keep-alive, only empty lines may follow (loose llhttp would silently drop the rest).
// Chunk framing (sizes, extensions, the CRLF after data) is left to llhttp, which rejects errors there itself, but
// for an empty extension name (`5;=x`), which it lets through.
//
// feed() hands llhttp one section (head, body, trailers) at a time: an internal llhttp pause at every message end and
// at the last chunk lets the codec switch the line checks on and off at exact byte positions.

#include <llhttp.h>

#include <cstddef>
#include <string_view>

#include "http/head_scanner.h"
#include "http/http1_codec_callbacks.h"
#include "http/message_head.h"
#include "http/parse_error.h"

namespace tether::http {

class Http1Codec {
 public:
  enum class Kind { Request, Response };
  struct Limits {
    size_t max_head_bytes = 64 * 1024;  // also bounds the trailer section
  };
  enum class Status { Ok, Paused, Upgraded, Error };

  Http1Codec(Kind kind, Http1CodecCallbacks& cb, Limits limits);
  Http1Codec(const Http1Codec&) = delete;  // llhttp keeps a pointer to us
  Http1Codec& operator=(const Http1Codec&) = delete;

  // As good as new, for another connection (Http1CodecPool); the heads keep their recycled storage.
  void reset(Http1CodecCallbacks& cb, Limits limits);
  Kind kind() const { return kind_; }

  // Feeds bytes; returns how many were consumed. Stops consuming at a pause (after onMessageComplete returned true),
  // at an upgrade (after the head), or at an error. Unconsumed bytes belong to the next message / the tunnel.
  size_t feed(const char* data, size_t len);
  Status status() const { return status_; }
  const ParseError& error() const { return error_; }
  // After Paused. Called from inside onMessageComplete, it cancels the pause that callback is about to request.
  void resume();
  // Response codec only: the next response answers this request method (HEAD => no body) — call before feeding it.
  // Also resumes, like resume(): the caller is ready for the next response.
  void expectResponseTo(std::string_view method);
  // Response codec: the upstream closed the connection; completes a read-until-close body. Returns false if a
  // message was cut short (truncated body / partial head); the codec is then in Error.
  bool finishOnEof();
  bool inMessage() const { return in_message_; }  // a message has begun and not completed
  const MessageHead& head() const { return head_; }

 private:
  struct Hooks;
  friend struct Hooks;
  enum class Phase { Head, Body, Trailers };
  enum class FieldState { Idle, Name, Value };
  // Framing-relevant facts collected while a head's fields arrive.
  struct Framing {
    unsigned host_count = 0;
    unsigned content_length_count = 0;
    unsigned transfer_encoding_count = 0;
    unsigned chunked_count = 0;
    bool chunked_last = false;  // the last transfer coding seen is chunked
    bool other_coding = false;  // a transfer coding other than chunked
  };

  size_t step(const char* data, size_t len);
  size_t execute(const char* data, size_t len);
  int fail(ParseErrorKind kind, const char* message);
  void failFromLlhttp(llhttp_errno_t err);
  // `line` ends in " HTTP/<digit>.<digit>"; `minor` gets the minor digit of an HTTP/1.x version, else NUL.
  static bool endsInVersion(std::string_view line, char* minor);
  bool restartAsHttp11();
  void judgeUnknownMethod();
  size_t scanUnknownMethod(const char* data, size_t len);
  int onChunkExtensionNameComplete();
  HeaderList& fields();
  MessageHead& fieldOwner();

  // llhttp events, in message order.
  int onMessageBegin();
  int onMethodComplete();
  int onUrlComplete();
  int onVersionComplete();
  int onStatusComplete();
  int onHeaderField(const char* at, size_t len);
  int onHeaderFieldComplete();
  int onHeaderValue(const char* at, size_t len);
  int onHeaderValueComplete();
  int noteFramingField(const Header& field);
  int noteTransferEncoding(std::string_view value);
  int onHeadersComplete();
  int checkStartLine();
  int checkFraming();
  void fillHead();
  int headAction();
  int onBody(const char* at, size_t len);
  int onChunkHeader();
  int onMessageComplete();

  const Kind kind_;
  Http1CodecCallbacks* cb_;
  Limits limits_;
  llhttp_t parser_;
  HeadScanner scanner_;
  MessageHead head_;
  MessageHead trailers_;  // only `headers` is used: trailer fields reuse MessageHead's string recycling
  ParseError error_;
  Framing framing_;
  Status status_ = Status::Ok;
  Phase phase_ = Phase::Head;
  FieldState field_state_ = FieldState::Idle;
  bool in_message_ = false;
  bool head_request_ = false;  // the response being parsed answers a HEAD request
  bool upgrading_ = false;     // the current message ends in an upgrade after its head
  bool keep_alive_ = true;     // the current message's keep-alive, as the codec decided it (callbacks may edit head_)
  bool closed_ = false;        // a message without keep-alive completed: no other message may follow
  char sent_minor_ = '\0';     // the request said HTTP/1.<sent_minor_> (2..9) and is parsed as HTTP/1.1
  size_t chunk_extension_name_ = 0;  // bytes of the chunk extension name being parsed
  bool unknown_method_ = false;      // llhttp refused a token method: 501 or 400 once the start line shows which
  bool pause_requested_ = false;
  bool in_complete_callback_ = false;
  bool resumed_in_callback_ = false;
};

}  // namespace tether::http
