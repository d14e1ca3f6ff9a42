#include "routing/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tether::routing {
namespace {

config::Route makeRoute(std::string name, std::string host, std::string prefix, std::string path = "",
                        std::vector<std::string> methods = {}) {
  config::Route route;
  route.name = std::move(name);
  route.match.host = std::move(host);
  route.match.path_prefix = std::move(prefix);
  route.match.path = std::move(path);
  route.match.methods = std::move(methods);
  return route;
}

// The matched route's name, or "" when nothing matches.
std::string matchName(const Router& router, std::string_view host, std::string_view path,
                      std::string_view method = "GET") {
  const config::Route* route = router.match(host, path, method);
  return route == nullptr ? "" : route->name;
}

TEST(Router, FirstMatchingRouteInConfigOrderWins) {
  config::Config cfg;
  cfg.routes = {makeRoute("api", "", "/api"), makeRoute("all", "", "/"), makeRoute("never", "", "/api/x")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/api/x"), "api");
  EXPECT_EQ(matchName(router, "h", "/other"), "all");
  EXPECT_EQ(router.match("h", "/", "GET"), &cfg.routes[1]);
}

TEST(Router, NoMatchReturnsNull) {
  config::Config cfg;
  cfg.routes = {makeRoute("api", "example.com", "/api")};
  const Router router(cfg);
  EXPECT_EQ(router.match("example.com", "/web", "GET"), nullptr);
  EXPECT_EQ(router.match("other.com", "/api", "GET"), nullptr);
  EXPECT_EQ(router.match("", "/api", "GET"), nullptr);
  EXPECT_EQ(Router(config::Config{}).match("example.com", "/", "GET"), nullptr);
}

TEST(Router, ExactHostIsCaseInsensitiveAndIgnoresPort) {
  config::Config cfg;
  cfg.routes = {makeRoute("ex", "Example.COM", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "example.com", "/"), "ex");
  EXPECT_EQ(matchName(router, "EXAMPLE.com", "/"), "ex");
  EXPECT_EQ(matchName(router, "example.com:8080", "/"), "ex");
  EXPECT_EQ(matchName(router, "example.com.", "/"), "ex");
  EXPECT_EQ(matchName(router, "www.example.com", "/"), "");
  EXPECT_EQ(matchName(router, "example.co", "/"), "");
  EXPECT_EQ(matchName(router, "example.com.au", "/"), "");
}

TEST(Router, Ipv6HostLiteralKeepsItsBrackets) {
  config::Config cfg;
  cfg.routes = {makeRoute("any", "", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "[::1]:8080", "/"), "any");
  EXPECT_EQ(matchName(router, "", "/"), "any");
}

TEST(Router, WildcardMatchesSubdomainsOnly) {
  config::Config cfg;
  cfg.routes = {makeRoute("wild", "*.Example.com", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "a.example.com", "/"), "wild");
  EXPECT_EQ(matchName(router, "a.b.example.com", "/"), "wild");
  EXPECT_EQ(matchName(router, "A.EXAMPLE.COM:443", "/"), "wild");
  EXPECT_EQ(matchName(router, "example.com", "/"), "");
  EXPECT_EQ(matchName(router, ".example.com", "/"), "");
  EXPECT_EQ(matchName(router, "aexample.com", "/"), "");
  EXPECT_EQ(matchName(router, "a.example.org", "/"), "");
}

TEST(Router, PrefixIsAPlainStringPrefix) {
  config::Config cfg;
  cfg.routes = {makeRoute("api", "", "/api")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/api"), "api");
  EXPECT_EQ(matchName(router, "h", "/api/x"), "api");
  EXPECT_EQ(matchName(router, "h", "/apix"), "api");  // documented: like an nginx prefix location
  EXPECT_EQ(matchName(router, "h", "/ap"), "");
  EXPECT_EQ(matchName(router, "h", "/API"), "");
}

TEST(Router, RootPrefixMatchesEverything) {
  config::Config cfg;
  cfg.routes = {makeRoute("all", "", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/"), "all");
  EXPECT_EQ(matchName(router, "h", "/a/b/c"), "all");
}

TEST(Router, ExactPathMatchesOnlyThatPath) {
  config::Config cfg;
  cfg.routes = {makeRoute("health", "", "", "/healthz"), makeRoute("rest", "", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/healthz"), "health");
  EXPECT_EQ(matchName(router, "h", "/healthz/"), "rest");
  EXPECT_EQ(matchName(router, "h", "/healthzz"), "rest");
  EXPECT_EQ(matchName(router, "h", "/health"), "rest");
}

TEST(Router, QueryIsIgnored) {
  config::Config cfg;
  cfg.routes = {makeRoute("health", "", "", "/healthz"), makeRoute("api", "", "/api/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/healthz?verbose=1"), "health");
  EXPECT_EQ(matchName(router, "h", "/healthz?"), "health");
  EXPECT_EQ(matchName(router, "h", "/api?x=/api/"), "");
}

TEST(Router, MethodsAreExactAndCaseSensitive) {
  config::Config cfg;
  cfg.routes = {makeRoute("read", "", "/", "", {"GET", "HEAD"}), makeRoute("other", "", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "h", "/", "GET"), "read");
  EXPECT_EQ(matchName(router, "h", "/", "HEAD"), "read");
  EXPECT_EQ(matchName(router, "h", "/", "get"), "other");
  EXPECT_EQ(matchName(router, "h", "/", "POST"), "other");
  EXPECT_EQ(matchName(router, "h", "/", "GETX"), "other");
}

TEST(Router, AllCriteriaMustMatch) {
  config::Config cfg;
  cfg.routes = {makeRoute("strict", "api.example.com", "/v1", "", {"POST"}), makeRoute("fallback", "", "/")};
  const Router router(cfg);
  EXPECT_EQ(matchName(router, "api.example.com", "/v1/items", "POST"), "strict");
  EXPECT_EQ(matchName(router, "api.example.com", "/v1/items", "GET"), "fallback");
  EXPECT_EQ(matchName(router, "www.example.com", "/v1/items", "POST"), "fallback");
  EXPECT_EQ(matchName(router, "api.example.com", "/v2/items", "POST"), "fallback");
}

}  // namespace
}  // namespace tether::routing
