#include "support/http_wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tether::testing {
namespace {

constexpr size_t kMaxLineLength = 8192;  // chunk-size and trailer lines

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> splitTokens(std::string_view value) {
  std::vector<std::string_view> tokens;
  while (true) {
    const auto comma = value.find(',');
    const auto token = trimWhitespace(value.substr(0, comma));
    if (!token.empty()) tokens.push_back(token);
    if (comma == std::string_view::npos) return tokens;
    value.remove_prefix(comma + 1);
  }
}

bool isTokenChar(char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return std::isalnum(static_cast<unsigned char>(c)) || kSymbols.find(c) != std::string_view::npos;
}

// Content-Length: every value (and list element) must be the same decimal number.
std::optional<std::optional<uint64_t>> contentLength(const HeaderList& headers) {
  std::optional<uint64_t> length;
  for (const auto& [name, value] : headers) {
    if (!equalsIgnoreCase(name, "Content-Length")) continue;
    const auto tokens = splitTokens(value);
    if (tokens.empty()) return std::nullopt;
    for (auto token : tokens) {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
      if (ec != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
      if (length && *length != n) return std::nullopt;
      length = n;
    }
  }
  return length;
}

// The last transfer coding across all Transfer-Encoding fields; "" when there are none.
std::string lastTransferCoding(const HeaderList& headers) {
  std::string last;
  for (const auto& [name, value] : headers) {
    if (!equalsIgnoreCase(name, "Transfer-Encoding")) continue;
    const auto tokens = splitTokens(value);
    last = tokens.empty() ? "?" : std::string(tokens.back());
  }
  return last;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string> findHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

bool headerHasToken(const HeaderList& headers, std::string_view name, std::string_view token) {
  for (const auto& [key, value] : headers) {
    if (!equalsIgnoreCase(key, name)) continue;
    for (auto t : splitTokens(value)) {
      if (equalsIgnoreCase(t, token)) return true;
    }
  }
  return false;
}

std::optional<std::pair<std::string, std::string>> parseFieldLine(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const auto name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), isTokenChar)) return std::nullopt;
  return std::make_pair(std::string(name), std::string(trimWhitespace(line.substr(colon + 1))));
}

std::optional<ParsedHead> parseHead(std::string_view head) {
  ParsedHead parsed;
  auto eol = head.find("\r\n");
  parsed.start_line = std::string(head.substr(0, eol));
  if (parsed.start_line.empty()) return std::nullopt;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const auto line = head.substr(0, eol);
    if (line.empty() || line.front() == ' ' || line.front() == '\t') return std::nullopt;
    auto field = parseFieldLine(line);
    if (!field) return std::nullopt;
    parsed.headers.push_back(std::move(*field));
  }
  return parsed;
}

std::optional<Framing> requestFraming(const HeaderList& headers) {
  const std::string coding = lastTransferCoding(headers);
  if (!coding.empty()) {
    if (!equalsIgnoreCase(coding, "chunked")) return std::nullopt;  // length unknowable
    return Framing{BodyFraming::kChunked, 0};
  }
  const auto length = contentLength(headers);
  if (!length) return std::nullopt;
  if (!*length) return Framing{BodyFraming::kNone, 0};
  return Framing{BodyFraming::kLength, **length};
}

std::optional<Framing> responseFraming(int status, const HeaderList& headers, bool head_request) {
  if (head_request || status / 100 == 1 || status == 204 || status == 304) return Framing{};
  const std::string coding = lastTransferCoding(headers);
  if (!coding.empty()) {
    if (equalsIgnoreCase(coding, "chunked")) return Framing{BodyFraming::kChunked, 0};
    return Framing{BodyFraming::kUntilClose, 0};
  }
  const auto length = contentLength(headers);
  if (!length) return std::nullopt;
  if (!*length) return Framing{BodyFraming::kUntilClose, 0};
  return Framing{BodyFraming::kLength, **length};
}

