// upstreams[].protocol: http1 (default), h2c (cleartext, no `tls` allowed) or h2 (TLS: the defaults without `tls`).

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace tether::config {
namespace {

// `upstream_keys` go into the one upstream's map, one per line, from line 5 column 5.
std::string configWith(const std::string& upstream_keys) {
  return "listeners:\n  - {name: main, address: 127.0.0.1:8080}\nupstreams:\n  - name: api\n" + upstream_keys +
         "    endpoints: [\"127.0.0.1:5000\"]\nroutes:\n  - {name: all, match: {path_prefix: /}, upstream: api}\n";
}

std::string describe(const LoadResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += "\n  " + e.toString();
  return out;
}

TEST(UpstreamProtocolConfig, DefaultsToHttp1) {
  const LoadResult result = loadConfigString(configWith(""), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.config->upstreams[0].protocol, Upstream::Protocol::Http1);
}

TEST(UpstreamProtocolConfig, ReadsH2cAndHttp1) {
  const LoadResult h2c = loadConfigString(configWith("    protocol: h2c\n"), "test.yaml");
  ASSERT_TRUE(h2c.ok()) << describe(h2c);
  EXPECT_EQ(h2c.config->upstreams[0].protocol, Upstream::Protocol::H2c);
  const LoadResult http1 = loadConfigString(configWith("    protocol: http1\n"), "test.yaml");
  ASSERT_TRUE(http1.ok()) << describe(http1);
  EXPECT_EQ(http1.config->upstreams[0].protocol, Upstream::Protocol::Http1);
}

TEST(UpstreamProtocolConfig, H2WithoutTlsUsesTheTlsDefaults) {
  const LoadResult result = loadConfigString(configWith("    protocol: h2\n"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const Upstream& upstream = result.config->upstreams[0];
  EXPECT_EQ(upstream.protocol, Upstream::Protocol::H2);
  ASSERT_TRUE(upstream.tls.has_value());
  EXPECT_TRUE(upstream.tls->verify);
  EXPECT_TRUE(upstream.tls->ca.empty());           // the system's store
  EXPECT_TRUE(upstream.tls->server_name.empty());  // the endpoint's host
}

TEST(UpstreamProtocolConfig, H2KeepsItsTlsMap) {
  const LoadResult result =
      loadConfigString(configWith("    protocol: h2\n    tls: {server_name: api.internal}\n"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  ASSERT_TRUE(result.config->upstreams[0].tls.has_value());
  EXPECT_EQ(result.config->upstreams[0].tls->server_name, "api.internal");
}

TEST(UpstreamProtocolConfig, H2cWithTlsIsAnErrorAtTheTlsKey) {
  const LoadResult result =
      loadConfigString(configWith("    protocol: h2c\n    tls: {server_name: api.internal}\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.line, 6) << e.toString();
  EXPECT_EQ(e.column, 10) << e.toString();
  EXPECT_NE(e.toString().find("upstreams[0].tls"), std::string::npos) << e.toString();
  EXPECT_NE(e.toString().find("h2c is cleartext; use protocol: h2 for HTTP/2 over TLS"), std::string::npos)
      << e.toString();
}

TEST(UpstreamProtocolConfig, UnknownValueNamesTheKeyWithFileLineAndColumn) {
  const LoadResult result = loadConfigString(configWith("    protocol: http3\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.line, 5) << e.toString();
  EXPECT_EQ(e.column, 15) << e.toString();
  EXPECT_NE(e.toString().find("upstreams[0].protocol"), std::string::npos) << e.toString();
  EXPECT_NE(e.toString().find("invalid value 'http3'"), std::string::npos) << e.toString();
}

// The reset-storm guard (docs/upstreams.md): on by default, below hyper's 20; 0 turns it off.
TEST(UpstreamProtocolConfig, ResetBudgetDefaultsAndReads) {
  const LoadResult defaults = loadConfigString(configWith("    protocol: h2c\n"), "test.yaml");
  ASSERT_TRUE(defaults.ok()) << describe(defaults);
  EXPECT_EQ(defaults.config->upstreams[0].reset_budget, 10u);
  EXPECT_EQ(defaults.config->upstreams[0].reset_window, Duration{30000});
  const LoadResult set =
      loadConfigString(configWith("    protocol: h2c\n    reset_budget: 0\n    reset_window: 5s\n"), "test.yaml");
  ASSERT_TRUE(set.ok()) << describe(set);
  EXPECT_EQ(set.config->upstreams[0].reset_budget, 0u);
  EXPECT_EQ(set.config->upstreams[0].reset_window, Duration{5000});
}

TEST(UpstreamProtocolConfig, ResetWindowMustBePositive) {
  const LoadResult result = loadConfigString(configWith("    reset_window: 0s\n"), "test.yaml");
  EXPECT_FALSE(result.ok());
  ASSERT_FALSE(result.errors.empty());
  EXPECT_NE(result.errors[0].toString().find("reset_window"), std::string::npos) << describe(result);
}

}  // namespace
}  // namespace tether::config
