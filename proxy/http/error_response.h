#pragma once

// Responses tether generates itself (400, 404, 408, 413, 421, 431, 500, 502, 503, 504, ...).

#include <event2/buffer.h>

#include <string_view>

#include "http/reason_phrase.h"

namespace tether::http {

// "HTTP/1.1 <status> <phrase>", Content-Type: application/json, Content-Length, X-Request-Id (if the id is a valid
// field value), Connection: close (if close), and the body
//   {"error":"bad_gateway","status":502,"message":"...","request_id":"..."}
// where "error" is the reason phrase in snake_case and the strings are JSON-escaped.
void writeErrorResponse(evbuffer* out, int status, std::string_view request_id, std::string_view message, bool close);

}  // namespace tether::http
