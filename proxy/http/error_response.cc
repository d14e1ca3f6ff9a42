#include "http/error_response.h"

#include <cstdint>

#include "http/header_chars.h"
#include "http/wire_buffer.h"

namespace tether::http {
namespace {

constexpr size_t kFixedHeadBytes = 160;  // everything in the head but the phrase and the id, with room to spare

// "Bad Gateway" -> "bad_gateway".
template <typename Sink>
void putErrorCode(Sink& out, std::string_view phrase) {
  for (char c : phrase) {
    if (c == ' ' || c == '-') {
      out.put('_');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.put(c);
    } else if (c >= 'A' && c <= 'Z') {
      out.put(toLowerAscii(c));
    }
  }
}

// JSON string contents. Bytes outside ASCII become U+FFFD: messages are ASCII, and the output stays valid JSON even
// if one is not.
template <typename Sink>
void putJsonText(Sink& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.put('\\');
      out.put(c);
    } else if (c == '\n') {
      out.put("\\n");
    } else if (c == '\r') {
      out.put("\\r");
    } else if (c == '\t') {
      out.put("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      out.put("\\u00");
      out.put(kHex[u >> 4]);
      out.put(kHex[u & 0xf]);
    } else if (u >= 0x80) {
      out.put("\\ufffd");
    } else {
      out.put(c);
    }
  }
}

template <typename Sink>
void putBody(Sink& out, int status, std::string_view phrase, std::string_view request_id, std::string_view message) {
  out.put("{\"error\":\"");
  putErrorCode(out, phrase);
  out.put("\",\"status\":");
  out.putDecimal(static_cast<uint64_t>(status));
  out.put(",\"message\":\"");
  putJsonText(out, message);
  out.put("\",\"request_id\":\"");
  putJsonText(out, request_id);
  out.put("\"}");
}

}  // namespace

void writeErrorResponse(evbuffer* out, int status, std::string_view request_id, std::string_view message, bool close) {
  if (status < 100 || status > 999) status = 500;
  std::string_view phrase = reasonPhrase(status);
  if (phrase.empty()) phrase = "Error";
  WireCounter body;
  putBody(body, status, phrase, request_id, message);
  // The id is echoed in a header only if it cannot break the head.
  const bool id_header =
      !request_id.empty() && isFieldValue(request_id) && !isOws(request_id.front()) && !isOws(request_id.back());

  WireBuffer w(out, kFixedHeadBytes + phrase.size() + request_id.size() + body.size());
  w.put("HTTP/1.1 ");
  w.putDecimal(static_cast<uint64_t>(status));
  w.put(' ');
  w.put(phrase);
  w.put("\r\nContent-Type: application/json\r\nContent-Length: ");
  w.putDecimal(body.size());
  w.put("\r\n");
  if (id_header) {
    w.put("X-Request-Id: ");
    w.put(request_id);
    w.put("\r\n");
  }
  if (close) w.put("Connection: close\r\n");
  w.put("\r\n");
  putBody(w, status, phrase, request_id, message);
}

}  // namespace tether::http
