#pragma once

// Serializes message heads and chunked bodies into an evbuffer. The writer owns body framing: Content-Length and
// Transfer-Encoding fields in the head are never copied; the framing argument decides which one is written.
// Field names and values are written as they are: they come from the codec (validated) or from tether itself.

#include <event2/buffer.h>

#include <cstddef>

#include "http/body_framing.h"
#include "http/message_head.h"

namespace tether::http {

// "<method> <target> HTTP/1.1", fields, framing field, CRLF. Always HTTP/1.1 towards the upstream.
void writeRequestHead(evbuffer* out, const MessageHead& h, BodyFraming f);
// "HTTP/1.1 <status> <reason>" (the standard phrase when the head has none), fields, framing field, CRLF.
void writeResponseHead(evbuffer* out, const MessageHead& h, BodyFraming f);
// "<hex size>\r\n<data>\r\n"; nothing for an empty chunk (it would end the body).
void writeChunk(evbuffer* out, const char* data, size_t len);
// "0\r\n", the trailer fields, "\r\n".
void writeLastChunk(evbuffer* out, const HeaderList* trailers);

}  // namespace tether::http
