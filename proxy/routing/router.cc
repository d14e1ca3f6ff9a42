#include "routing/router.h"

#include <algorithm>

namespace tether::routing {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `pattern` is already lower-case.
bool equalsLower(std::string_view text, std::string_view pattern) {
  return text.size() == pattern.size() &&
         std::equal(text.begin(), text.end(), pattern.begin(), [](char a, char b) { return lower(a) == b; });
}

// The Host header value without its port: "example.com:8080" -> "example.com", "[::1]:80" -> "[::1]". A
// trailing dot (fully qualified form) is dropped too, so "example.com." matches "example.com".
std::string_view hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

}  // namespace

Router::Router(const config::Config& cfg) {
  routes_.reserve(cfg.routes.size());
  for (const config::Route& route : cfg.routes) {
    CompiledRoute& compiled = routes_.emplace_back();
    compiled.route = &route;
    compiled.wildcard = route.match.host.starts_with("*.");
    compiled.host = compiled.wildcard ? route.match.host.substr(1) : route.match.host;
    std::transform(compiled.host.begin(), compiled.host.end(), compiled.host.begin(), lower);
    if (!compiled.host.empty() && compiled.host.back() == '.') compiled.host.pop_back();
    compiled.prefix = route.match.path.empty();
    compiled.path = compiled.prefix ? std::string_view(route.match.path_prefix) : std::string_view(route.match.path);
  }
}

const config::Route* Router::match(std::string_view host, std::string_view path, std::string_view method) const {
  const std::string_view bare_host = hostWithoutPort(host);
  const std::string_view bare_path = path.substr(0, path.find('?'));
  for (const CompiledRoute& route : routes_) {
    if (hostMatches(route, bare_host) && pathMatches(route, bare_path) && methodMatches(route, method)) {
      return route.route;
    }
  }
  return nullptr;
}

bool Router::hostMatches(const CompiledRoute& route, std::string_view host) {
  if (route.host.empty()) return true;
  if (!route.wildcard) return equalsLower(host, route.host);
  // At least one character before the suffix: "*.example.com" does not match "example.com" itself.
  return host.size() > route.host.size() && equalsLower(host.substr(host.size() - route.host.size()), route.host);
}

bool Router::pathMatches(const CompiledRoute& route, std::string_view path) {
  return route.prefix ? path.starts_with(route.path) : path == route.path;
}

bool Router::methodMatches(const CompiledRoute& route, std::string_view method) {
  const auto& methods = route.route->match.methods;
  return methods.empty() || std::find(methods.begin(), methods.end(), method) != methods.end();
}

}  // namespace tether::routing
