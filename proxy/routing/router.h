#pragma once

// Picks the route for a request: the first route in config order whose host, path and method all match.
//
//   host:   case-insensitive; the request's ":port" (and one trailing dot) is ignored. "*.example.com" matches
//           "a.example.com" and "a.b.example.com" but not "example.com". An empty pattern matches any host.
//   path:   `path` is an exact match; `path_prefix` is a plain string prefix, as in an nginx prefix location:
//           "/api" matches "/api", "/api/x" and also "/apix". Use "/api/" to require the slash. Anything from
//           '?' on in the request path is ignored.
//   method: exact and case-sensitive (RFC 9110); an empty list matches any method.

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace tether::routing {

class Router {
 public:
  // Keeps pointers into cfg.routes: cfg must outlive the Router (both live in the same config snapshot).
  explicit Router(const config::Config& cfg);

  // nullptr if no route matches. Does not allocate: it runs for every request.
  const config::Route* match(std::string_view host, std::string_view path, std::string_view method) const;

 private:
  struct CompiledRoute {
    const config::Route* route = nullptr;
    std::string host;  // lower-case; for a wildcard, the suffix including its leading dot (".example.com")
    bool wildcard = false;
    bool prefix = false;
    std::string_view path;  // into route->match
  };

  static bool hostMatches(const CompiledRoute& route, std::string_view host);
  static bool pathMatches(const CompiledRoute& route, std::string_view path);
  static bool methodMatches(const CompiledRoute& route, std::string_view method);

  std::vector<CompiledRoute> routes_;
};

}  // namespace tether::routing
