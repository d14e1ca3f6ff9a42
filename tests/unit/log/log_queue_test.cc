#include "log/log_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace tether::log {
namespace {

std::string numbered(uint64_t n) { return "{\"n\":" + std::to_string(n) + "}\n"; }

TEST(LogQueue, FifoOrder) {
  LogQueue queue(4);
  EXPECT_EQ(queue.capacity(), 4u);
  EXPECT_TRUE(queue.tryPush("a\n"));
  EXPECT_TRUE(queue.tryPush("b\n"));
  std::string out;
  ASSERT_TRUE(queue.tryPop(out));
  EXPECT_EQ(out, "a\n");
  ASSERT_TRUE(queue.tryPop(out));
  EXPECT_EQ(out, "b\n");
  EXPECT_FALSE(queue.tryPop(out));
  EXPECT_EQ(queue.sizeApprox(), 0u);
}

TEST(LogQueue, FullQueueDropsAndCountsWithoutBlocking) {
  LogQueue queue(3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(queue.tryPush(numbered(i)));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) EXPECT_FALSE(queue.tryPush("dropped\n"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // no waiting for space
  EXPECT_EQ(queue.dropped(), 100000u);
  EXPECT_EQ(queue.sizeApprox(), 3u);

  std::string out;
  ASSERT_TRUE(queue.tryPop(out));
  EXPECT_EQ(out, numbered(0));              // the oldest lines are kept, the new ones dropped
  EXPECT_TRUE(queue.tryPush(numbered(3)));  // popping frees a slot
  EXPECT_FALSE(queue.tryPush(numbered(4)));
  EXPECT_EQ(queue.dropped(), 100001u);
}

TEST(LogQueue, ZeroCapacityMeansOne) {
  LogQueue queue(0);
  EXPECT_EQ(queue.capacity(), 1u);
  EXPECT_TRUE(queue.tryPush("x"));
  EXPECT_FALSE(queue.tryPush("y"));
}

TEST(LogQueue, WrapsAroundManyTimes) {
  LogQueue queue(5);
  std::string out;
  uint64_t next_pop = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    ASSERT_TRUE(queue.tryPush(numbered(n)));
    if (n % 3 == 2) {  // keep the ring partly full so head and tail wrap at different points
      while (queue.sizeApprox() > 1) {
        ASSERT_TRUE(queue.tryPop(out));
        ASSERT_EQ(out, numbered(next_pop++));
      }
    }
  }
  while (queue.tryPop(out)) ASSERT_EQ(out, numbered(next_pop++));
  EXPECT_EQ(next_pop, 1000u);
  EXPECT_EQ(queue.dropped(), 0u);
}

TEST(LogQueue, PopIntoAppendsBatchesAndTerminatesLines) {
  LogQueue queue(8);
  queue.tryPush("one\n");
  queue.tryPush("two");  // a missing newline is added on the way out
  queue.tryPush("");
  queue.tryPush("four\n");
  std::string out = "old:";
  EXPECT_EQ(queue.popInto(out, 1), 1u);  // the byte budget is already spent, but one line always moves
  EXPECT_EQ(out, "old:one\n");
  EXPECT_EQ(queue.popInto(out, 9), 1u);  // stops once out.size() reaches the budget
  EXPECT_EQ(out, "old:one\ntwo\n");
  EXPECT_EQ(queue.popInto(out, 1000), 2u);
  EXPECT_EQ(out, "old:one\ntwo\n\nfour\n");
  EXPECT_EQ(queue.popInto(out, 1000), 0u);
}

TEST(LogQueue, ConcurrentProducerAndConsumerKeepOrder) {
  constexpr uint64_t kLines = 200000;
  LogQueue queue(64);
  std::thread producer([&] {
    for (uint64_t n = 0; n < kLines; ++n) {
      while (!queue.tryPush(numbered(n))) std::this_thread::yield();  // retried pushes count as drops
    }
  });
  std::string batch;
  uint64_t expected = 0;
  while (expected < kLines) {
    batch.clear();
    if (queue.popInto(batch, 4096) == 0) {
      std::this_thread::yield();
      continue;
    }
    for (size_t pos = 0; pos < batch.size();) {
      const size_t end = batch.find('\n', pos) + 1;
      ASSERT_EQ(batch.substr(pos, end - pos), numbered(expected)) << "at line " << expected;
      ++expected;
      pos = end;
    }
  }
  producer.join();
  EXPECT_EQ(queue.sizeApprox(), 0u);
}

}  // namespace
}  // namespace tether::log
