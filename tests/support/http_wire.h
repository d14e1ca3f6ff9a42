#pragma once

// Minimal HTTP/1.1 wire helpers for the test peers. Deliberately independent of proxy/http so
// that the peers check the proxy's codec instead of sharing its bugs.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

bool equalsIgnoreCase(std::string_view a, std::string_view b);
// Value of the first header called `name` (case-insensitive).
std::optional<std::string> findHeader(const HeaderList& headers, std::string_view name);
// True if any `name` header lists `token` in its comma-separated value (case-insensitive).
bool headerHasToken(const HeaderList& headers, std::string_view name, std::string_view token);

// A message head: start line plus header fields.
struct ParsedHead {
  std::string start_line;
  HeaderList headers;
};

// Parses the bytes of a head up to, not including, the blank line ending it. Field lines need a
// colon and a name without whitespace; obsolete line folding is rejected. nullopt if malformed.
std::optional<ParsedHead> parseHead(std::string_view head);
// Parses a "name: value" field line; nullopt if malformed.
std::optional<std::pair<std::string, std::string>> parseFieldLine(std::string_view line);

enum class BodyFraming { kNone, kLength, kChunked, kUntilClose };

struct Framing {
  BodyFraming kind = BodyFraming::kNone;
  uint64_t length = 0;  // for kLength
};

// Body framing of a request (RFC 9112 6.3): chunked, Content-Length, or none. nullopt if the
// framing headers are invalid (bad or conflicting Content-Length, non-chunked final coding).
std::optional<Framing> requestFraming(const HeaderList& headers);
// Body framing of a response; `head_request` when it answers a HEAD (then it has no body).
std::optional<Framing> responseFraming(int status, const HeaderList& headers, bool head_request);

// Incremental body decoder. Body bytes beyond `keep_limit` are counted but not stored.
class BodyDecoder {
 public:
  enum class Status { kNeedMore, kDone, kError };

  explicit BodyDecoder(Framing framing, size_t keep_limit = std::numeric_limits<size_t>::max());

  // Consumes body bytes from the front of `in`, leaving any bytes after the body in place.
  Status consume(std::string& in);
  // The connection reached EOF: completes an until-close body, fails any other unfinished one.
  Status finishAtEof();

  bool done() const { return state_ == State::kDone; }
  const std::string& body() const { return body_; }
  std::string takeBody() { return std::move(body_); }
  uint64_t bodyBytes() const { return body_bytes_; }
  const std::string& trailersRaw() const { return trailers_raw_; }  // lines incl. CRLFs
  const HeaderList& trailers() const { return trailers_; }

 private:
  enum class State { kSizeLine, kData, kDataEnd, kTrailers, kDone, kError };

  size_t step(std::string_view in);  // consumes a prefix of `in`, returns how many bytes
  size_t consumeData(std::string_view in);
  size_t consumeSizeLine(std::string_view in);
  size_t consumeDataEnd(std::string_view in);
  size_t consumeTrailerLine(std::string_view in);
  void append(std::string_view data);

  Framing framing_;
  size_t keep_limit_;
  State state_ = State::kData;
  uint64_t remaining_ = 0;  // of the current chunk or Content-Length body
  std::string body_;
  uint64_t body_bytes_ = 0;
  std::string trailers_raw_;
  HeaderList trailers_;
};

// Canonical reason phrase ("OK", "Not Found", ...), "Status" when unknown.
const char* reasonPhrase(int status);

}  // namespace tether::testing