BodyDecoder::BodyDecoder(Framing framing, size_t keep_limit) : framing_(framing), keep_limit_(keep_limit) {
  switch (framing.kind) {
    case BodyFraming::kNone: state_ = State::kDone; break;
    case BodyFraming::kLength:
      remaining_ = framing.length;
      state_ = remaining_ == 0 ? State::kDone : State::kData;
      break;
    case BodyFraming::kChunked: state_ = State::kSizeLine; break;
    case BodyFraming::kUntilClose: state_ = State::kData; break;
  }
}

BodyDecoder::Status BodyDecoder::consume(std::string& in) {
  size_t pos = 0;
  while (state_ != State::kDone && state_ != State::kError && pos < in.size()) {
    const size_t used = step(std::string_view(in).substr(pos));
    if (used == 0) break;  // needs more bytes (or failed)
    pos += used;
  }
  in.erase(0, pos);
  if (state_ == State::kDone) return Status::kDone;
  return state_ == State::kError ? Status::kError : Status::kNeedMore;
}

BodyDecoder::Status BodyDecoder::finishAtEof() {
  if (framing_.kind == BodyFraming::kUntilClose && state_ == State::kData) state_ = State::kDone;
  return state_ == State::kDone ? Status::kDone : Status::kError;
}

size_t BodyDecoder::step(std::string_view in) {
  switch (state_) {
    case State::kData: return consumeData(in);
    case State::kSizeLine: return consumeSizeLine(in);
    case State::kDataEnd: return consumeDataEnd(in);
    case State::kTrailers: return consumeTrailerLine(in);
    default: return 0;
  }
}

void BodyDecoder::append(std::string_view data) {
  body_bytes_ += data.size();
  if (body_.size() < keep_limit_) body_.append(data.substr(0, keep_limit_ - body_.size()));
}

size_t BodyDecoder::consumeData(std::string_view in) {
  if (framing_.kind == BodyFraming::kUntilClose) {
    append(in);
    return in.size();
  }
  const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
  append(in.substr(0, take));
  remaining_ -= take;
  if (remaining_ == 0) state_ = framing_.kind == BodyFraming::kChunked ? State::kDataEnd : State::kDone;
  return take;
}

// "<hex size>[ ; extensions]\r\n"; extensions are ignored.
size_t BodyDecoder::consumeSizeLine(std::string_view in) {
  const auto eol = in.find("\r\n");
  if (eol == std::string_view::npos) {
    if (in.size() > kMaxLineLength) state_ = State::kError;
    return 0;
  }
  const auto line = in.substr(0, eol);
  uint64_t size = 0;
  auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
  const auto rest = trimWhitespace(line.substr(ptr - line.data()));
  if (ec != std::errc() || (!rest.empty() && rest.front() != ';')) {
    state_ = State::kError;
    return 0;
  }
  remaining_ = size;
  state_ = size == 0 ? State::kTrailers : State::kData;
  return eol + 2;
}

size_t BodyDecoder::consumeDataEnd(std::string_view in) {
  if (in.size() < 2) return 0;
  if (in.substr(0, 2) != "\r\n") {
    state_ = State::kError;
    return 0;
  }
  state_ = State::kSizeLine;
  return 2;
}

size_t BodyDecoder::consumeTrailerLine(std::string_view in) {
  const auto eol = in.find("\r\n");
  if (eol == std::string_view::npos) {
    if (in.size() > kMaxLineLength) state_ = State::kError;
    return 0;
  }
  const auto line = in.substr(0, eol);
  if (line.empty()) {
    state_ = State::kDone;
    return 2;
  }
  auto field = parseFieldLine(line);
  if (!field) {
    state_ = State::kError;
    return 0;
  }
  trailers_.push_back(std::move(*field));
  trailers_raw_.append(line).append("\r\n");
  return eol + 2;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

}  // namespace tether::testing
