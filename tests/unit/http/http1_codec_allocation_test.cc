// Once its strings have grown, the codec parses further messages on the connection without heap allocation.
// Counts operator new calls around feed(); the counter is this test binary's only global state.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "http/http1_codec.h"

// GCC pairs the replaced operator new below with gtest's own delete-expressions and warns; they are one pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<size_t> g_allocations{0};

}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace tether::http {
namespace {

// Counts body bytes and messages: no allocation of its own.
class CountingCallbacks : public Http1CodecCallbacks {
 public:
  HeadAction onHead(MessageHead&) override { return HeadAction::Continue; }
  void onBody(const char*, size_t len) override { body_bytes += len; }
  bool onMessageComplete() override {
    ++messages;
    return false;
  }
  size_t body_bytes = 0;
  size_t messages = 0;
};

size_t allocationsWhileFeeding(Http1Codec& codec, const std::string& input, size_t piece) {
  const size_t before = g_allocations.load();
  for (size_t used = 0; used < input.size() && codec.status() == Http1Codec::Status::Ok;) {
    used += codec.feed(input.data() + used, std::min(piece, input.size() - used));
  }
  return g_allocations.load() - before;
}

TEST(Http1CodecAllocationTest, NoAllocationPerMessageAfterWarmUp) {
  const std::string messages =
      "GET /some/long/path/to/a/resource?with=query&and=more HTTP/1.1\r\nHost: example.com\r\n"
      "User-Agent: a-rather-long-user-agent-string/1.0 (compatible; testing)\r\nAccept: */*\r\n"
      "Cookie: session=0123456789abcdef0123456789abcdef; other=value\r\n\r\n"
      "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n0\r\nX-Checksum: 0123456789abcdef0123456789abcdef\r\n\r\n";
  CountingCallbacks callbacks;
  Http1Codec codec(Http1Codec::Kind::Request, callbacks, Http1Codec::Limits{});
  // Warm-up: the first pass grows the strings, the second the lists that keep them between messages.
  allocationsWhileFeeding(codec, messages, messages.size());
  allocationsWhileFeeding(codec, messages, messages.size());

  EXPECT_EQ(allocationsWhileFeeding(codec, messages, messages.size()), 0u);
  EXPECT_EQ(allocationsWhileFeeding(codec, messages, 1), 0u);  // spans split across feed() calls too
  EXPECT_EQ(allocationsWhileFeeding(codec, messages, 13), 0u);
  EXPECT_EQ(codec.status(), Http1Codec::Status::Ok);
  EXPECT_EQ(callbacks.messages, 10u);
  EXPECT_EQ(callbacks.body_bytes, 5 * 16u);
}

}  // namespace
}  // namespace tether::http
