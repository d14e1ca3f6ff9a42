#include "http2/session_memory.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace tether::http2 {
namespace {

// Every block starts with this header (16 bytes, so the caller's part keeps malloc's alignment): the usable size,
// which also names the size class (a multiple of kClassStep up to kMaxClassSize) or marks a plain malloc block.
struct alignas(16) BlockHeader {
  size_t capacity;
};
static_assert(sizeof(BlockHeader) == 16);

BlockHeader* headerOf(void* ptr) { return static_cast<BlockHeader*>(ptr) - 1; }

SessionMemory& memory(void* user) { return *static_cast<SessionMemory*>(user); }

}  // namespace

SessionMemory::~SessionMemory() {
  for (FreeBlock* head : free_) {
    while (head) {
      FreeBlock* next = head->next;
      std::free(headerOf(head));
      head = next;
    }
  }
}

nghttp2_mem SessionMemory::mem() {
  nghttp2_mem m{};
  m.mem_user_data = this;
  m.malloc = [](size_t size, void* user) { return memory(user).allocate(size); };
  m.free = [](void* ptr, void* user) { memory(user).release(ptr); };
  m.calloc = [](size_t count, size_t size, void* user) -> void* {
    if (size != 0 && count > SIZE_MAX / size) return nullptr;
    void* ptr = memory(user).allocate(count * size);
    if (ptr) std::memset(ptr, 0, count * size);
    return ptr;
  };
  m.realloc = [](void* ptr, size_t size, void* user) { return memory(user).reallocate(ptr, size); };
  return m;
}

void* SessionMemory::allocate(size_t size) {
  const size_t capacity = size == 0 ? kClassStep : (size + kClassStep - 1) / kClassStep * kClassStep;
  if (capacity <= kMaxClassSize) {
    const size_t cls = capacity / kClassStep - 1;
    if (FreeBlock* block = free_[cls]) {
      free_[cls] = block->next;
      --cached_[cls];
      return block;
    }
  }
  // Above kMaxClassSize the capacity is the size asked for: only the class sizes are ever rounded up.
  const size_t usable = capacity <= kMaxClassSize ? capacity : size;
  auto* header = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + usable));
  if (!header) return nullptr;
  header->capacity = usable;
  return header + 1;
}

void SessionMemory::release(void* ptr) {
  if (!ptr) return;
  BlockHeader* header = headerOf(ptr);
  const size_t capacity = header->capacity;
  if (capacity <= kMaxClassSize && capacity % kClassStep == 0) {
    const size_t cls = capacity / kClassStep - 1;
    if (cached_[cls] < kMaxCached) {
      auto* block = static_cast<FreeBlock*>(ptr);
      block->next = free_[cls];
      free_[cls] = block;
      ++cached_[cls];
      return;
    }
  }
  std::free(header);
}

void* SessionMemory::reallocate(void* ptr, size_t size) {
  if (!ptr) return allocate(size);
  const size_t capacity = headerOf(ptr)->capacity;
  if (size <= capacity) return ptr;
  void* grown = allocate(size);
  if (!grown) return nullptr;  // like realloc: the old block stays valid
  std::memcpy(grown, ptr, capacity);
  release(ptr);
  return grown;
}

}  // namespace tether::http2
