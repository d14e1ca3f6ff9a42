#include "http/header_rules.h"

#include <algorithm>
#include <string>
#include <vector>

#include "http/authority.h"
#include "http/header_chars.h"

namespace tether::http {
namespace {

bool named(const Header& header, std::string_view name) { return equalsIgnoreCase(header.name, name); }

// Blanks the names of the fields that Connection headers list. A blank name marks a field for removal (parsed fields
// never have one), which keeps the Connection values readable while their targets are being marked.
void markConnectionListed(HeaderList& headers, bool keep_upgrade) {
  for (const Header& connection : headers) {
    if (!named(connection, "connection")) continue;
    forEachListElement(connection.value, [&](std::string_view token) {
      if (equalsIgnoreCase(token, "connection") || equalsIgnoreCase(token, "host")) return;
      if (keep_upgrade && equalsIgnoreCase(token, "upgrade")) return;
      for (Header& header : headers) {
        if (equalsIgnoreCase(header.name, token)) header.name.clear();
      }
    });
  }
}

// Sets the first `name` field to `value` and drops the others; adds the field if there is none.
void setHeader(MessageHead& head, std::string_view name, std::string_view value) {
  HeaderList& headers = head.headers;
  bool seen = false;
  size_t out = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (named(headers[i], name)) {
      if (seen) continue;
      seen = true;
      headers[i].value.assign(value);
    }
    if (out != i) std::swap(headers[out], headers[i]);
    ++out;
  }
  headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(out), headers.end());
  if (!seen) head.appendHeader(name, value);  // copies `value` before the list grows
}

}  // namespace

bool isHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2: return equalsIgnoreCase(name, "te");
    case 7: return equalsIgnoreCase(name, "upgrade");
    case 10: return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 16: return equalsIgnoreCase(name, "proxy-connection");
    case 17: return equalsIgnoreCase(name, "transfer-encoding");
    default: return false;
  }
}

void removeHopByHop(HeaderList& headers, bool keep_upgrade) {
  markConnectionListed(headers, keep_upgrade);
  bool has_upgrade = false;
  for (const Header& header : headers) has_upgrade = has_upgrade || named(header, "upgrade");
  bool kept_connection = false;
  size_t out = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    Header& header = headers[i];
    bool keep = !header.name.empty() && !isHopByHop(header.name);
    if (keep_upgrade && has_upgrade && named(header, "upgrade")) keep = true;
    if (keep_upgrade && has_upgrade && !kept_connection && named(header, "connection")) {
      header.value.assign("upgrade");
      kept_connection = keep = true;
    }
    if (!keep) continue;
    if (out != i) std::swap(headers[out], header);
    ++out;
  }
  headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(out), headers.end());
  if (keep_upgrade && has_upgrade && !kept_connection) headers.push_back(Header{"Connection", "upgrade"});
}

bool acceptsTrailers(const HeaderList& headers) {
  bool found = false;
  for (const Header& header : headers) {
    if (!named(header, "te")) continue;
    forEachListElement(header.value, [&](std::string_view element) {
      // "trailers" takes no parameters; a t-codings element may ("gzip;q=0.5").
      found = found || equalsIgnoreCase(trimOws(element.substr(0, element.find(';'))), "trailers");
    });
  }
  return found;
}

namespace {

void applyForwardedFields(MessageHead& head, const ForwardingInfo& info) {
  HeaderList& headers = head.headers;
  // X-Forwarded-Host first: info.host may point into a field that the changes below move.
  if (!info.host.empty()) {
    setHeader(head, "X-Forwarded-Host", info.host);
  } else {
    std::erase_if(headers, [](const Header& header) { return named(header, "x-forwarded-host"); });
  }
  Header* forwarded_for = nullptr;
  for (Header& header : headers) {
    if (named(header, "x-forwarded-for")) forwarded_for = &header;  // the last one: its list ends the combined list
  }
  if (!forwarded_for) {
    head.appendHeader("X-Forwarded-For", info.client_ip);
  } else if (trimOws(forwarded_for->value).empty()) {
    forwarded_for->value.assign(info.client_ip);
  } else {
    forwarded_for->value.append(", ").append(info.client_ip);
  }
  setHeader(head, "X-Forwarded-Proto", info.proto);
}

}  // namespace

