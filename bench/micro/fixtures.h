#pragma once

// Shared fixtures: a routing config shaped like a real one, and the per-request values an Exchange logs.

#include <memory>
#include <string>

#include "config/config.h"

namespace tether::bench {

// `routes` routes "svc<i>" matching host "svc<i>.example.com" and path_prefix "/api/v<i>/", followed by the two
// routes the realistic inputs hit: "shop" (shop.example.com, "/") and "api" (api.example.com, "/api/"). Three
// upstreams. The routes that carry no traffic come first, so `routes` sets how far the router has to look.
inline std::unique_ptr<config::Config> makeConfig(int routes) {
  auto cfg = std::make_unique<config::Config>();
  for (const char* name : {"shop-backend", "api-backend", "static-backend"}) {
    config::Upstream upstream;
    upstream.name = name;
    cfg->upstreams.push_back(std::move(upstream));
  }
  for (int i = 0; i < routes; ++i) {
    config::Route route;
    route.name = "svc" + std::to_string(i);
    route.match.host = "svc" + std::to_string(i) + ".example.com";
    route.match.path_prefix = "/api/v" + std::to_string(i) + "/";
    route.upstream = "static-backend";
    route.upstream_index = 2;
    cfg->routes.push_back(std::move(route));
  }
  config::Route shop;
  shop.name = "shop";
  shop.match.host = "shop.example.com";
  shop.match.path_prefix = "/";
  shop.upstream = "shop-backend";
  shop.upstream_index = 0;
  cfg->routes.push_back(std::move(shop));
  config::Route api;
  api.name = "api";
  api.match.host = "api.example.com";
  api.match.path_prefix = "/api/";
  api.upstream = "api-backend";
  api.upstream_index = 1;
  cfg->routes.push_back(std::move(api));
  return cfg;
}

}  // namespace tether::bench
