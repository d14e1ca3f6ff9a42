// The shipped config files must always load: they are the demo's input and the documentation.

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace tether::config {
namespace {

LoadResult loadShipped(const std::string& name) {
  return loadConfigFile(std::string(TETHER_SOURCE_DIR) + "/config/" + name);
}

std::string describe(const LoadResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += "\n  " + e.toString();
  return out;
}

TEST(ShippedConfig, DemoLoads) {
  const LoadResult result = loadShipped("demo.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const Config& cfg = *result.config;
  EXPECT_EQ(cfg.workers, 2u);
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_EQ(cfg.listeners[0].name, "demo");
  EXPECT_EQ(cfg.listeners[0].address.toString(), "127.0.0.1:8080");
  EXPECT_FALSE(cfg.listeners[0].tls);
  EXPECT_EQ(cfg.listeners[1].address.toString(), "127.0.0.1:8443");
  ASSERT_TRUE(cfg.listeners[1].tls);
  ASSERT_EQ(cfg.listeners[1].tls->certificates.size(), 1u);
  EXPECT_EQ(cfg.listeners[1].tls->certificates[0].cert, "build/demo-tls/cert.pem");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].name, "demo");
  EXPECT_EQ(cfg.upstreams[0].protocol, Upstream::Protocol::Http1);
  ASSERT_EQ(cfg.upstreams[0].endpoints.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].endpoints[0].addresses.at(0).toString(), "127.0.0.1:5000");
  EXPECT_EQ(cfg.upstreams[1].name, "demo-h2c");
  EXPECT_EQ(cfg.upstreams[1].protocol, Upstream::Protocol::H2c);
  EXPECT_EQ(cfg.upstreams[1].endpoints[0].addresses.at(0).toString(), "127.0.0.1:5001");
  ASSERT_EQ(cfg.routes.size(), 2u);
  EXPECT_EQ(cfg.routes[0].match.path_prefix, "/h2c/");
  EXPECT_EQ(cfg.routes[0].upstream_index, 1u);
  EXPECT_EQ(cfg.routes[1].match.path_prefix, "/");
  EXPECT_EQ(cfg.log.sink, Log::Sink::Stdout);
  EXPECT_EQ(cfg.admin.address.toString(), "127.0.0.1:9901");
}

TEST(ShippedConfig, ReferenceLoads) {
  const LoadResult result = loadShipped("reference.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const Config& cfg = *result.config;
  EXPECT_EQ(cfg.listeners.size(), 2u);
  ASSERT_EQ(cfg.upstreams.size(), 3u);
  EXPECT_FALSE(cfg.upstreams[0].tls);
  ASSERT_TRUE(cfg.upstreams[2].tls);  // `secure`: a TLS upstream with the defaults spelled out
  EXPECT_EQ(cfg.upstreams[2].tls->server_name, "api.internal");
  EXPECT_TRUE(cfg.upstreams[2].tls->verify);
  EXPECT_EQ(cfg.upstreams[2].tls->ca, "");
  EXPECT_EQ(cfg.routes.size(), 3u);
  EXPECT_EQ(cfg.routes[0].deadline_header, "X-Request-Timeout-Ms");
  EXPECT_EQ(cfg.routes[1].match.path, "/healthz");
  EXPECT_EQ(cfg.routes[1].upstream_index, 1u);
}

}  // namespace
}  // namespace tether::config
