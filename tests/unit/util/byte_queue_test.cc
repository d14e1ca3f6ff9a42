// ByteQueue: bytes come out in the order they went in, whatever the sizes of appends and takes, including across
// the compaction that keeps the string from growing while a reader keeps up.

#include "util/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace tether::util {
namespace {

std::string takeAll(ByteQueue& queue, size_t chunk) {
  std::string out;
  std::string buf(chunk, '\0');
  while (!queue.empty()) out.append(buf.data(), queue.take(buf.data(), chunk));
  return out;
}

TEST(ByteQueue, TakesWhatWasAppendedInOrder) {
  ByteQueue queue;
  EXPECT_TRUE(queue.empty());
  queue.append("hello ", 6);
  queue.append("world", 5);
  EXPECT_EQ(queue.size(), 11u);
  char buf[4];
  EXPECT_EQ(queue.take(buf, sizeof(buf)), 4u);
  EXPECT_EQ(std::string(buf, 4), "hell");
  EXPECT_EQ(queue.size(), 7u);
  EXPECT_EQ(takeAll(queue, 100), "o world");
  EXPECT_EQ(queue.take(buf, sizeof(buf)), 0u);  // empty: nothing taken
}

TEST(ByteQueue, InterleavedAppendsAndPartialTakesKeepTheOrder) {
  // A producer that stays ahead of a slower reader: the taken prefix is compacted away on appends.
  ByteQueue queue;
  std::string expected;
  std::string got;
  char buf[7];
  for (int i = 0; i < 1000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    queue.append(piece.data(), piece.size());
    expected += piece;
    got.append(buf, queue.take(buf, i % 3 == 0 ? 2 : sizeof(buf)));
  }
  got += takeAll(queue, 5);
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(queue.empty());
}

TEST(ByteQueue, ALargeBodyPassesThrough) {
  ByteQueue queue;
  std::string body(300 * 1024, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  queue.append(body.data(), body.size());
  EXPECT_EQ(queue.size(), body.size());
  EXPECT_EQ(takeAll(queue, 16384), body);
}

}  // namespace
}  // namespace tether::util
