#include "log/logger.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "json_checker.h"

namespace tether::log {
namespace {

using testing::JsonChecker;

TEST(Logger, LevelNames) {
  EXPECT_EQ(levelName(Level::Debug), "debug");
  EXPECT_EQ(levelName(Level::Info), "info");
  EXPECT_EQ(levelName(Level::Warn), "warn");
  EXPECT_EQ(levelName(Level::Error), "error");
}

TEST(Logger, EnabledFollowsTheMinimumLevel) {
  LogQueue queue(4);
  Logger logger(&queue, Level::Warn);
  EXPECT_FALSE(logger.enabled(Level::Debug));
  EXPECT_FALSE(logger.enabled(Level::Info));
  EXPECT_TRUE(logger.enabled(Level::Warn));
  EXPECT_TRUE(logger.enabled(Level::Error));
}

TEST(Logger, WithoutQueueNothingIsEnabled) {
  Logger logger(nullptr, Level::Debug);
  EXPECT_FALSE(logger.enabled(Level::Error));
  logger.line("ignored", Level::Error).field("x", 1);
  logger.emit();  // must not crash
  logger.event(Level::Error, "ignored", "nothing");
}

TEST(Logger, LineCarriesTimestampEventAndLevel) {
  LogQueue queue(4);
  Logger logger(&queue, Level::Info);
  logger.line("request_completed").field("status", 200).field("path", "/a");
  logger.emit();
  std::string out;
  ASSERT_TRUE(queue.tryPop(out));
  const std::regex shape(
      R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","event":"request_completed","level":"info","status":200,"path":"/a"\}\n)");
  EXPECT_TRUE(std::regex_match(out, shape)) << out;
  EXPECT_TRUE(JsonChecker::isObjectLine(out));
  EXPECT_FALSE(queue.tryPop(out));
}

TEST(Logger, DisabledLevelsAreNotQueued) {
  LogQueue queue(4);
  Logger logger(&queue, Level::Warn);
  logger.line("debug_detail", Level::Debug).field("x", 1);
  logger.emit();
  logger.event(Level::Info, "noise", "not wanted");
  EXPECT_EQ(queue.sizeApprox(), 0u);
  logger.line("upstream_failed", Level::Error);
  logger.emit();
  logger.emit();  // a second emit without a new line does nothing
  EXPECT_EQ(queue.sizeApprox(), 1u);
}

TEST(Logger, EventWritesAMessage) {
  LogQueue queue(4);
  Logger logger(&queue, Level::Debug);
  logger.event(Level::Warn, "config_reloaded", "3 routes, \"default\" kept");
  std::string out;
  ASSERT_TRUE(queue.tryPop(out));
  EXPECT_NE(out.find(R"("event":"config_reloaded","level":"warn","message":"3 routes, \"default\" kept"})"),
            std::string::npos)
      << out;
  EXPECT_TRUE(JsonChecker::isObjectLine(out));
}

TEST(Logger, FullQueueDropsInsteadOfBlocking) {
  LogQueue queue(2);
  Logger logger(&queue, Level::Info);
  for (int i = 0; i < 10; ++i) logger.event(Level::Info, "tick", "t");
  EXPECT_EQ(queue.sizeApprox(), 2u);
  EXPECT_EQ(queue.dropped(), 8u);
}

}  // namespace
}  // namespace tether::log
