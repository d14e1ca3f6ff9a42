#include "http/message_head.h"

#include "http/header_chars.h"

namespace tether::http {

void MessageHead::clear() {
  clearKeepingHeaders();
  truncateHeaders(0);
}

void MessageHead::clearKeepingHeaders() {
  method.clear();
  target.clear();
  status = 0;
  reason.clear();
  version_major = 1;
  version_minor = 1;
  keep_alive = true;
  chunked = false;
  content_length.reset();
  upgrade = false;
  expect_continue = false;
}

void MessageHead::truncateHeaders(size_t count) {
  // Moving a std::string moves its heap buffer: the spare list keeps the capacity for addHeader(). Pushed in
  // reverse, so the next message's field i reuses this message's field i: heads of one shape stop allocating.
  // Bounded: rewriting adds headers that were not parsed (X-Forwarded-*, X-Request-Id), so on a long keep-alive
  // connection an unbounded spare list would grow by a few headers per message.
  if (count >= headers.size()) return;
  for (size_t i = headers.size(); i > count && spare_.size() < kMaxSpareHeaders; --i) {
    Header& header = headers[i - 1];
    header.name.clear();
    header.value.clear();
    spare_.push_back(std::move(header));
  }
  headers.resize(count);
}

Header& MessageHead::addHeader() {
  if (spare_.empty()) return headers.emplace_back();
  headers.push_back(std::move(spare_.back()));
  spare_.pop_back();
  return headers.back();
}

Header& MessageHead::appendHeader(std::string_view name, std::string_view value) {
  if (!spare_.empty() && headers.size() < headers.capacity()) {
    // The list does not grow: views into its fields stay valid, so the spare is assigned in place (one move less).
    Header& header = headers.emplace_back(std::move(spare_.back()));
    spare_.pop_back();
    header.name.assign(name);
    header.value.assign(value);
    return header;
  }
  Header header;
  if (!spare_.empty()) {
    header = std::move(spare_.back());
    spare_.pop_back();
  }
  header.name.assign(name);
  header.value.assign(value);
  headers.push_back(std::move(header));
  return headers.back();
}

const std::string* MessageHead::find(std::string_view name) const {
  for (const Header& header : headers) {
    if (equalsIgnoreCase(header.name, name)) return &header.value;
  }
  return nullptr;
}

std::string_view MessageHead::path() const {
  std::string_view t = target;
  if (!t.empty() && t.front() != '/' && t != "*") {
    // absolute-form (RFC 9112 3.2.2): the path starts at the first '/' after "scheme://authority".
    const size_t authority = t.find("://");
    if (authority != std::string_view::npos) {
      const size_t slash = t.find_first_of("/?#", authority + 3);
      if (slash == std::string_view::npos || t[slash] != '/') return "/";
      t.remove_prefix(slash);
    }
  }
  return t.substr(0, t.find_first_of("?#"));
}

}  // namespace tether::http
