// admin.recent_cancellations: how many cancellation events each worker keeps for GET /cancellations.
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace tether::config {
namespace {

const std::string kBase = R"(listeners:
  - {name: main, address: 127.0.0.1:8080}
upstreams:
  - {name: api, endpoints: ["127.0.0.1:5000"]}
routes:
  - {name: all, match: {path_prefix: /}, upstream: api}
)";

TEST(AdminConfig, RecentCancellationsDefaultsTo100) {
  const LoadResult result = loadConfigString(kBase, "test.yaml");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config->admin.recent_cancellations, 100u);
}

TEST(AdminConfig, RecentCancellationsIsRead) {
  const LoadResult result = loadConfigString(kBase + "admin: {recent_cancellations: 7}\n", "test.yaml");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config->admin.recent_cancellations, 7u);
  const LoadResult none = loadConfigString(kBase + "admin: {recent_cancellations: 0}\n", "test.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.config->admin.recent_cancellations, 0u);
}

TEST(AdminConfig, RecentCancellationsRejectsNonNumbersAndHugeValues) {
  const LoadResult word = loadConfigString(kBase + "admin: {recent_cancellations: many}\n", "test.yaml");
  ASSERT_EQ(word.errors.size(), 1u);
  EXPECT_NE(word.errors[0].toString().find("admin.recent_cancellations"), std::string::npos)
      << word.errors[0].toString();
  const LoadResult huge = loadConfigString(kBase + "admin: {recent_cancellations: 100001}\n", "test.yaml");
  EXPECT_EQ(huge.errors.size(), 1u);
}

}  // namespace
}  // namespace tether::config
