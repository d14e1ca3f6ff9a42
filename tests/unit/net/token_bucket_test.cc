// util::TokenBucket: the HTTP/2 reset budget is a rate, not a lifetime count.
#include "util/token_bucket.h"

#include <gtest/gtest.h>

namespace tether::util {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, ABurstUpToItsSizeIsAllowedThenRefused) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket bucket(100, 50, t0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(bucket.take(t0)) << i;
  EXPECT_FALSE(bucket.take(t0));
}

TEST(TokenBucket, ASteadyRateBelowTheRefillNeverRunsDry) {
  // One reset every 20 ms (50/s) against a 100/s refill: 10,000 of them, far past any lifetime count.
  auto now = Clock::time_point{} + 1h;
  TokenBucket bucket(200, 100, now);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(bucket.take(now)) << "refused after " << i;
    now += 20ms;
  }
}

TEST(TokenBucket, AFloodAboveTheRefillRunsDryAfterTheBurst) {
  // 2,800/s (the flood) against burst 200, refill 100/s: dry after 200 / (2800 - 100) s, ~208 takes.
  auto now = Clock::time_point{} + 1h;
  TokenBucket bucket(200, 100, now);
  int taken = 0;
  while (bucket.take(now) && taken < 100000) {
    ++taken;
    now += std::chrono::microseconds(357);
  }
  EXPECT_GE(taken, 200);
  EXPECT_LE(taken, 215);
}

TEST(TokenBucket, RefillsUpToTheBurstOnly) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket bucket(10, 100, t0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bucket.take(t0));
  EXPECT_FALSE(bucket.take(t0));
  EXPECT_DOUBLE_EQ(bucket.tokens(t0 + 50ms), 5.0);
  EXPECT_DOUBLE_EQ(bucket.tokens(t0 + 1h), 10.0);  // an hour of quiet does not bank more than the burst
}

}  // namespace
}  // namespace tether::util
