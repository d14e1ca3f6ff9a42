// SessionMemory, the allocator behind each nghttp2 session: blocks are reused by size class, realloc keeps the
// bytes, and a session runs a request through it (the codec tests cover the rest, every session uses it).
#include "http2/session_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace tether::http2 {
namespace {

TEST(SessionMemory, AFreedBlockServesTheNextAllocationOfItsClass) {
  SessionMemory memory;
  void* first = memory.allocate(100);
  ASSERT_NE(first, nullptr);
  memory.release(first);
  EXPECT_EQ(memory.allocate(120), first) << "100 and 120 bytes share the 128-byte class";
  void* other = memory.allocate(300);
  EXPECT_NE(other, first);
  memory.release(other);
  memory.release(first);
}

TEST(SessionMemory, BlocksKeepMallocsAlignment) {
  SessionMemory memory;
  std::vector<void*> blocks;
  for (size_t size : {1u, 16u, 63u, 64u, 65u, 1000u, 1024u, 1025u, 5000u}) {
    void* ptr = memory.allocate(size);
    ASSERT_NE(ptr, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ptr) % 16, 0u) << size;
    std::memset(ptr, 0xab, size);  // the whole size is usable (ASan checks the large ones)
    blocks.push_back(ptr);
  }
  for (void* ptr : blocks) memory.release(ptr);
}

TEST(SessionMemory, ReallocateKeepsTheBytes) {
  SessionMemory memory;
  auto* bytes = static_cast<char*>(memory.allocate(10));
  std::memcpy(bytes, "0123456789", 10);
  EXPECT_EQ(memory.reallocate(bytes, 60), bytes) << "still inside its 64-byte class";
  auto* grown = static_cast<char*>(memory.reallocate(bytes, 4000));
  ASSERT_NE(grown, nullptr);
  EXPECT_EQ(std::memcmp(grown, "0123456789", 10), 0);
  auto* again = static_cast<char*>(memory.reallocate(grown, 8000));
  EXPECT_EQ(std::memcmp(again, "0123456789", 10), 0);
  memory.release(again);
  void* fresh = memory.reallocate(nullptr, 32);  // like malloc
  EXPECT_NE(fresh, nullptr);
  memory.release(fresh);
}

TEST(SessionMemory, AnNghttp2SessionRunsOnIt) {
  SessionMemory memory;
  nghttp2_session_callbacks* callbacks = nullptr;
  ASSERT_EQ(nghttp2_session_callbacks_new(&callbacks), 0);
  nghttp2_mem mem = memory.mem();
  nghttp2_session* session = nullptr;
  ASSERT_EQ(nghttp2_session_client_new3(&session, callbacks, nullptr, nullptr, &mem), 0);
  nghttp2_session_callbacks_del(callbacks);
  const char* names[] = {":method", ":scheme", ":path", ":authority", "x-request-id"};
  const char* values[] = {"GET", "http", "/", "example.test", "0123456789abcdef0123456789abcdef"};
  nghttp2_nv nv[5];
  for (int i = 0; i < 5; ++i) {
    nv[i] = {reinterpret_cast<uint8_t*>(const_cast<char*>(names[i])),
             reinterpret_cast<uint8_t*>(const_cast<char*>(values[i])), std::strlen(names[i]), std::strlen(values[i]),
             NGHTTP2_NV_FLAG_NONE};
  }
  size_t sent = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) ASSERT_GT(nghttp2_submit_request(session, nullptr, nv, 5, nullptr, nullptr), 0);
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;) sent += static_cast<size_t>(n);
  }
  EXPECT_GT(sent, 0u);
  nghttp2_session_del(session);  // frees every stream and queued frame into `memory`, which then frees them
}

}  // namespace
}  // namespace tether::http2