void applyRequestForwarding(MessageHead& head, const ForwardingInfo& info) {
  if (info.x_forwarded) applyForwardedFields(head, info);
  if (!info.request_id.empty()) setHeader(head, "X-Request-Id", info.request_id);
}

void toOriginForm(std::string& target) {
  if (target.empty() || target[0] == '/' || target == "*") return;
  const size_t scheme = target.find("://");
  if (scheme == std::string::npos) return;
  const size_t path = target.find('/', scheme + 3);
  if (path == std::string::npos) {
    const size_t query = target.find('?', scheme + 3);
    target = query == std::string::npos ? "/" : "/" + target.substr(query);
  } else {
    target.erase(0, path);
  }
}

void useTargetAuthority(MessageHead& head) {
  const std::string_view authority = targetAuthority(head.target);
  if (!authority.empty()) setHeader(head, "Host", authority);
}

bool removeUpgradeProtocol(HeaderList& headers, std::string_view protocol) {
  bool other = false;
  for (Header& header : headers) {
    if (!named(header, "upgrade")) continue;
    std::string kept;
    forEachListElement(header.value, [&](std::string_view element) {
      if (equalsIgnoreCase(element.substr(0, element.find('/')), protocol)) return;
      if (!kept.empty()) kept.append(", ");
      kept.append(element);
    });
    other = other || !kept.empty();
    header.value = std::move(kept);
  }
  std::erase_if(headers, [&](const Header& h) {
    return (named(h, "upgrade") && h.value.empty()) ||
           (equalsIgnoreCase(protocol, "h2c") && named(h, "http2-settings"));
  });
  return other;
}

bool upgradeWasRequested(std::string_view requested, const std::string* offered) {
  if (!offered) return false;  // RFC 9110 15.2.2: a 101 names the protocol it switches to
  bool all = true;
  size_t count = 0;
  forEachListElement(*offered, [&](std::string_view protocol) {
    ++count;
    bool found = false;
    forEachListElement(requested, [&](std::string_view asked) { found = found || equalsIgnoreCase(asked, protocol); });
    all = all && found;
  });
  return all && count > 0;
}

bool isForbiddenTrailer(std::string_view name) {
  // clang-format off
  static constexpr std::string_view kForbidden[] = {
      "host", "content-length", "content-type", "content-encoding", "content-range", "trailer", "authorization",
      "proxy-authorization", "cookie", "set-cookie", "expect", "max-forwards", "range", "cache-control",
      "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range", "forwarded",
      "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id"};
  // clang-format on
  if (isHopByHop(name)) return true;
  for (std::string_view forbidden : kForbidden) {
    if (equalsIgnoreCase(name, forbidden)) return true;
  }
  return false;
}

const HeaderList* forwardableTrailers(const HeaderList* trailers, HeaderList& out) {
  if (!trailers) return nullptr;
  if (std::none_of(trailers->begin(), trailers->end(), [](const Header& h) { return isForbiddenTrailer(h.name); })) {
    return trailers->empty() ? nullptr : trailers;
  }
  out.clear();
  for (const Header& h : *trailers) {
    if (!isForbiddenTrailer(h.name)) out.push_back(h);
  }
  return out.empty() ? nullptr : &out;
}

void setRequestId(MessageHead& head, std::string_view id) {
  bool found = false;
  std::erase_if(head.headers, [&](Header& header) {
    if (!named(header, "x-request-id")) return false;
    if (found) return true;  // a second one goes
    found = true;
    header.value.assign(id);
    return false;
  });
  if (!found) head.appendHeader("X-Request-Id", id);
}

}  // namespace tether::http
