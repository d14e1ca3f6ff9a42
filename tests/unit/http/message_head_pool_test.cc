// MessageHeadPool: a head given back comes out empty, with its storage warm (the field strings reused), and the
// pool keeps at most its cap.

#include "http/message_head_pool.h"

#include <gtest/gtest.h>

namespace tether::http {
namespace {

TEST(MessageHeadPool, AReleasedHeadComesBackEmptyWithItsFieldStorage) {
  MessageHeadPool pool;
  MessageHead head = pool.acquire();
  head.method = "GET";
  head.target = "/a";
  head.content_length = 5;
  head.appendHeader("user-agent", "a client whose name is longer than the small-string buffer");
  const char* storage = head.headers[0].value.data();
  pool.release(std::move(head));
  EXPECT_EQ(pool.spare(), 1u);

  MessageHead next = pool.acquire();
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_TRUE(next.method.empty());
  EXPECT_TRUE(next.target.empty());
  EXPECT_TRUE(next.headers.empty());
  EXPECT_FALSE(next.content_length.has_value());
  const Header& field = next.appendHeader("user-agent", "another client, also longer than the small buffer");
  EXPECT_EQ(field.value, "another client, also longer than the small buffer");
  EXPECT_EQ(field.value.data(), storage);  // the released head's string, no new allocation
}

TEST(MessageHeadPool, KeepsAtMostItsCap) {
  MessageHeadPool pool(2);
  for (int i = 0; i < 3; ++i) pool.release(MessageHead{});
  EXPECT_EQ(pool.spare(), 2u);
  EXPECT_TRUE(pool.acquire().headers.empty());
  EXPECT_TRUE(pool.acquire().headers.empty());
  EXPECT_TRUE(pool.acquire().headers.empty());  // none left: a new head
  EXPECT_EQ(pool.spare(), 0u);
}

}  // namespace
}  // namespace tether::http
