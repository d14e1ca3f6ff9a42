// The intrusive FIFO under the pool's wait queue: order kept, removal from anywhere, no allocation.

#include "upstream/waiter_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace tether::upstream {
namespace {

class Waiter : public UpstreamRequester {
 public:
  void onUpstreamReady(UpstreamStream&) override {}
  void onUpstreamUnavailable(UpstreamError) override {}
};

std::vector<const UpstreamRequester*> drain(WaiterQueue& queue) {
  std::vector<const UpstreamRequester*> order;
  while (!queue.empty()) order.push_back(&queue.popFront());
  return order;
}

TEST(WaiterQueue, PopsInArrivalOrder) {
  Waiter a, b, c;
  WaiterQueue queue;
  queue.pushBack(a);
  queue.pushBack(b);
  queue.pushBack(c);
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(&queue.front(), &a);
  EXPECT_EQ(drain(queue), (std::vector<const UpstreamRequester*>{&a, &b, &c}));
  EXPECT_FALSE(WaiterQueue::contains(a));
}

TEST(WaiterQueue, RemovesFromTheMiddleHeadAndTail) {
  Waiter a, b, c, d, e;
  WaiterQueue queue;
  for (Waiter* w : {&a, &b, &c, &d, &e}) queue.pushBack(*w);
  queue.remove(c);  // middle
  queue.remove(a);  // head
  queue.remove(e);  // tail
  EXPECT_FALSE(WaiterQueue::contains(c));
  EXPECT_TRUE(WaiterQueue::contains(b));
  EXPECT_EQ(queue.size(), 2u);
  queue.pushBack(c);  // a removed waiter may queue again, at the back
  EXPECT_EQ(drain(queue), (std::vector<const UpstreamRequester*>{&b, &d, &c}));
}

TEST(WaiterQueue, RemovingTheOnlyWaiterEmptiesIt) {
  Waiter a;
  WaiterQueue queue;
  queue.pushBack(a);
  queue.remove(a);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.size(), 0u);
  queue.pushBack(a);
  EXPECT_EQ(&queue.front(), &a);
}

TEST(WaiterQueue, DestructionUnlinksWhoeverStillWaits) {
  Waiter a, b;
  {
    WaiterQueue queue;
    queue.pushBack(a);
    queue.pushBack(b);
  }
  EXPECT_FALSE(WaiterQueue::contains(a));
  EXPECT_FALSE(WaiterQueue::contains(b));
}

}  // namespace
}  // namespace tether::upstream
