#include "http/authority.h"

#include <array>
#include <cstdint>

namespace tether::http {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// unreserved / sub-delims (RFC 3986 2.2, 2.3), one table lookup per character: every request's Host is checked.
constexpr std::array<bool, 256> makeRegNameChars() {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    table[static_cast<size_t>(c)] =
        alnum || std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
  }
  return table;
}

constexpr std::array<bool, 256> kRegNameChars = makeRegNameChars();

bool isRegName(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (kRegNameChars[static_cast<unsigned char>(s[i])]) continue;
    if (s[i] != '%' || i + 2 >= s.size() || !isHexDigit(s[i + 1]) || !isHexDigit(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

// "[" ( IPv6address / IPvFuture ) "]", checked for its characters (the address itself is the upstream's business).
bool isIpLiteral(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  const std::string_view inside = s.substr(1, s.size() - 2);
  if (inside.front() == 'v' || inside.front() == 'V') return isRegName(inside) && inside.find('%') == inside.npos;
  for (char c : inside) {
    if (!isHexDigit(c) && c != ':' && c != '.') return false;
  }
  return true;
}

// Empty (RFC 3986 allows "host:"), or 1 to 5 digits up to 65535.
bool isPort(std::string_view s) {
  if (s.empty()) return true;
  if (s.size() > 5) return false;
  uint32_t port = 0;  // at most 99999: no overflow
  for (char c : s) {
    if (!isDigit(c)) return false;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  return port <= 65535;
}

}  // namespace

bool isValidHost(std::string_view value) {
  if (value.empty()) return true;
  std::string_view host = value;
  std::string_view port;
  if (value.front() == '[') {
    const size_t close = value.find(']');
    if (close == value.npos) return false;
    host = value.substr(0, close + 1);
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
    return isIpLiteral(host) && isPort(port);
  }
  const size_t colon = value.find(':');  // a reg-name has no ':', so a second one is a second port
  if (colon != value.npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  return !host.empty() && isRegName(host) && isPort(port);
}

std::string_view targetAuthority(std::string_view target) {
  if (target.empty() || target.front() == '/') return {};  // origin-form, the common case: no scan
  const size_t scheme = target.find("://");
  if (scheme == target.npos) return {};
  const std::string_view rest = target.substr(scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

}  // namespace tether::http
