#pragma once

// Test helpers for Http1Codec: a callback recorder, feeding strategies, and a canonical text form of what was parsed
// (so that different ways of feeding the same bytes can be compared).

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1_codec.h"

namespace tether::http {

// Readable kinds in gtest messages.
inline void PrintTo(ParseErrorKind kind, std::ostream* os) {
  static constexpr const char* kNames[] = {"None",      "Malformed",          "HeaderTooLarge",
                                           "Smuggling", "UnsupportedVersion", "NotImplemented"};
  *os << kNames[static_cast<int>(kind)];
}

}  // namespace tether::http

namespace tether::http::testing {

struct RecordedMessage {
  MessageHead head;
  std::string body;
  HeaderList trailers;
  bool complete = false;
};

class CodecRecorder : public Http1CodecCallbacks {
 public:
  void onMessageBegin() override { ++begins; }
  HeadAction onHead(MessageHead& head) override;
  void onBody(const char* data, size_t len) override;
  void onTrailers(const HeaderList& trailers) override;
  bool onMessageComplete() override;

  std::vector<RecordedMessage> messages;
  int begins = 0;
  HeadAction head_action = HeadAction::Continue;
  bool pause_after_message = false;
  bool refuse_upgrade = false;  // onHead clears head.upgrade, as the exchange does for h2c
  // Fed buffer bounds; when set, onBody checks that body bytes point into it (zero copy).
  const char* buffer_begin = nullptr;
  const char* buffer_end = nullptr;
  bool body_outside_buffer = false;
};

// Feeds everything, resuming after each pause; stops at an error or an upgrade. Returns the bytes consumed.
size_t feedAll(Http1Codec& codec, std::string_view data);
// The same, `piece` bytes per feed() call.
size_t feedInPieces(Http1Codec& codec, std::string_view data, size_t piece);
// The same, split into two feed() calls at `split`.
size_t feedSplit(Http1Codec& codec, std::string_view data, size_t split);

// One line per message: start line, flags, fields, body and trailers.
std::string describe(const std::vector<RecordedMessage>& messages);

// Parses `data` with a fresh codec and returns the error kind (None if it parsed without error).
ParseErrorKind requestErrorKind(std::string_view data, size_t max_head_bytes = 64 * 1024);
ParseErrorKind responseErrorKind(std::string_view data);

}  // namespace tether::http::testing
