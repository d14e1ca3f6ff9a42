#pragma once

// The authority a request names: its Host field or the authority of an absolute-form target (RFC 9110 7.2,
// RFC 3986 3.2.2). Syntax only: which authority wins is the forwarding rules' business (header_rules.h).

#include <string_view>

namespace tether::http {

// Host = uri-host [ ":" port ], with uri-host an IP-literal ("[...]"), an IPv4 address or a reg-name
// (unreserved, sub-delims, pct-encoded), and port at most 65535. Empty is valid (a request without authority).
// Rejects what routing and forwarding could read two ways: spaces, "/", "@" (userinfo), two ports, a bad port.
bool isValidHost(std::string_view value);

// "http://a.example:8080/x?q" -> "a.example:8080"; empty for origin-form and asterisk-form targets.
std::string_view targetAuthority(std::string_view target);

}  // namespace tether::http
