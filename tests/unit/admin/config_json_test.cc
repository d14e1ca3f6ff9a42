// GET /config's upstream entries: every upstream key with its effective value (defaults applied).

#include "admin/config_json.h"

#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace tether::admin {
namespace {

std::string upstreamJson(const std::string& upstream_keys) {
  const std::string text = "listeners:\n  - {name: main, address: 127.0.0.1:8080}\nupstreams:\n  - {name: api, " +
                           upstream_keys +
                           " endpoints: [\"127.0.0.1:5000\"]}\nroutes:\n"
                           "  - {name: all, match: {path_prefix: /}, upstream: api}\n";
  const config::LoadResult result = config::loadConfigString(text, "test.yaml");
  EXPECT_TRUE(result.ok());
  return result.ok() ? configToJson(*result.config) : std::string();
}

TEST(ConfigJson, UpstreamShowsQueueTimeout) {
  const std::string json = upstreamJson("connect_timeout: 10s, queue_timeout: 250ms,");
  EXPECT_NE(json.find("\"connect_timeout_ms\":10000"), std::string::npos) << json;
  EXPECT_NE(json.find("\"queue_timeout_ms\":250"), std::string::npos) << json;
}

TEST(ConfigJson, UpstreamShowsTheEffectiveQueueTimeoutWhenUnset) {
  const std::string json = upstreamJson("connect_timeout: 3s,");
  EXPECT_NE(json.find("\"queue_timeout_ms\":3000"), std::string::npos) << json;
}

}  // namespace
}  // namespace tether::admin
