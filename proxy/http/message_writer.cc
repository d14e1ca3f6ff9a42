#include "http/message_writer.h"

#include <charconv>
#include <string_view>

#include "http/header_chars.h"
#include "http/reason_phrase.h"
#include "http/wire_buffer.h"

namespace tether::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// "Content-Length: <20 digits>\r\n" is the longest framing line.
constexpr size_t kMaxFramingLine = 18 + WireBuffer::kMaxNumberLength;

bool isFramingField(std::string_view name) {
  return (name.size() == 14 && equalsIgnoreCase(name, "content-length")) ||
         (name.size() == 17 && equalsIgnoreCase(name, "transfer-encoding"));
}

size_t fieldsSize(const HeaderList& fields) {
  size_t size = 0;
  for (const Header& field : fields) size += field.name.size() + field.value.size() + 4;
  return size;
}

void putFields(WireBuffer& out, const HeaderList& fields) {
  for (const Header& field : fields) {
    if (isFramingField(field.name)) continue;
    out.put(field.name);
    out.put(": ");
    out.put(field.value);
    out.put(kCrlf);
  }
}

void putFramingAndEnd(WireBuffer& out, const MessageHead& h, BodyFraming f) {
  if (f == BodyFraming::ContentLength) {
    out.put("Content-Length: ");
    out.putDecimal(h.content_length.value_or(0));
    out.put(kCrlf);
  } else if (f == BodyFraming::Chunked) {
    out.put("Transfer-Encoding: chunked\r\n");
  }
  out.put(kCrlf);
}

}  // namespace

void writeRequestHead(evbuffer* out, const MessageHead& h, BodyFraming f) {
  WireBuffer w(out, h.method.size() + h.target.size() + 11 + fieldsSize(h.headers) + kMaxFramingLine + 2);
  w.put(h.method);
  w.put(' ');
  w.put(h.target);
  w.put(" HTTP/1.1\r\n");
  putFields(w, h.headers);
  putFramingAndEnd(w, h, f);
}

void writeResponseHead(evbuffer* out, const MessageHead& h, BodyFraming f) {
  const std::string_view reason = h.reason.empty() ? reasonPhrase(h.status) : std::string_view(h.reason);
  WireBuffer w(out,
               10 + WireBuffer::kMaxNumberLength + reason.size() + 2 + fieldsSize(h.headers) + kMaxFramingLine + 2);
  w.put("HTTP/1.1 ");
  w.putDecimal(static_cast<uint64_t>(h.status < 0 ? 0 : h.status));
  w.put(' ');
  w.put(reason);
  w.put(kCrlf);
  putFields(w, h.headers);
  putFramingAndEnd(w, h, f);
}

void writeChunk(evbuffer* out, const char* data, size_t len) {
  if (len == 0) return;
  char line[WireBuffer::kMaxNumberLength + 2];
  char* end = std::to_chars(line, line + WireBuffer::kMaxNumberLength, len, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  evbuffer_add(out, line, static_cast<size_t>(end - line));
  evbuffer_add(out, data, len);
  evbuffer_add(out, kCrlf.data(), kCrlf.size());
}

void writeLastChunk(evbuffer* out, const HeaderList* trailers) {
  WireBuffer w(out, 3 + (trailers ? fieldsSize(*trailers) : 0) + 2);
  w.put("0\r\n");
  if (trailers) putFields(w, *trailers);
  w.put(kCrlf);
}

}  // namespace tether::http
