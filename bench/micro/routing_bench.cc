// Router::match over configs of 1, 10 and 100 routes (host + path_prefix), hitting the first route, the last
// one, or none (the 404 path, which walks every route).

#include <benchmark/benchmark.h>

#include <string>

#include "alloc_counter.h"
#include "config/config.h"
#include "routing/router.h"

namespace tether::bench {
namespace {

enum Case : int64_t { kHitFirst, kHitLast, kMiss };

std::unique_ptr<config::Config> routesConfig(int64_t routes) {
  auto cfg = std::make_unique<config::Config>();
  config::Upstream upstream;
  upstream.name = "backend";
  cfg->upstreams.push_back(std::move(upstream));
  for (int64_t i = 0; i < routes; ++i) {
    config::Route route;
    route.name = "route" + std::to_string(i);
    route.match.host = "svc" + std::to_string(i) + ".example.com";
    route.match.path_prefix = "/api/v" + std::to_string(i) + "/";
    route.upstream = "backend";
    cfg->routes.push_back(std::move(route));
  }
  return cfg;
}

// Args: number of routes, case. The request's Host carries a port and mixed case, as clients send it.
void BM_Router_Match(benchmark::State& state) {
  const int64_t routes = state.range(0);
  const auto which = static_cast<Case>(state.range(1));
  const auto cfg = routesConfig(routes);
  const routing::Router router(*cfg);
  const int64_t target = which == kHitFirst ? 0 : routes - 1;
  const std::string host =
      which == kMiss ? "unknown.example.com:8080" : "Svc" + std::to_string(target) + ".Example.com:8080";
  const std::string path = "/api/v" + std::to_string(target) + "/orders/48213?expand=items";
  const config::Route* expected = which == kMiss ? nullptr : &cfg->routes[static_cast<size_t>(target)];
  if (router.match(host, path, "GET") != expected) {
    state.SkipWithError("unexpected route");
    return;
  }
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string_view h = host;
    std::string_view p = path;
    benchmark::DoNotOptimize(h);
    benchmark::DoNotOptimize(p);
    const config::Route* route = router.match(h, p, "GET");
    benchmark::DoNotOptimize(route);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(which == kHitFirst ? "hit_first" : which == kHitLast ? "hit_last" : "miss");
}
BENCHMARK(BM_Router_Match)->ArgNames({"routes", "case"})->ArgsProduct({{1, 10, 100}, {kHitFirst, kHitLast, kMiss}});

}  // namespace
}  // namespace tether::bench
