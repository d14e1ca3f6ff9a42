// upstreams[].queue_timeout: how long a request waits for a connection slot. Defaults to the upstream's
// connect_timeout (the wait it had before the key existed); validated like the other durations.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/config_loader.h"

namespace tether::config {
namespace {

using namespace std::chrono_literals;

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

TEST(QueueTimeoutConfig, DefaultsToTheConnectTimeoutDefault) {
  const LoadResult result = loadConfigString(configWith(""), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.config->upstreams[0].queue_timeout, 5s);
}

TEST(QueueTimeoutConfig, DefaultsToTheUpstreamsOwnConnectTimeout) {
  const LoadResult result = loadConfigString(configWith("    connect_timeout: 2s\n"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.config->upstreams[0].queue_timeout, 2s);
}

TEST(QueueTimeoutConfig, IsReadOnItsOwn) {
  const LoadResult result =
      loadConfigString(configWith("    connect_timeout: 10s\n    queue_timeout: 200ms\n"), "test.yaml");
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.config->upstreams[0].queue_timeout, 200ms);
  EXPECT_EQ(result.config->upstreams[0].connect_timeout, 10s);
}

TEST(QueueTimeoutConfig, BadValuesNameTheKeyWithFileLineAndColumn) {
  struct Case {
    std::string value;
    std::string message;
  };
  for (const Case& c : {Case{"200", "missing unit"}, Case{"-1s", "invalid duration '-1s'"},
                        Case{"0", "must be at least 1ms"}, Case{"soon", "invalid duration 'soon'"}}) {
    const LoadResult result = loadConfigString(configWith("    queue_timeout: " + c.value + "\n"), "test.yaml");
    ASSERT_EQ(result.errors.size(), 1u) << c.value << describe(result);
    const ConfigError& e = result.errors[0];
    EXPECT_EQ(e.file, "test.yaml");
    EXPECT_EQ(e.line, 5) << e.toString();
    EXPECT_EQ(e.column, 20) << e.toString();
    EXPECT_EQ(e.key_path, "upstreams[0].queue_timeout") << e.toString();
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.toString();
  }
}

}  // namespace
}  // namespace tether::config
