// The allocator behind one nghttp2 session (nghttp2_mem): freed blocks are kept for the session's next ones.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace tether::http2 {

// nghttp2 allocates and frees ~8 fixed-size objects per stream and side (stream, outbound item, frame field array,
// received field buffers): with 10 streams in flight that overflows glibc's 7-entry per-size cache, and malloc/free
// took ~2.2k instructions per proxied h2c -> h2c request. Here a freed block goes onto a free list of its size class
// and serves the next allocation of that class. Each class keeps at most kMaxCached blocks (a burst of streams does
// not pin its peak for the connection's lifetime); blocks above kMaxClassSize go straight to malloc.
// One per session, used by its worker's thread only; outlives the session (declared before it).
class SessionMemory {
 public:
  SessionMemory() = default;
  ~SessionMemory();
  SessionMemory(const SessionMemory&) = delete;
  SessionMemory& operator=(const SessionMemory&) = delete;

  // For nghttp2_session_*_new3 (which copies the struct; `this` must stay put while the session lives).
  nghttp2_mem mem();

  void* allocate(size_t size);
  void release(void* ptr);
  void* reallocate(void* ptr, size_t size);

  static constexpr size_t kClassStep = 64;
  static constexpr size_t kMaxClassSize = 1024;
  static constexpr size_t kMaxCached = 64;

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static constexpr size_t kClasses = kMaxClassSize / kClassStep;

  std::array<FreeBlock*, kClasses> free_{};
  std::array<uint32_t, kClasses> cached_{};
};

}  // namespace tether::http2
