// queue_timeout: a waiter that gets no connection slot in time is answered QueueTimeout (503), on its own clock,
// while connect_timeout stays long; a cancelled waiter is never answered.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pool_harness.h"

namespace tether::upstream {
namespace {

using namespace std::chrono_literals;
using Log = std::vector<std::string>;

TEST(QueueTimeout, EachWaiterGetsQueueTimeoutNotConnectTimeout) {
  constexpr config::Duration kQueueTimeout{100};
  PoolHarness harness({.connect_timeout = config::Duration{60000}, .queue_timeout = kQueueTimeout});
  Log log;
  RecordingRequester holder("holder", log), b("b", log), c("c", log);
  AcquireHandle hh = harness.pool().acquire(holder);
  ASSERT_TRUE(harness.runUntil([&] { return holder.answers() > 0; }));

  b.asked = std::chrono::steady_clock::now();
  AcquireHandle hb = harness.pool().acquire(b);
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }, 30s));
  // c queues after b timed out: the timer re-arms for c's own deadline.
  c.asked = std::chrono::steady_clock::now();
  AcquireHandle hc = harness.pool().acquire(c);
  ASSERT_TRUE(harness.runUntil([&] { return c.answers() > 0; }, 30s));

  for (const RecordingRequester* r : {&b, &c}) {
    EXPECT_EQ(r->error(), UpstreamError::QueueTimeout);
    EXPECT_GE(r->answered - r->asked, kQueueTimeout) << "answered before queue_timeout";
  }
  EXPECT_EQ(log, (Log{"holder ready", "b unavailable", "c unavailable"}));
  EXPECT_EQ(holder.connection()->state(), UpstreamConnection::State::Active) << "the holder is left alone";
  EXPECT_EQ(harness.pool().waiterCount(), 0u);
}

TEST(QueueTimeout, WaitersQueuedTogetherTimeOutInOrder) {
  PoolHarness harness({.queue_timeout = config::Duration{50}});
  Log log;
  RecordingRequester holder("holder", log), b("b", log), c("c", log), d("d", log);
  AcquireHandle hh = harness.pool().acquire(holder);
  ASSERT_TRUE(harness.runUntil([&] { return holder.answers() > 0; }));
  AcquireHandle hb = harness.pool().acquire(b);
  AcquireHandle hc = harness.pool().acquire(c);
  AcquireHandle hd = harness.pool().acquire(d);
  hc.cancel();
  ASSERT_TRUE(harness.runUntil([&] { return d.answers() > 0; }, 30s));
  EXPECT_EQ(log, (Log{"holder ready", "b unavailable", "d unavailable"}));
  EXPECT_EQ(c.answers(), 0) << "a cancelled waiter was answered";
}

TEST(QueueTimeout, AWaiterServedInTimeIsNotTimedOut) {
  PoolHarness harness({.queue_timeout = config::Duration{30000}});
  Log log;
  RecordingRequester holder("holder", log), b("b", log);
  AcquireHandle hh = harness.pool().acquire(holder);
  ASSERT_TRUE(harness.runUntil([&] { return holder.answers() > 0; }));
  AcquireHandle hb = harness.pool().acquire(b);
  harness.pool().release(*holder.connection(), UpstreamPool::Release::Close);
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }));
  EXPECT_EQ(b.error(), std::nullopt);
  EXPECT_NE(b.connection(), nullptr);
}

}  // namespace
}  // namespace tether::upstream
