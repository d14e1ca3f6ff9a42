// upstreams[].tls: TLS to an upstream's endpoints. Defaults (verify on, system CAs, SNI from the endpoint), files
// checked at load with the key's file:line:column, and a client certificate given whole or not at all.

#include <gtest/gtest.h>

#include <fstream>
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

// A readable file with these contents (the loader only checks that it is a readable regular file).
std::string existingFile(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/upstream_tls_" + name;
  std::ofstream(path) << "not checked by the loader\n";
  return path;
}

TEST(UpstreamTlsConfig, AbsentMeansCleartext) {
  const LoadResult result = loadConfigString(configWith(""), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_FALSE(result.config->upstreams[0].tls);
}

TEST(UpstreamTlsConfig, EmptyMapHasTheDefaults) {
  const LoadResult result = loadConfigString(configWith("    tls: {}\n"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  ASSERT_TRUE(result.config->upstreams[0].tls);
  const UpstreamTls& tls = *result.config->upstreams[0].tls;
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.server_name, "");
  EXPECT_EQ(tls.ca, "");
  EXPECT_EQ(tls.certificate, "");
  EXPECT_EQ(tls.key, "");
}

TEST(UpstreamTlsConfig, EveryKeyIsRead) {
  const std::string ca = existingFile("ca.pem");
  const std::string cert = existingFile("cert.pem");
  const std::string key = existingFile("key.pem");
  const LoadResult result =
      loadConfigString(configWith("    tls:\n      server_name: api.internal\n      ca: " + ca +
                                  "\n      certificate: " + cert + "\n      key: " + key + "\n      verify: false\n"),
                       "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  const UpstreamTls& tls = *result.config->upstreams[0].tls;
  EXPECT_EQ(tls.server_name, "api.internal");
  EXPECT_EQ(tls.ca, ca);
  EXPECT_EQ(tls.certificate, cert);
  EXPECT_EQ(tls.key, key);
  EXPECT_FALSE(tls.verify);
}

TEST(UpstreamTlsConfig, MissingCaFileNamesTheKeyWithFileLineAndColumn) {
  const LoadResult result = loadConfigString(configWith("    tls:\n      ca: /nonexistent/ca.pem\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.line, 6) << e.toString();
  EXPECT_EQ(e.column, 11) << e.toString();
  EXPECT_EQ(e.key_path, "upstreams[0].tls.ca") << e.toString();
  EXPECT_NE(e.message.find("cannot load /nonexistent/ca.pem"), std::string::npos) << e.toString();
}

TEST(UpstreamTlsConfig, ADirectoryIsNotAFile) {
  const LoadResult result = loadConfigString(
      configWith("    tls:\n      certificate: /tmp\n      key: " + existingFile("k.pem") + "\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "upstreams[0].tls.certificate");
  EXPECT_EQ(result.errors[0].line, 6);
}

TEST(UpstreamTlsConfig, CertificateWithoutKeyIsAnError) {
  const LoadResult result =
      loadConfigString(configWith("    tls:\n      certificate: " + existingFile("c.pem") + "\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "upstreams[0].tls.certificate");
  EXPECT_NE(result.errors[0].message.find("both `certificate` and `key`"), std::string::npos);
}

TEST(UpstreamTlsConfig, UnknownKeysAndBadVerifyAreReported) {
  const LoadResult result = loadConfigString(configWith("    tls: {sni: x, verify: maybe}\n"), "test.yaml");
  ASSERT_EQ(result.errors.size(), 2u) << describe(result);
  EXPECT_EQ(result.errors[0].key_path, "upstreams[0].tls.sni");
  EXPECT_EQ(result.errors[1].key_path, "upstreams[0].tls.verify");
}

}  // namespace
}  // namespace tether::config
