// UpstreamPool::acquire()'s handle on a real pool and loopback connections: cancelling a queued waiter takes it out
// of the FIFO and nobody else, a handle of an answered request does nothing, and dropping a handle cancels.

#include "upstream_api/acquire_handle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pool_harness.h"

namespace tether::upstream {
namespace {

using Log = std::vector<std::string>;

// The one connection allowed is `holder`'s once this returns.
void holdTheOnlyConnection(PoolHarness& harness, RecordingRequester& holder, AcquireHandle& handle) {
  handle = harness.pool().acquire(holder);
  ASSERT_TRUE(handle.pending());
  ASSERT_FALSE(handle.queued()) << "the first request connects at once";
  ASSERT_TRUE(harness.runUntil([&] { return holder.answers() > 0; }));
  ASSERT_NE(holder.connection(), nullptr);
  EXPECT_FALSE(handle.pending());
}

TEST(AcquireHandle, CancellingTheMiddleWaiterServesTheOthersInOrder) {
  PoolHarness harness({});
  Log log;
  RecordingRequester a("a", log), b("b", log), c("c", log), d("d", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  AcquireHandle hb = harness.pool().acquire(b);
  AcquireHandle hc = harness.pool().acquire(c);
  AcquireHandle hd = harness.pool().acquire(d);
  EXPECT_TRUE(hb.queued() && hc.queued() && hd.queued());
  EXPECT_EQ(harness.pool().waiterCount(), 3u);

  hc.cancel();
  EXPECT_FALSE(hc.pending());
  EXPECT_EQ(harness.pool().waiterCount(), 2u);
  EXPECT_TRUE(hb.queued() && hd.queued());

  // Each release frees the slot for the next waiter in order; c is skipped.
  harness.pool().release(*a.connection(), UpstreamPool::Release::Close);
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }));
  EXPECT_TRUE(hd.queued());
  harness.pool().release(*b.connection(), UpstreamPool::Release::Close);
  ASSERT_TRUE(harness.runUntil([&] { return d.answers() > 0; }));
  EXPECT_EQ(log, (Log{"a ready", "b ready", "d ready"}));
  EXPECT_EQ(c.answers(), 0);
  EXPECT_EQ(harness.pool().waiterCount(), 0u);
  EXPECT_EQ(harness.pool().connectionCount(), 1u) << "a cancelled waiter must not open a connection";
}

TEST(AcquireHandle, CancelAfterServedIsANoOp) {
  PoolHarness harness({});
  Log log;
  RecordingRequester a("a", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  UpstreamConnection* connection = a.connection();
  ha.cancel();
  ha.cancel();
  EXPECT_EQ(connection->state(), UpstreamConnection::State::Active) << "cancel after served closed the connection";
  EXPECT_EQ(harness.pool().connectionCount(), 1u);
  EXPECT_EQ(a.answers(), 1);
}

TEST(AcquireHandle, CancelAfterTheQueueTimeoutIsANoOp) {
  PoolHarness harness({.queue_timeout = config::Duration{20}});
  Log log;
  RecordingRequester a("a", log), b("b", log), c("c", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  AcquireHandle hb = harness.pool().acquire(b);
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }));
  EXPECT_EQ(b.error(), UpstreamError::QueueTimeout);
  // c queues behind; b's stale handle must not take c (or anyone) out of the queue.
  AcquireHandle hc = harness.pool().acquire(c);
  hb.cancel();
  EXPECT_TRUE(hc.queued());
  EXPECT_EQ(harness.pool().waiterCount(), 1u);
  EXPECT_EQ(b.answers(), 1);
}

TEST(AcquireHandle, DestroyingTheHandleCancels) {
  PoolHarness harness({});
  Log log;
  RecordingRequester a("a", log), b("b", log), c("c", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  {
    AcquireHandle hb = harness.pool().acquire(b);
    EXPECT_TRUE(hb.queued());
  }
  EXPECT_EQ(harness.pool().waiterCount(), 0u);
  AcquireHandle hc = harness.pool().acquire(c);
  harness.pool().release(*a.connection(), UpstreamPool::Release::Close);
  ASSERT_TRUE(harness.runUntil([&] { return c.answers() > 0; }));
  EXPECT_EQ(log, (Log{"a ready", "c ready"}));
}

TEST(AcquireHandle, MovingKeepsOneOwnerOfTheWait) {
  PoolHarness harness({});
  Log log;
  RecordingRequester a("a", log), b("b", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  AcquireHandle first = harness.pool().acquire(b);
  AcquireHandle second(std::move(first));
  EXPECT_FALSE(first.pending());  // NOLINT(bugprone-use-after-move): moved-from holds nothing
  first.cancel();                 // and cancelling it does nothing
  EXPECT_TRUE(second.queued());
  AcquireHandle third;
  third = std::move(second);
  EXPECT_TRUE(third.queued());
  third = AcquireHandle();  // assigning over a pending handle cancels it
  EXPECT_EQ(harness.pool().waiterCount(), 0u);
  EXPECT_EQ(b.answers(), 0);
}

TEST(AcquireHandle, CancellingAConnectInProgressGivesItsSlotToTheNextWaiter) {
  PoolHarness harness({});
  Log log;
  RecordingRequester a("a", log), b("b", log);
  AcquireHandle ha = harness.pool().acquire(a);
  ASSERT_TRUE(ha.pending());
  ASSERT_FALSE(ha.queued());  // connecting: connects complete in the loop, which has not run yet
  AcquireHandle hb = harness.pool().acquire(b);
  ASSERT_TRUE(hb.queued());
  ha.cancel();
  EXPECT_FALSE(hb.queued()) << "the freed slot did not go to the waiter";
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }));
  EXPECT_EQ(log, (Log{"b ready"}));
  EXPECT_EQ(harness.pool().connectionCount(), 1u);
}

TEST(AcquireHandle, AcquiringAgainMakesTheOldHandleStale) {
  PoolHarness harness({.max_connections_per_endpoint = 2});
  Log log;
  RecordingRequester a("a", log), b("b", log);
  AcquireHandle ha;
  holdTheOnlyConnection(harness, a, ha);
  AcquireHandle old = harness.pool().acquire(b);
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 0; }));
  harness.pool().release(*b.connection(), UpstreamPool::Release::Close);
  AcquireHandle fresh = harness.pool().acquire(b);  // the same requester, a second request
  ASSERT_TRUE(fresh.pending());
  old.cancel();
  EXPECT_TRUE(fresh.pending()) << "a handle of an earlier acquire() cancelled the current one";
  ASSERT_TRUE(harness.runUntil([&] { return b.answers() > 1; }));
}

}  // namespace
}  // namespace tether::upstream
