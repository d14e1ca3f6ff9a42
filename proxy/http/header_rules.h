#pragma once

// What a proxy changes in the fields it forwards: hop-by-hop removal (RFC 9110 7.6.1) and forwarding headers.

#include <string_view>

#include "http/message_head.h"

namespace tether::http {

// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade (case-insensitive). Trailer is kept: tether
// forwards trailers.
bool isHopByHop(std::string_view name);

// Removes the hop-by-hop fields above plus every field a Connection header names (except Host, which the request
// cannot do without). With keep_upgrade (an upgrade being forwarded), Upgrade stays and the first Connection header
// becomes "Connection: upgrade" if an Upgrade header is present.
void removeHopByHop(HeaderList& headers, bool keep_upgrade);

// A TE field lists "trailers" (RFC 9110 10.1.4): the client accepts trailer fields. HTTP/2 forwards this one TE.
bool acceptsTrailers(const HeaderList& headers);

struct ForwardingInfo {
  std::string_view client_ip;
  std::string_view proto;       // "http"
  std::string_view host;        // may point into the headers being changed
  std::string_view request_id;  // empty: X-Request-Id is left as the client sent it
  bool x_forwarded = true;      // false: the X-Forwarded-* fields are left as the client sent them
};

// With x_forwarded, appends client_ip to the last X-Forwarded-For (or adds one) and sets X-Forwarded-Proto and
// X-Forwarded-Host (removed when host is empty); sets X-Request-Id when request_id is not empty. A field it sets
// replaces any the client sent (route `forwarding:`, docs/http.md).
// Fields are added through head.appendHeader(), reusing the buffers of an earlier message's fields.
void applyRequestForwarding(MessageHead& head, const ForwardingInfo& info);

// Upstreams expect origin-form ("/path?q"): an absolute-form target ("http://host/path?q") is rewritten.
void toOriginForm(std::string& target);

// RFC 9112 3.2.2: the authority of an absolute-form target replaces the Host field (routing and forwarding use it).
void useTargetAuthority(MessageHead& head);

// Removes `protocol` (a protocol name such as "h2c", any version) from the Upgrade fields, and HTTP2-Settings
// along with h2c. Returns whether another protocol is still asked for.
bool removeUpgradeProtocol(HeaderList& headers, std::string_view protocol);

// A 101's Upgrade field (`offered`, null if absent) names only protocols the request's Upgrade (`requested`) listed:
// tether tunnels nothing the client did not ask for.
bool upgradeWasRequested(std::string_view requested, const std::string* offered);

// Trailer fields that must not be forwarded (RFC 9110 6.5.1): framing, routing (Host), authentication, hop-by-hop
// and forwarding fields, which a recipient merging trailers into the head would misread.
bool isForbiddenTrailer(std::string_view name);
// `trailers` without the forbidden fields (copied into `out` only if one is present); null when none are left.
const HeaderList* forwardableTrailers(const HeaderList* trailers, HeaderList& out);

// The response carries exactly one X-Request-Id, with this id (the client learns it whether the upstream echoed it
// or not).
void setRequestId(MessageHead& head, std::string_view id);

}  // namespace tether::http
