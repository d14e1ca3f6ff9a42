#include "http/message_head.h"

#include <gtest/gtest.h>

namespace tether::http {
namespace {

TEST(MessageHeadTest, FindIsCaseInsensitiveFirstMatch) {
  MessageHead h;
  h.headers = {{"Accept", "a"}, {"X-Dup", "1"}, {"x-dup", "2"}};
  ASSERT_NE(h.find("x-DUP"), nullptr);
  EXPECT_EQ(*h.find("x-DUP"), "1");
  EXPECT_EQ(h.find("x-du"), nullptr);
  EXPECT_EQ(h.find(""), nullptr);
}

TEST(MessageHeadTest, Path) {
  MessageHead h;
  const struct {
    const char* target;
    const char* path;
  } cases[] = {{"/", "/"},
               {"/a/b?x=1&y", "/a/b"},
               {"/a#frag", "/a"},
               {"*", "*"},
               {"http://example.com/p?q", "/p"},
               {"http://example.com", "/"},
               {"https://example.com:8443?q", "/"},
               {"", ""}};
  for (const auto& c : cases) {
    h.target = c.target;
    EXPECT_EQ(h.path(), c.path) << c.target;
  }
}

TEST(MessageHeadTest, ClearResetsAndReusesStringCapacity) {
  MessageHead h;
  h.method = "GET";
  h.status = 200;
  h.keep_alive = false;
  h.chunked = h.upgrade = h.expect_continue = true;
  h.content_length = 3;
  h.version_minor = 0;
  Header& first = h.addHeader();
  first.name = "X-Long-Name-" + std::string(40, 'n');
  first.value = std::string(100, 'v');
  const char* value_buffer = h.headers[0].value.data();

  h.clear();
  EXPECT_TRUE(h.method.empty());
  EXPECT_TRUE(h.headers.empty());
  EXPECT_EQ(h.status, 0);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.chunked || h.upgrade || h.expect_continue);
  EXPECT_FALSE(h.content_length);
  EXPECT_EQ(h.version_minor, 1);

  Header& again = h.addHeader();
  EXPECT_TRUE(again.name.empty());
  EXPECT_TRUE(again.value.empty());
  EXPECT_GE(again.value.capacity(), 100u);
  EXPECT_EQ(again.value.data(), value_buffer);  // the same heap buffer
}

// A proxy appends headers that were not parsed (X-Forwarded-*, X-Request-Id) to the heads it reuses: the spare
// list must not grow by them on every message of a long keep-alive connection.
TEST(MessageHeadTest, SpareHeadersStayBoundedWhenHeadersAreAppendedEveryMessage) {
  MessageHead h;
  for (int message = 0; message < 1000; ++message) {
    for (int i = 0; i < 12; ++i) h.addHeader().name = "parsed";
    h.headers.push_back(Header{"X-Forwarded-For", "127.0.0.1"});  // what the rewriting does
    h.headers.push_back(Header{"X-Request-Id", std::string(32, 'a')});
    h.clear();
    ASSERT_LE(h.spareHeaders(), MessageHead::kMaxSpareHeaders) << "after message " << message;
  }
  EXPECT_GE(h.spareHeaders(), 14u);  // still keeps a whole head's worth for reuse
}

// An HTTP/2 upstream stream rebuilds its response head in place: the scalars reset, the fields stay for the
// caller to assign over, and the count is cut afterwards with the extras' strings kept as spares.
TEST(MessageHeadTest, ClearKeepingHeadersThenTruncateKeepsStringsForReuse) {
  MessageHead h;
  h.status = 204;
  h.content_length = 7;
  h.keep_alive = false;
  h.headers = {{"content-type", "text/plain"}, {"x-extra", std::string(100, 'v')}, {"x-more", "1"}};
  const char* kept_name = h.headers[0].name.data();
  const char* extra_value = h.headers[1].value.data();

  h.clearKeepingHeaders();
  EXPECT_EQ(h.status, 0);
  EXPECT_FALSE(h.content_length);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(h.headers.size(), 3u);  // untouched until truncated
  h.headers[0].name.assign("content-type");
  h.headers[0].value.assign("application/json");
  EXPECT_EQ(h.headers[0].name.data(), kept_name);  // assigned over: the same buffer

  h.truncateHeaders(1);
  ASSERT_EQ(h.headers.size(), 1u);
  EXPECT_EQ(h.headers[0].value, "application/json");
  EXPECT_EQ(h.spareHeaders(), 2u);
  h.truncateHeaders(5);  // beyond the size: nothing happens
  EXPECT_EQ(h.headers.size(), 1u);
  // Spares come back in field order: the next field 1 gets the old field 1's buffer.
  Header& again = h.addHeader();
  EXPECT_TRUE(again.value.empty());
  EXPECT_EQ(again.value.data(), extra_value);
}

}  // namespace
}  // namespace tether::http
